"""Fit and engagement arithmetic: pure, explainable, with exponential decay of engagement."""

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from services.scorer.domain.rules import ScoringRules
from shared.events.models import ScoreFactor
from shared.events.vocabulary import ActivityType, Segment

if TYPE_CHECKING:  # the model module imports this one
    from services.scorer.domain.model import LeadModel


@dataclass(frozen=True)
class Profile:
    """What the scorer knows of a lead at capture time. `name`, `email` and `campaign` are not scored: they say
    who a worklist entry is and where it came from."""

    name: str | None = None
    email: str | None = None
    campaign: str | None = None
    job_title: str | None = None
    company: str | None = None
    free_mail: bool | None = None
    phone: str | None = None
    country: str | None = None
    industry: str | None = None
    employees: int | None = None
    email_domain: str | None = None
    source: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)


def combined(own: Profile, merged: Sequence[Profile]) -> Profile:
    """A lead's profile with what the leads merged into it know filling its gaps; its own facts win."""
    result = own
    for other in merged:
        gaps = {
            name: value
            for name, value in other.__dict__.items()
            if name != "answers" and value is not None and getattr(result, name) is None
        }
        result = replace(result, **gaps, answers={**other.answers, **result.answers})
    return result


@dataclass(frozen=True)
class Activity:
    """One engagement, as the scorer keeps it."""

    activity_type: ActivityType
    occurred_at: datetime
    minutes: float | None = None


@dataclass(frozen=True)
class Score:
    """A lead's scores and the factors behind them."""

    fit: float
    engagement: float
    score: float
    segment: Segment
    mql: bool
    factors: tuple[ScoreFactor, ...]
    probability: float | None = None
    model_version: int | None = None
    grade: str = "D4"


def grade_for(fit: float, engagement: float, rules: ScoringRules) -> str:
    """The grade grid's cell: fit A (best) to D, engagement 1 (most engaged) to 4; "A1" is who to call first."""
    letter = next((g for g, at in sorted(rules.grades.fit.items()) if fit >= at), "D")
    number = next((g for g, at in sorted(rules.grades.engagement.items()) if engagement >= at), "4")
    return letter + number


def fit_score(profile: Profile, rules: ScoringRules) -> tuple[float, list[ScoreFactor]]:
    """0-100 points for who the lead is."""
    r = rules.fit
    factors: list[ScoreFactor] = []
    if profile.free_mail is True:
        factors.append(ScoreFactor(kind="fit", name="free_mail", points=r.free_mail, reason="free-mail address"))
    elif profile.free_mail is False:
        factors.append(
            ScoreFactor(kind="fit", name="business_email", points=r.business_email, reason="company email domain")
        )
    if profile.company:
        factors.append(
            ScoreFactor(kind="fit", name="company_named", points=r.company_named, reason=f"works at {profile.company}")
        )
    if profile.phone:
        factors.append(ScoreFactor(kind="fit", name="phone_given", points=r.phone_given, reason="gave a phone number"))
    if profile.country:
        factors.append(
            ScoreFactor(kind="fit", name="country_given", points=r.country_given, reason=f"in {profile.country}")
        )
    factors += _title_factors(profile.job_title, rules)
    factors += _company_factors(profile, rules)
    return _clamp(sum(f.points for f in factors)), factors


def engagement_score(activities: list[Activity], rules: ScoringRules, now: datetime) -> tuple[float, list[ScoreFactor]]:
    """0-100 points for what the lead did, each activity fading with its age, each kind capped."""
    r = rules.engagement
    totals: dict[ActivityType, float] = defaultdict(float)
    counts: dict[ActivityType, int] = defaultdict(int)
    for activity in activities:
        rule = r.activities.get(activity.activity_type)
        if rule is None:
            continue
        age_days = max(0.0, (now - activity.occurred_at).total_seconds() / 86_400)
        decay = _decay(age_days, rules)
        points = rule.points + rule.per_minute * (activity.minutes or 0)
        totals[activity.activity_type] += points * decay
        counts[activity.activity_type] += 1
    factors: list[ScoreFactor] = []
    for activity_type, total in totals.items():
        cap = r.activities[activity_type].cap
        capped = min(total, cap) if cap >= 0 else max(total, cap)
        note = " (capped)" if capped != total else ""
        factors.append(
            ScoreFactor(
                kind="engagement",
                name=activity_type.value,
                points=round(capped, 2),
                reason=f"{counts[activity_type]} × {activity_type.value.replace('_', ' ')}, decayed{note}",
            )
        )
    return _clamp(sum(f.points for f in factors)), factors


def _decay(age_days: float, rules: ScoringRules) -> float:
    r = rules.engagement
    if r.decay == "linear":
        return max(0.0, 1 - age_days / r.linear_days)
    return math.pow(0.5, age_days / r.half_life_days)


def _title_factors(job_title: str | None, rules: ScoringRules) -> list[ScoreFactor]:
    """The first matching seniority and the first matching function of a job title."""
    if not job_title:
        return []
    factors = []
    for kind, patterns in (("seniority", rules.fit.seniority), ("function", rules.fit.functions)):
        for rule in patterns:
            if re.search(rule.pattern, job_title, flags=re.IGNORECASE):
                label = rule.name.replace("_", " ")
                factors.append(
                    ScoreFactor(
                        kind="fit",
                        name=f"{kind}.{rule.name}",
                        points=rule.points,
                        reason=f"job title {job_title!r} reads as {label} ({kind})",
                    )
                )
                break
    return factors


def _company_factors(profile: Profile, rules: ScoringRules) -> list[ScoreFactor]:
    """Industry, target country, competitor domain, size band and revenue band."""
    r = rules.fit
    factors = []
    if r.industries and r.industries.matches(profile.industry):
        factors.append(
            ScoreFactor(kind="fit", name="industry", points=r.industries.points, reason=f"industry {profile.industry}")
        )
    if r.target_countries and r.target_countries.matches(profile.country):
        factors.append(
            ScoreFactor(
                kind="fit",
                name="target_country",
                points=r.target_countries.points,
                reason=f"{profile.country} is a country we sell to",
            )
        )
    if r.competitor_domains and r.competitor_domains.matches(profile.email_domain):
        factors.append(
            ScoreFactor(
                kind="fit",
                name="competitor",
                points=r.competitor_domains.points,
                reason=f"{profile.email_domain} is a competitor's domain",
            )
        )
    bands = (
        (
            "company_size",
            r.company_size,
            float(profile.employees) if profile.employees is not None else None,
            "employees",
        ),
        ("annual_revenue", r.annual_revenue, _amount(profile.answers.get(r.revenue_answer)), "annual revenue"),
    )
    for name, band_rules, value, noun in bands:
        band = next((b for b in band_rules if value is not None and b.contains(value)), None)
        if band is not None:
            factors.append(
                ScoreFactor(
                    kind="fit",
                    name=f"{name}.{band.label}",
                    points=band.points,
                    reason=f"{noun} {value:,.0f}: {band.label}",
                )
            )
    return factors


_SUFFIX = {"k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9, "bn": 1e9}


def _amount(text: str | None) -> float | None:
    """A money answer: "5000000", "$5M", "2.5 bn", "750k"; the lower bound of a range like "1M-5M"."""
    if not text:
        return None
    match = re.search(r"(\d[\d,]*(?:\.\d+)?)\s*(bn|mm|[kmb])?\b", text.lower())
    if not match:
        return None
    return float(match.group(1).replace(",", "")) * _SUFFIX.get(match.group(2) or "", 1)


def score_lead(profile: Profile, activities: list[Activity], rules: ScoringRules, now: datetime) -> Score:
    """Combine fit and engagement into a score, a segment and the MQL verdict."""
    fit, fit_factors = fit_score(profile, rules)
    engagement, engagement_factors = engagement_score(activities, rules, now)
    combined = round(rules.weights.fit * fit + rules.weights.engagement * engagement, 2)
    return Score(
        fit=round(fit, 2),
        engagement=round(engagement, 2),
        score=combined,
        segment=segment_for(combined, rules),
        mql=combined >= rules.mql_threshold,
        factors=tuple(fit_factors + engagement_factors),
        grade=grade_for(fit, engagement, rules),
    )


def segment_for(score: float, rules: ScoringRules) -> Segment:
    """Hot, warm or cold by the configured thresholds."""
    if score >= rules.segments.hot:
        return Segment.HOT
    if score >= rules.segments.warm:
        return Segment.WARM
    return Segment.COLD


def _clamp(points: float) -> float:
    return max(0.0, min(100.0, points))


def with_model(
    scores: list[Score], rows: list[dict[str, str | float]], model: "LeadModel | None", version: int | None
) -> list[Score]:
    """Add the model's probability and its strongest reasons to rules scores, all leads in one prediction."""
    if model is None or not scores:
        return scores
    explained = model.explain(rows)
    return [
        replace(
            score,
            probability=round(probability, 4),
            model_version=version,
            factors=tuple(f for f in score.factors if f.kind != "model") + tuple(factors),
        )
        for score, (probability, factors) in zip(scores, explained, strict=True)
    ]
