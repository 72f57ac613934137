"""Fit and engagement arithmetic: pure, explainable, with exponential decay of engagement."""

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from services.scorer.domain.rules import ScoringRules
from shared.events.models import ScoreFactor
from shared.events.vocabulary import ActivityType, Segment


@dataclass(frozen=True)
class Profile:
    """What the scorer knows of a lead at capture time."""

    job_title: str | None = None
    company: str | None = None
    free_mail: bool | None = None
    phone: str | None = None
    country: str | None = None


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
    if profile.job_title:
        for rule in r.seniority:
            if re.search(rule.pattern, profile.job_title, flags=re.IGNORECASE):
                factors.append(
                    ScoreFactor(
                        kind="fit",
                        name=f"seniority.{rule.name}",
                        points=rule.points,
                        reason=f"job title {profile.job_title!r} reads as {rule.name.replace('_', ' ')}",
                    )
                )
                break
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
        decay = math.pow(0.5, age_days / r.half_life_days)
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
