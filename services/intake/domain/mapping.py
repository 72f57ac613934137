"""Map a form's answers (question id, ref or label → value) to lead fields, by configuration or by label."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.domain.identity import MatchRules

# "What's your job title?" and "Please enter your email" mean the field their last words name.
_QUESTION_WORDS = re.compile(r"^(what s |what is |whats |please enter |please provide |enter |provide )?(your )?")

LEAD_FIELDS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "job_title",
        "company",
        "company_size",
        "industry",
        "country",
        "consent",
        "utm_source",
        "utm_medium",
        "utm_campaign",
    }
)


def normalise_label(label: str) -> str:
    """`What's your Job Title?` → `what s your job title`: labels compare without case or punctuation."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", label.lower()).split())


def answer_key(label: str) -> str:
    """The key an unmapped answer is kept under: `What do you want to achieve?` → `what_do_you_want_to_achieve`."""
    return normalise_label(label).replace(" ", "_")[:64] or "answer"


class FieldMapping(BaseModel):
    """The `intake` section of the rules file: labels per lead field, and per-form overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: dict[str, list[str]] = Field(default_factory=dict)
    forms: dict[str, dict[str, str]] = Field(default_factory=dict)
    identity: MatchRules = Field(default_factory=MatchRules)

    @field_validator("labels")
    @classmethod
    def _known_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(value) - LEAD_FIELDS
        if unknown:
            raise ValueError(f"unknown lead fields {sorted(unknown)}; known: {sorted(LEAD_FIELDS)}")
        return value

    @field_validator("forms")
    @classmethod
    def _targets(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for form, fields in value.items():
            for question, target in fields.items():
                if target not in LEAD_FIELDS and not re.fullmatch(r"answers\.[a-z0-9_]{1,64}|ignore", target):
                    raise ValueError(
                        f"form {form!r}, question {question!r}: {target!r} is not a lead field, answers.<key> or ignore"
                    )
        return value

    def by_label(self) -> dict[str, str]:
        """Normalised label → lead field."""
        return {normalise_label(label): name for name, labels in self.labels.items() for label in [name, *labels]}


@dataclass(frozen=True)
class Answer:
    """One answered question as a provider sends it; `kind` is what the provider says the answer is (`email`,
    `phone`), which identifies the field when the label does not."""

    question_id: str | None
    label: str | None
    value: Any
    kind: str | None = None


# A provider's own answer types that say which lead field an answer is, whatever its label.
_FIELD_OF_KIND = {"email": "email", "phone": "phone", "consent": "consent"}
# Hidden fields that carry attribution are the lead's source, whatever form builder sent them.
_ATTRIBUTION = frozenset({"utm_source", "utm_medium", "utm_campaign"})
_NAME_ORDER = ("prefix", "first", "middle", "last", "suffix")
_NAME_PARTS = frozenset(_NAME_ORDER)
# Form builders number repeated fields: "Email 2", "Phone 3".
_NUMBERED = re.compile(r" \d+$")


def map_answers(answers: Iterable[Answer], form_key: str | None, mapping: FieldMapping) -> dict[str, Any]:
    """Lead fields plus `answers` (everything not mapped to a field, kept for the qualifier)."""
    per_form = mapping.forms.get(form_key or "", {})
    labels = mapping.by_label()
    fields: dict[str, Any] = {}
    kept: dict[str, str] = {}
    for answer in answers:
        text = _text(answer.value)
        if text is None:
            continue
        target = per_form.get(answer.question_id or "") or per_form.get(answer.label or "")
        if target is None and answer.label:
            label = normalise_label(answer.label)
            bare = _NUMBERED.sub("", label)
            target = labels.get(label) or labels.get(_QUESTION_WORDS.sub("", label)) or labels.get(bare)
        if target is None and answer.label and answer_key(answer.label) in _ATTRIBUTION:
            target = answer_key(answer.label)  # a hidden field named for what it carries
        if target is None and answer.kind in _FIELD_OF_KIND and _FIELD_OF_KIND[answer.kind] not in fields:
            target = _FIELD_OF_KIND[answer.kind]
        if target == "ignore":
            continue
        if target is None:
            kept[answer_key(answer.label or answer.question_id or "answer")] = text
        elif target.startswith("answers."):
            kept[target.removeprefix("answers.")] = text
        else:
            fields.setdefault(target, text)
    split_full_name(fields)
    if "consent" in fields:
        fields["consent"] = _yes(fields["consent"])
    fields["answers"] = kept
    return fields


def split_full_name(fields: dict[str, Any]) -> None:
    """Turn `full_name` into first and last name where those are not given."""
    full_name = fields.pop("full_name", None)
    if full_name and not fields.get("first_name"):
        first, _, last = str(full_name).strip().partition(" ")
        fields["first_name"] = first
        if not fields.get("last_name"):
            fields["last_name"] = last or None


def _text(value: Any) -> str | None:
    """An answer as a person reads it: lists joined, structured answers (a payment, an uploaded file, a matrix
    row) as `key: value` pairs, never a Python repr."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        joined = ", ".join(t for t in (_text(v) for v in value) if t)
        return joined or None
    if isinstance(value, dict):
        if isinstance(value.get("url"), str) and isinstance(value.get("name"), str):  # an uploaded file, a signature
            return f"{value['name']}: {value['url']}"
        if set(value) <= _NAME_PARTS:  # Jotform's full name: {"first": "Kenji", "last": "Sato"}
            return " ".join(t for t in (_text(value.get(k)) for k in _NAME_ORDER) if t) or None
        parts = [(k, _text(v)) for k, v in value.items()]
        joined = "; ".join(f"{k}: {t}" for k, t in parts if t)
        return joined or None
    text = str(value).strip()
    return text or None


def _yes(value: str) -> bool:
    return value.strip().lower() in {"yes", "true", "1", "y", "on", "i agree", "agree", "accepted", "checked"}
