from datetime import UTC, datetime, timedelta

import pytest

from services.rules import DEFAULT_RULES
from services.scorer.domain.rules import ScoringRules
from services.scorer.domain.scoring import Activity, Profile, engagement_score, fit_score, score_lead, segment_for
from shared.events.vocabulary import ActivityType, Segment
from shared.rules import load_rules_section

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules() -> ScoringRules:
    return load_rules_section(DEFAULT_RULES, "scoring", ScoringRules)[0]


def test_executive_with_company_email_fits_well(rules: ScoringRules) -> None:
    fit, factors = fit_score(Profile(job_title="Chief Revenue Officer", company="Acme", free_mail=False), rules)
    assert fit == 25 + 15 + 40 + 5  # business email, company, executive, revenue function
    assert {"seniority.executive", "function.revenue"} <= {f.name for f in factors}


def test_student_on_free_mail_fits_poorly(rules: ScoringRules) -> None:
    fit, factors = fit_score(Profile(job_title="Student", free_mail=True), rules)
    assert fit == 0  # -10 - 30 clamps at zero
    assert {f.name for f in factors} == {"free_mail", "seniority.student"}


def test_first_matching_seniority_wins(rules: ScoringRules) -> None:
    _, factors = fit_score(Profile(job_title="Director, Head of Sales"), rules)
    assert [f.name for f in factors] == ["seniority.vice_president", "function.revenue"]


def test_fresh_activity_counts_fully_and_halves_after_the_half_life(rules: ScoringRules) -> None:
    fresh, _ = engagement_score([Activity(ActivityType.FORM_SUBMITTED, NOW)], rules, NOW)
    old, _ = engagement_score([Activity(ActivityType.FORM_SUBMITTED, NOW - timedelta(days=30))], rules, NOW)
    assert fresh == 15
    assert old == pytest.approx(7.5)


def test_each_activity_kind_is_capped(rules: ScoringRules) -> None:
    many = [Activity(ActivityType.FORM_SUBMITTED, NOW)] * 10
    points, factors = engagement_score(many, rules, NOW)
    assert points == 45
    assert "capped" in factors[0].reason


def test_minutes_attended_add_points(rules: ScoringRules) -> None:
    points, _ = engagement_score([Activity(ActivityType.WEBINAR_ATTENDED, NOW, minutes=40)], rules, NOW)
    assert points == 20 + 0.5 * 40


def test_unsubscribe_pulls_engagement_down(rules: ScoringRules) -> None:
    acts = [Activity(ActivityType.DEMO_REQUESTED, NOW), Activity(ActivityType.UNSUBSCRIBED, NOW)]
    points, _ = engagement_score(acts, rules, NOW)
    assert points == 45 - 40


def test_combined_score_segment_and_mql(rules: ScoringRules) -> None:
    profile = Profile(job_title="VP Sales", company="Acme", free_mail=False, country="US")
    score = score_lead(profile, [Activity(ActivityType.DEMO_REQUESTED, NOW)], rules, NOW)
    assert score.fit == 25 + 15 + 5 + 35 + 5 + 5  # …, country given, VP, revenue function, target country
    assert score.engagement == 45
    assert score.score == 67.5
    assert score.segment is Segment.HOT
    assert score.mql is True


@pytest.mark.parametrize(
    ("value", "segment"), [(65, Segment.HOT), (64.99, Segment.WARM), (35, Segment.WARM), (0, Segment.COLD)]
)
def test_segment_thresholds_are_inclusive(rules: ScoringRules, value: float, segment: Segment) -> None:
    assert segment_for(value, rules) is segment


def test_future_activity_does_not_gain_points(rules: ScoringRules) -> None:
    points, _ = engagement_score([Activity(ActivityType.FORM_SUBMITTED, NOW + timedelta(days=3))], rules, NOW)
    assert points == 15


def test_company_facts_add_industry_size_revenue_and_competitor_points(rules: ScoringRules) -> None:
    profile = Profile(
        industry="SaaS",
        employees=350,
        country="DE",
        email_domain="hubspot.com",
        answers={"annual_revenue": "$12.5M"},
    )
    _, factors = fit_score(profile, rules)
    points = {f.name: f.points for f in factors}
    assert points["industry"] == 10
    assert points["company_size.mid_market"] == 10
    assert points["annual_revenue.1m_to_50m"] == 5
    assert points["target_country"] == 5
    assert points["competitor"] == -60
    assert "12,500,000" in next(f.reason for f in factors if f.name.startswith("annual_revenue"))


@pytest.mark.parametrize(("answer", "band"), [("750k", "under_1m"), ("2.5 bn", "over_50m"), ("1,000,000", "1m_to_50m")])
def test_revenue_answers_are_read_with_their_suffix(rules: ScoringRules, answer: str, band: str) -> None:
    _, factors = fit_score(Profile(answers={"annual_revenue": answer}), rules)
    assert [f.name for f in factors] == [f"annual_revenue.{band}"]


def test_linear_decay_reaches_zero_after_its_period(rules: ScoringRules) -> None:
    linear = rules.model_copy(
        update={"engagement": rules.engagement.model_copy(update={"decay": "linear", "linear_days": 60})}
    )
    acts = [Activity(ActivityType.MEETING_BOOKED, NOW - timedelta(days=30))]
    half, _ = engagement_score(acts, linear, NOW)
    gone, _ = engagement_score(acts, linear, NOW + timedelta(days=30))
    assert half == pytest.approx(35 / 2)
    assert gone == 0
