"""The shipped frameworks on edge cases, the stage decision, and routing."""

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.qualifier.bootstrap import load_rules
from services.qualifier.domain.frameworks import CriterionVerdict, FrameworkResult, evaluate_framework
from services.qualifier.domain.routing import assign
from services.qualifier.domain.stages import ALLOWED, Situation, decide
from services.rules import DEFAULT_RULES
from shared.events.vocabulary import CriterionOutcome as O
from shared.events.vocabulary import LeadStage as S

RULES = load_rules(DEFAULT_RULES)
FRAMEWORKS = RULES.qualification.frameworks

IDEAL: dict[str, Any] = {
    "company.industry": "Software",
    "company.employees": 250,
    "company.country": "DE",
    "contact.email_domain": "acme.de",
    "contact.seniority": "vice_president",
    "answers.use_case": "route inbound leads",
    "answers.crm": "HubSpot",
}


def three_stage(facts: dict[str, Any]) -> FrameworkResult:
    return evaluate_framework("three_stage", FRAMEWORKS["three_stage"], facts)


def test_ideal_lead_passes_all_three_stages() -> None:
    result = three_stage(IDEAL)
    assert result.passed, result.criteria
    assert result.stages == {"organisation": O.PASS, "opportunity": O.PASS, "stakeholder": O.PASS}


def test_missing_fields_leave_stages_unknown_not_failed() -> None:
    result = three_stage({"company.industry": "Software"})
    assert not result.passed and not result.failed
    assert "organisation.size" in result.unknown() and "stakeholder.authority" in result.unknown()


def test_conflicting_evidence_rep_authority_outweighs_a_junior_title() -> None:
    junior = IDEAL | {"contact.seniority": "individual"}
    assert three_stage(junior).stages["stakeholder"] is O.UNKNOWN
    assert three_stage(junior | {"evidence.authority": "yes"}).stages["stakeholder"] is O.PASS
    # A "no" on authority leaves the stakeholder stage open: a linked decision maker can still be found.
    no = junior | {"evidence.authority": "no"}
    assert three_stage(no).stages["stakeholder"] is O.UNKNOWN
    assert three_stage(no | {"evidence.decision_maker": "Jane Roe, CFO"}).stages["stakeholder"] is O.PASS


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"contact.seniority": "student"}, "not_student"),
        ({"contact.email_domain": "hubspot.com"}, "not_competitor"),
        ({"company.industry": "Gambling"}, "not_excluded"),
    ],
)
def test_hard_fails_are_reported_with_evidence(change: dict[str, Any], why: str) -> None:
    result = three_stage(IDEAL | change)
    assert [h.criterion.rsplit(".", 1)[1] for h in result.hard_fails] == [why]
    assert result.hard_fails[0].evidence


def test_too_small_company_fails_organisation_without_disqualifying() -> None:
    result = three_stage(IDEAL | {"company.employees": 5})
    assert result.stages["organisation"] is O.FAIL and not result.hard_fails


def test_pif_interest_from_webinar_minutes_and_fit_from_budget_band() -> None:
    pif = FRAMEWORKS["pif"]
    facts = {
        "evidence.pain": "manual routing",
        "activity.webinar_minutes": 45,
        "evidence.product": "Growth",
        "evidence.budget": 12000,
    }
    assert evaluate_framework("pif", pif, facts).passed
    assert evaluate_framework("pif", pif, facts | {"activity.webinar_minutes": 10}).stages["interest"] is O.UNKNOWN
    assert evaluate_framework("pif", pif, facts | {"evidence.budget": 5000}).stages["fit"] is O.FAIL


def test_bant_is_a_full_alternative() -> None:
    bant = FRAMEWORKS["bant"]
    facts = {
        "evidence.budget": 50000,
        "contact.seniority": "executive",
        "evidence.need": "x",
        "evidence.timeline_days": 90,
    }
    assert evaluate_framework("bant", bant, facts).passed
    assert evaluate_framework("bant", bant, facts | {"evidence.timeline_days": 400}).stages["timeline"] is O.FAIL


def result(stages: dict[str, O], hard: bool = False) -> FrameworkResult:
    hard_fails = [CriterionVerdict(framework="f", criterion="s.c", outcome=O.FAIL, evidence="student")] if hard else []
    return FrameworkResult("f", stages, [], hard_fails)


PASS = result({"a": O.PASS})
UNKNOWN = result({"a": O.UNKNOWN})
FAIL = result({"a": O.FAIL})


def test_a_qualified_mql_becomes_prospect_then_opportunity_in_one_evaluation() -> None:
    moves = decide(Situation(S.LEAD, mql=True, score=70, qualification=PASS, opportunity=PASS))
    assert [m.target for m in moves] == [S.MQL, S.PROSPECT, S.OPPORTUNITY]


def test_hard_fail_disqualifies_and_is_undone_when_the_evidence_changes() -> None:
    moves = decide(
        Situation(S.MQL, mql=True, score=70, qualification=result({"a": O.FAIL}, hard=True), opportunity=UNKNOWN)
    )
    assert [m.target for m in moves] == [S.DISQUALIFIED] and "student" in moves[0].reason
    back = decide(Situation(S.DISQUALIFIED, mql=False, score=20, qualification=UNKNOWN, opportunity=UNKNOWN))
    assert [m.target for m in back] == [S.LEAD]


def test_prospect_goes_back_when_qualification_fails() -> None:
    moves = decide(Situation(S.PROSPECT, mql=True, score=70, qualification=FAIL, opportunity=UNKNOWN))
    assert [m.target for m in moves] == [S.MQL]


def test_stalled_lead_goes_to_nurture_and_comes_back_on_activity() -> None:
    moves = decide(Situation(S.MQL, mql=True, score=60, qualification=UNKNOWN, opportunity=UNKNOWN, stalled_days=45))
    assert [m.target for m in moves] == [S.NURTURE] and "45 days" in moves[0].reason
    back = decide(Situation(S.NURTURE, mql=True, score=60, qualification=UNKNOWN, opportunity=UNKNOWN))
    assert [m.target for m in back] == [S.MQL]


def test_deals_are_left_to_reps() -> None:
    for stage in (S.OPPORTUNITY, S.CUSTOMER, S.CLOSED_LOST):
        assert decide(Situation(stage, mql=False, score=0, qualification=FAIL, opportunity=FAIL, stalled_days=99)) == []


outcomes = st.sampled_from(list(O))
framework_results = st.builds(
    lambda a, b, hard: result({"a": a, "b": b}, hard=hard and O.FAIL in (a, b)), outcomes, outcomes, st.booleans()
)


@settings(max_examples=400)
@given(
    st.sampled_from(list(S)),
    st.lists(
        st.tuples(st.booleans(), framework_results, framework_results, st.one_of(st.none(), st.floats(30, 400))),
        min_size=1,
        max_size=12,
    ),
)
def test_no_sequence_of_events_makes_an_illegal_transition(
    start: S, events: list[tuple[bool, FrameworkResult, FrameworkResult, float | None]]
) -> None:
    stage = start
    for mql, qualification, opportunity, stalled in events:
        for move in decide(
            Situation(
                stage, mql=mql, score=50, qualification=qualification, opportunity=opportunity, stalled_days=stalled
            )
        ):
            assert move.target in ALLOWED[stage], (stage, move)
            stage = move.target


def test_routing_by_segment_then_territory_with_round_robin_and_capacity() -> None:
    routing = RULES.routing
    big = assign(
        routing, {"company.employees": 5000, "company.country": "DE"}, loads={}, position=0, inactive=frozenset()
    )
    assert (big.team, big.owner) == ("enterprise", "erin.enterprise")
    first = assign(routing, {"company.country": "FR"}, loads={}, position=0, inactive=frozenset())
    second = assign(routing, {"company.country": "FR"}, loads={}, position=first.next_position, inactive=frozenset())
    assert (first.owner, second.owner) == ("ana.emea", "ben.emea")
    full = assign(
        routing,
        {"company.country": "FR"},
        loads={"ana.emea": routing.capacity},
        position=0,
        inactive=frozenset({"ben.emea"}),
    )
    assert full.owner == "chloe.emea"
    nobody = assign(routing, {"company.country": "JP"}, loads={}, position=0, inactive=frozenset({"hiro.apac"}))
    assert nobody.owner is None and "capacity" in nobody.reason
    default = assign(routing, {}, loads={}, position=5, inactive=frozenset())
    assert default.team == "americas" and default.owner == "eva.americas"


def test_rules_version_names_the_rules() -> None:
    assert RULES.version.startswith("2026.12-default+")


def test_a_new_framework_is_configuration_only(tmp_path: Path) -> None:
    """CHAMP (challenges, authority, money, prioritisation) added in YAML, no code change."""
    champ = """
    champ:
      description: Challenges, authority, money, prioritisation
      stages:
        challenges:
          - {id: challenge, description: a challenge is named, check: {fact: evidence.pain, present: true}}
        authority:
          - id: authority
            description: decides or signs
            check: {any_of: [{fact: contact.seniority, in: [executive]}, {fact: evidence.authority, truthy: true}]}
        money:
          - {id: money, description: funds exist, check: {fact: evidence.budget, gte: 1}}
        prioritisation:
          - {id: priority, description: on this year's plan, check: {fact: evidence.priority, in: [high, critical]}}
"""
    text = DEFAULT_RULES.read_text().replace(
        "  frameworks:\n", "  frameworks:\n" + textwrap.indent(textwrap.dedent(champ), "    "), 1
    )
    text = text.replace("open_opportunity_with: pif", "open_opportunity_with: champ")
    path = tmp_path / "champ.yaml"
    path.write_text(text)
    rules = load_rules(path)
    facts = {
        "evidence.pain": "churn",
        "contact.seniority": "executive",
        "evidence.budget": 5,
        "evidence.priority": "High",
    }
    result = evaluate_framework("champ", rules.qualification.frameworks["champ"], facts)
    assert result.passed and list(result.stages) == ["challenges", "authority", "money", "prioritisation"]
    moves = decide(Situation(S.PROSPECT, mql=True, score=70, qualification=PASS, opportunity=result))
    assert [m.target for m in moves] == [S.OPPORTUNITY] and "champ:" in moves[0].reason
