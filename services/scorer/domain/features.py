"""What the predictive model sees of a lead: capture-time facts and activity counts, never a rep's later input.

Values are strings (categories) or floats (numbers); a missing fact is simply absent. Form answers become
`answer.<key>` features, numeric when every answer parses as a number (decided by the model at training time).
"""

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from services.scorer.domain.rules import ScoringRules
from services.scorer.domain.scoring import Activity, Profile
from shared.events.vocabulary import ActivityType

FeatureValue = str | float
Features = dict[str, FeatureValue]

_MAX_TEXT = 80


def lead_features(profile: Profile, activities: Iterable[Activity], rules: ScoringRules) -> Features:
    """The model's view of a lead; the rules' `model.exclude_features` are left out."""
    features: Features = {}
    categorical = {
        "source": profile.source,
        "utm_source": profile.utm_source,
        "utm_medium": profile.utm_medium,
        "industry": profile.industry,
        "country": profile.country,
        "seniority": _first_match(profile.job_title, [(r.name, r.pattern) for r in rules.fit.seniority]),
        "function": _first_match(profile.job_title, [(r.name, r.pattern) for r in rules.fit.functions]),
        "free_mail": None if profile.free_mail is None else ("yes" if profile.free_mail else "no"),
    }
    features |= {name: _category(value) for name, value in categorical.items() if value}
    if profile.employees is not None:
        features["employees"] = float(profile.employees)
    for key, answer in profile.answers.items():
        value = _number(answer)
        features[f"answer.{key}"] = value if value is not None else _category(answer)
    counts: Counter[ActivityType] = Counter()
    minutes = 0.0
    for activity in activities:
        counts[activity.activity_type] += 1
        minutes += activity.minutes or 0
    for activity_type in ActivityType:
        features[f"activity.{activity_type.value}"] = float(counts[activity_type])
    features["activity.webinar_minutes"] = minutes
    excluded = set(rules.model.exclude_features)
    return {name: value for name, value in features.items() if name not in excluded}


def is_activity(name: str) -> bool:
    """Activity counts are 0 when absent, not unknown."""
    return name.startswith("activity.")


def _first_match(title: str | None, patterns: list[tuple[str, str]]) -> str | None:
    if not title:
        return None
    return next((name for name, pattern in patterns if re.search(pattern, title, flags=re.IGNORECASE)), "other")


def _category(value: str) -> str:
    return " ".join(value.strip().lower().split())[:_MAX_TEXT]


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def describe(name: str, value: FeatureValue | None) -> str:
    """A feature as a person reads it: `answer.lead_source = google`, `activity.demo_requested = 2`."""
    if value is None:
        return f"{name} unknown"
    shown = f"{value:g}" if isinstance(value, float) else value
    return f"{name} = {shown}"


def missing_like(name: str) -> FeatureValue | None:
    """The value a feature takes when it is not known: 0 for activity counts, absent otherwise."""
    return 0.0 if is_activity(name) else None


def present(features: Mapping[str, FeatureValue]) -> list[str]:
    """The features that carry information (known values; activity counts above 0)."""
    return [name for name, value in features.items() if not (is_activity(name) and value == 0)]
