"""The evidence form as the qualifier's API takes it: key/value rows, values read as numbers or yes/no."""

from typing import Any

# Keys the default qualification rules read (services/rules/default.yaml): offered as suggestions, not a limit.
SUGGESTED_KEYS = (
    "pain",
    "need",
    "product",
    "budget",
    "authority",
    "decision_maker",
    "timeline_days",
    "use_case",
    "employees",
    "icp_industry",
    "compatible_stack",
)


class FormError(ValueError):
    """The form cannot become evidence; the message says which field."""


def evidence_from(keys: list[str], values: list[str]) -> dict[str, Any]:
    """Rows with a key become evidence; a row with a key and no value is refused rather than guessed."""
    evidence: dict[str, Any] = {}
    for index, (typed_key, typed_value) in enumerate(zip(keys, values, strict=False), start=1):
        key, raw = typed_key.strip(), typed_value.strip()
        if not key and not raw:
            continue
        if not key:
            raise FormError(f"row {index} has a value but no key")
        if not raw:
            raise FormError(f"row {index} ({key}) has no value")
        evidence[key] = _value(raw)
    if not evidence:
        raise FormError("fill in at least one key and its value")
    return evidence


def _value(raw: str) -> str | float | bool:
    lowered = raw.lower()
    if lowered in ("yes", "true"):
        return True
    if lowered in ("no", "false"):
        return False
    try:
        number = float(raw.replace(",", ""))
    except ValueError:
        return raw
    return int(number) if number.is_integer() and abs(number) < 2**53 else number
