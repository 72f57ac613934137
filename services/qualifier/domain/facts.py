"""A lead's facts: the flat evidence base every framework criterion reads (`company.industry`, …)."""

import re
from datetime import datetime
from typing import Any

from services.qualifier.domain.titles import read_title
from shared.events.models import LeadActivity, LeadCaptured, LeadScored
from shared.events.vocabulary import ActivityType

Facts = dict[str, Any]


def with_captured(facts: Facts, payload: LeadCaptured) -> Facts:
    """What the lead told us; newer non-empty answers replace older ones."""
    title = read_title(payload.contact.job_title)
    email = str(payload.contact.email or "")
    known: Facts = {
        "contact.email_domain": email.rpartition("@")[2] or None,
        "contact.job_title": payload.contact.job_title,
        "contact.seniority": title.seniority,
        "contact.function": title.function,
        "contact.phone": payload.contact.phone,
        "company.name": payload.company.name,
        "company.domain": payload.company.domain,
        "company.industry": payload.company.industry,
        "company.size": payload.company.size,
        "company.employees": _employees(payload.company.employee_range()),
        "company.country": payload.company.country,
        "email.free_mail": payload.free_mail,
        "source.provider": payload.source.provider,
        "consent": payload.consent,
    }
    known |= {f"answers.{_key(k)}": v for k, v in payload.answers.items()}
    updated = dict(facts) | {k: v for k, v in known.items() if v is not None and v != ""}
    return _count_activity(updated, payload.via, None, payload.captured_at)


def with_activity(facts: Facts, payload: LeadActivity) -> Facts:
    """Count the activity; keep the longest webinar attendance."""
    return _count_activity(dict(facts), payload.activity_type, payload.minutes, payload.occurred_at)


def with_score(facts: Facts, payload: LeadScored) -> Facts:
    """The scorer's latest view."""
    return dict(facts) | {
        "score.total": payload.score,
        "score.fit": payload.fit,
        "score.engagement": payload.engagement,
        "score.segment": payload.segment.value,
        "score.mql": payload.mql,
    }


def with_evidence(facts: Facts, items: dict[str, Any]) -> Facts:
    """What a rep recorded; `null` withdraws a piece of evidence."""
    updated = dict(facts)
    for key, value in items.items():
        name = f"evidence.{_key(key)}"
        if value is None:
            updated.pop(name, None)
        else:
            updated[name] = value
    return updated


def _count_activity(facts: Facts, kind: ActivityType, minutes: float | None, at: datetime) -> Facts:
    name = f"activity.{kind.value}"
    facts[name] = int(facts.get(name) or 0) + 1
    if kind is ActivityType.WEBINAR_ATTENDED and minutes is not None:
        facts["activity.webinar_minutes"] = max(float(facts.get("activity.webinar_minutes") or 0), minutes)
    last = facts.get("activity.last_at")
    if last is None or at.isoformat() > str(last):
        facts["activity.last_at"] = at.isoformat()
    return facts


def _key(raw: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")


def _employees(found: tuple[int, int | None] | None) -> int | list[int | None] | None:
    """A count, or a band [at least, at most] (at most None: open-ended) that checks read as a range."""
    if found is None:
        return None
    low, high = found
    return low if high == low else [low, high]
