"""What adapters share once a payload is read: mapping answers, choosing the activity, building submissions."""

from datetime import UTC, datetime
from typing import Any

from services.intake.domain.capture import Submission, submission
from services.intake.domain.mapping import Answer, FieldMapping, map_answers, split_full_name
from services.intake.domain.refused import Refused
from services.intake.webhooks.payload import text
from shared.events.vocabulary import ActivityType


def activity_for(form_name: str | None, default: ActivityType = ActivityType.FORM_SUBMITTED) -> ActivityType:
    """What a form means by its name: a demo request, a download, or a plain form submission."""
    name = (form_name or "").lower()
    if "demo" in name:
        return ActivityType.DEMO_REQUESTED
    if any(word in name for word in ("download", "ebook", "e-book", "whitepaper", "white paper", "guide", "report")):
        return ActivityType.CONTENT_DOWNLOADED
    return default


def from_answers(
    answers: list[Answer],
    mapping: FieldMapping,
    *,
    provider: str,
    form_id: str | None,
    occurred_at: datetime,
    activity: ActivityType,
    extra: dict[str, Any] | None = None,
    **context: Any,
) -> Submission:
    """Map answers (form overrides first, then labels) and build the submission."""
    fields = map_answers(answers, f"{provider}:{form_id}" if form_id else None, mapping)
    for key, value in (extra or {}).items():
        found = text(value, key)
        if found is not None and not fields.get(key):
            fields[key] = found
    split_full_name(fields)
    return submission(fields, provider=provider, form_id=form_id, occurred_at=occurred_at, activity=activity, **context)


def when(value: Any, default: datetime | None = None) -> datetime:
    """A provider's timestamp (ISO 8601, Unix seconds or milliseconds) as an aware datetime."""
    if value is None or value == "":
        return default or datetime.now(UTC)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Refused(f"timestamp {value!r} is neither a number nor ISO 8601 text")
    if isinstance(value, int | float) or value.isdigit():
        number = float(value)
        try:
            return datetime.fromtimestamp(number / 1000 if number > 10_000_000_000 else number, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise Refused(f"timestamp {value!r} is out of range") from exc
    stamp = value.strip().replace("Z", "+00:00")
    if len(stamp) > 5 and stamp[-5] in "+-" and stamp[-3] != ":":  # Meta writes +0000
        stamp = stamp[:-2] + ":" + stamp[-2:]
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise Refused(f"timestamp {value!r} is not ISO 8601") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
