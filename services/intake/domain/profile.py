"""Merge a new submission into what intake already knows of a lead, without losing newer facts."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.intake.domain.capture import Submission, company_domain

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company",
    "company_size",
    "industry",
    "country",
)


def merge_profile(existing: Mapping[str, Any] | None, submission: Submission) -> dict[str, Any]:
    """Fill empty fields; overwrite a filled one only when this submission is newer than the last."""
    merged: dict[str, Any] = dict(existing or {})
    last_seen: datetime | None = merged.get("last_seen_at")
    newer = last_seen is None or submission.occurred_at >= last_seen
    for name in PROFILE_FIELDS:
        value = getattr(submission, name)
        if value is None or not str(value).strip():
            continue
        if merged.get(name) in (None, "") or newer:
            merged[name] = str(value).strip()
    merged["email"] = submission.email or merged.get("email")
    if not merged.get("external_id") and submission.external_id:
        merged["external_id"], merged["external_provider"] = submission.external_id, submission.provider
    merged["company_domain"] = company_domain(submission.email)
    merged["first_seen_at"] = min(filter(None, [merged.get("first_seen_at"), submission.occurred_at]))
    merged["last_seen_at"] = max(filter(None, [last_seen, submission.occurred_at]))
    merged["submissions"] = int(merged.get("submissions") or 0) + 1
    return merged
