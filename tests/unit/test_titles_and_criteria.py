import pytest
from pydantic import ValidationError

from services.qualifier.domain.criteria import Check, evaluate
from services.qualifier.domain.titles import read_title
from shared.events.models import Company
from shared.events.vocabulary import CriterionOutcome as O


@pytest.mark.parametrize(
    ("title", "seniority", "function"),
    [
        ("VP Eng", "vice_president", "engineering"),
        ("Head of Sales", "vice_president", "sales"),
        ("CTO", "executive", "engineering"),
        ("Intern", "student", None),
        ("Marketing Intern", "student", "marketing"),
        ("Founder & CEO", "executive", "general_management"),
        ("SVP Finance", "vice_president", "finance"),
        ("Director of IT", "director", "it"),
        ("Engineering Manager", "manager", "engineering"),
        ("Account Executive", "individual", "sales"),  # "executive" in a title is not an executive
        ("  ", None, None),
        (None, None, None),
    ],
)
def test_titles_are_read_for_seniority_and_function(
    title: str | None, seniority: str | None, function: str | None
) -> None:
    reading = read_title(title)
    assert (reading.seniority, reading.function) == (seniority, function)


@pytest.mark.parametrize(
    ("size", "employees"), [("51-200", 51), ("1,000+", 1000), ("500", 500), ("large", None), (None, None)]
)
def test_company_size_answers_are_read_as_a_lower_bound(size: str | None, employees: int | None) -> None:
    assert Company(size=size).employees() == employees


def check(spec: dict) -> Check:  # type: ignore[type-arg]
    return Check.model_validate(spec)


def test_missing_fact_is_unknown_not_pass_even_for_exclusions() -> None:
    assert evaluate(check({"fact": "company.industry", "not_in": ["gambling"]}), {}).outcome is O.UNKNOWN
    assert (
        evaluate(check({"fact": "company.industry", "not_in": ["gambling"]}), {"company.industry": "Retail"}).outcome
        is O.PASS
    )


def test_membership_ignores_case_and_space() -> None:
    verdict = evaluate(check({"fact": "company.country", "in": ["DE", "GB"]}), {"company.country": " gb "})
    assert verdict.outcome is O.PASS and "∈" in verdict.evidence


def test_nothing_said_yet_is_unknown_not_false() -> None:
    assert evaluate(check({"fact": "evidence.pain", "present": True}), {}).outcome is O.UNKNOWN
    assert evaluate(check({"fact": "evidence.pain", "present": True}), {"evidence.pain": "  "}).outcome is O.UNKNOWN
    assert evaluate(check({"fact": "evidence.pain", "present": False}), {}).outcome is O.PASS
    assert evaluate(check({"fact": "evidence.pain", "present": True}), {"evidence.pain": "churn"}).outcome is O.PASS


def test_ranges_and_numbers_in_text() -> None:
    rng = check({"fact": "evidence.budget", "gte": 10000, "lte": 100000})
    assert evaluate(rng, {"evidence.budget": "25,000"}).outcome is O.PASS
    assert evaluate(rng, {"evidence.budget": 5000}).outcome is O.FAIL
    assert evaluate(rng, {"evidence.budget": "lots"}).outcome is O.UNKNOWN
    assert evaluate(rng, {"evidence.budget": True}).outcome is O.UNKNOWN


def test_truthy_reads_yes_and_no() -> None:
    c = check({"fact": "evidence.authority", "truthy": True})
    assert evaluate(c, {"evidence.authority": "yes"}).outcome is O.PASS
    assert evaluate(c, {"evidence.authority": "no"}).outcome is O.FAIL


def test_any_of_passes_on_one_and_is_unknown_while_nothing_decides() -> None:
    c = check(
        {"any_of": [{"fact": "contact.seniority", "in": ["executive"]}, {"fact": "evidence.authority", "truthy": True}]}
    )
    assert evaluate(c, {"contact.seniority": "manager"}).outcome is O.UNKNOWN
    assert evaluate(c, {"contact.seniority": "manager", "evidence.authority": False}).outcome is O.FAIL
    passed = evaluate(c, {"contact.seniority": "manager", "evidence.authority": "yes"})
    assert passed.outcome is O.PASS and "evidence.authority" in passed.evidence


def test_all_of_fails_on_one() -> None:
    c = check({"all_of": [{"fact": "a", "present": True}, {"fact": "b", "gte": 1}]})
    assert evaluate(c, {"a": "x"}).outcome is O.UNKNOWN
    assert evaluate(c, {"a": "x", "b": 0}).outcome is O.FAIL
    assert evaluate(c, {"a": "x", "b": 2}).outcome is O.PASS


def test_first_known_lets_a_rep_outrank_the_form() -> None:
    c = check({"first_known": [{"fact": "evidence.employees", "gte": 20}, {"fact": "company.employees", "gte": 20}]})
    assert evaluate(c, {"company.employees": 5}).outcome is O.FAIL
    assert evaluate(c, {"company.employees": 5, "evidence.employees": 80}).outcome is O.PASS
    assert evaluate(c, {}).outcome is O.UNKNOWN


def test_regex_match() -> None:
    c = check({"fact": "contact.job_title", "matches": r"\bhead\b"})
    assert evaluate(c, {"contact.job_title": "Head of Ops"}).outcome is O.PASS


@pytest.mark.parametrize(
    "spec",
    [
        {"fact": "a"},
        {"fact": "a", "present": True, "gte": 1},
        {"any_of": [], "fact": "a"},
        {"present": True},
        {"fact": "a", "matches": "("},
        {"fact": "a", "equals": 3},
    ],
)
def test_malformed_checks_are_refused(spec: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError):
        Check.model_validate(spec)


@pytest.mark.parametrize(
    ("size", "band"),
    [("1-20", (1, 20)), ("51 to 200", (51, 200)), ("1,000+", (1000, None)), ("500", (500, 500)), ("large", None)],
)
def test_company_size_answers_are_read_as_a_band(size: str, band: tuple[int, int | None] | None) -> None:
    assert Company(size=size).employee_range() == band


@pytest.mark.parametrize(
    ("band", "outcome", "says"),
    [
        ([51, 200], O.PASS, "51–200, ≥ 20 and ≤ 20000"),
        ([1, 10], O.FAIL, "1–10, not ≥ 20"),
        ([1, 20], O.UNKNOWN, "1–20 may or may not be ≥ 20"),
        ([1, 50], O.UNKNOWN, "may or may not be"),
        ([10000, None], O.UNKNOWN, "10000+ may or may not be"),
        ([25000, None], O.FAIL, "25000+, not"),
        (120, O.PASS, "120"),
    ],
)
def test_a_size_band_passes_fails_or_waits_for_a_count(band: object, outcome: O, says: str) -> None:
    """A 1-50 company may be inside the ICP or not: a rep's count decides, the form's band cannot fail it."""
    verdict = evaluate(check({"fact": "company.employees", "gte": 20, "lte": 20000}), {"company.employees": band})
    assert verdict.outcome is outcome and says in verdict.evidence
