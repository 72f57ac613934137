"""The predictive model on synthetic leads whose outcome depends on known facts."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.rules import DEFAULT_RULES
from services.scorer.domain.features import Features, lead_features
from services.scorer.domain.model import Example, LeadModel, NotEnoughOutcomes, check_enough, train, validation_split
from services.scorer.domain.rules import ModelRules, ScoringRules
from services.scorer.domain.scoring import Activity, Profile
from shared.events.vocabulary import ActivityType
from shared.rules import load_rules_section

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules() -> ScoringRules:
    return load_rules_section(DEFAULT_RULES, "scoring", ScoringRules)[0]


def synthetic(rules: ScoringRules, n: int, *, spread_days: float = 0, seed: int = 1) -> list[Example]:
    """Working professionals who spent long on the site convert; the lead number is noise (and excluded)."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        occupation = rng.choice(["working professional", "student", "unemployed"])
        seconds = rng.expovariate(1 / 600)
        chance = 0.05 + 0.6 * (occupation == "working professional") + 0.3 * (seconds > 900)
        profile = Profile(
            source="import",
            country=rng.choice(["IN", "US"]),
            answers={"occupation": occupation, "time_on_website_s": f"{seconds:.0f}", "lead_number": str(i)},
        )
        acts = [Activity(ActivityType.FORM_SUBMITTED, NOW)] * rng.randint(1, 3)
        examples.append(
            Example(
                lead_id=f"{i:08d}",
                features=lead_features(profile, acts, rules),
                won=rng.random() < chance,
                captured_at=NOW + timedelta(days=spread_days * i / n),
                rules_score=rng.uniform(0, 100),
            )
        )
    return examples


def test_features_leave_out_excluded_and_after_contact_fields(rules: ScoringRules) -> None:
    profile = Profile(job_title="VP Sales", free_mail=False, answers={"lead_number": "7", "tags": "will revert"})
    features = lead_features(profile, [Activity(ActivityType.DEMO_REQUESTED, NOW)], rules)
    assert "answer.lead_number" not in features and "answer.tags" not in features
    assert features["seniority"] == "vice_president" and features["free_mail"] == "no"
    assert features["activity.demo_requested"] == 1.0


def test_model_learns_the_real_signal_beats_the_rules_and_explains_itself(rules: ScoringRules) -> None:
    trained = train(synthetic(rules, 900), rules.model)
    assert trained.metrics.auc > 0.8 > trained.rules_metrics.auc
    assert trained.better and trained.beats == "rules score"
    assert trained.metrics.top_decile_lift > 1.5
    assert 0 < trained.metrics.brier < 0.25
    assert trained.split.kind == "stratified (seed 0)"
    pro: Features = {"answer.occupation": "working professional", "answer.time_on_website_s": 1500.0}
    student: Features = {"answer.occupation": "student", "answer.time_on_website_s": 30.0}
    (p_pro, why_pro), (p_student, why_student) = trained.model.explain([pro, student])
    assert p_pro > 0.6 > 0.2 > p_student
    assert why_pro[0].name == "answer.occupation" and why_pro[0].points > 0
    assert "working professional raises the odds" in why_pro[0].reason
    assert any(f.name == "answer.occupation" and f.points < 0 for f in why_student)


def test_a_stored_model_predicts_the_same(rules: ScoringRules) -> None:
    trained = train(synthetic(rules, 400), rules.model)
    rows = [e.features for e in synthetic(rules, 20, seed=9)]
    again = LeadModel.from_bytes(trained.model.to_bytes())
    assert again.probabilities(rows) == pytest.approx(trained.model.probabilities(rows))


def test_outcomes_spread_over_time_validate_on_the_newest(rules: ScoringRules) -> None:
    examples = synthetic(rules, 300, spread_days=90)
    split = validation_split(examples, rules.model)
    assert split.kind == "time-ordered"
    newest_trained = max(examples[i].captured_at for i in split.train)
    assert all(examples[i].captured_at >= newest_trained for i in split.validation)
    assert len(split.validation) == 90


def test_too_few_outcomes_are_refused_with_how_many_more(rules: ScoringRules) -> None:
    few = synthetic(rules, 150)
    with pytest.raises(NotEnoughOutcomes, match=r"150 outcomes recorded .*: 50 more outcomes"):
        check_enough(few, rules.model)
    all_lost = [e for e in synthetic(rules, 600) if not e.won]
    with pytest.raises(NotEnoughOutcomes, match="20 more won"):
        check_enough(all_lost, ModelRules())


def test_a_new_model_must_beat_the_active_one(rules: ScoringRules) -> None:
    examples = synthetic(rules, 600)
    first = train(examples, rules.model)
    second = train(examples, rules.model, active=first.model)
    assert second.active_metrics is not None and second.beats == "active model"
    assert second.metrics.auc == pytest.approx(second.active_metrics.auc)
    assert not second.better
