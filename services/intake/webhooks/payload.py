"""Reading a provider's JSON without trusting its shape: every step either yields the expected kind or refuses.

Adapters walk payloads through these instead of `dict.get` chains, so an object where a list was expected, or a
number where an id was expected, is a clear refusal (or a value read sensibly) instead of an AttributeError.
"""

import json
import re
from typing import Any

from services.intake.domain.refused import Refused

# Real payloads nest a handful of levels (Typeform's answers: 6); deeper is not a form.
MAX_DEPTH = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def depth(body: bytes) -> int:
    """How deeply a JSON document nests arrays and objects (brackets inside strings do not count)."""
    deepest = level = 0
    for bracket in _STRINGS.sub(b'""', body).translate(None, _NOT_BRACKETS):
        level += 1 if bracket in b"[{" else -1
        if level > deepest:
            deepest = level
            if deepest > MAX_DEPTH:
                break
    return deepest


def load_json(body: bytes | str) -> Any:
    """The JSON document, refused when it is not JSON or nests deeper than MAX_DEPTH (checked before decoding,
    so a thousand levels never reach the decoder's recursion limit)."""
    raw = body.encode() if isinstance(body, str) else body
    if depth(raw) > MAX_DEPTH:
        raise Refused(f"the JSON nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Refused(f"not JSON: {exc}") from exc


def load_object(body: bytes | str) -> dict[str, Any]:
    """The body as a JSON object."""
    return obj(load_json(body), "the body")


def obj(value: Any, where: str) -> dict[str, Any]:
    """`value` as an object (absent: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused(f"{where} must be an object, not {_kind(value)}")
    return value


def items(value: Any, where: str) -> list[Any]:
    """`value` as a list (absent: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Refused(f"{where} must be a list, not {_kind(value)}")
    return value


def objects(value: Any, where: str) -> list[dict[str, Any]]:
    """The objects in the list `value` (other entries are passed over)."""
    return [entry for entry in items(value, where) if isinstance(entry, dict)]


def text(value: Any, where: str) -> str | None:
    """`value` as text: ids sent as JSON numbers read as their digits; absent or empty is None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise Refused(f"{where} must be text or a number, not {_kind(value)}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(type(value), type(value).__name__)
