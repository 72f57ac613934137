"""An import's mapping file: which column is the identity, which columns are which lead fields."""

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.intake.domain.capture import Submission, SubmissionError, submission
from services.intake.domain.mapping import LEAD_FIELDS, split_full_name
from services.intake.webhooks.submissions import when
from shared.events.vocabulary import ActivityType


class Identity(BaseModel):
    """The columns that say who a row is: an email, the source's own id, or both (a row with both joins the lead
    an earlier import knew only by that id to the person's email)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str | None = None
    external_id: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "Identity":
        if not self.email and not self.external_id:
            raise ValueError("identity needs email, external_id or both")
        return self


class Outcome(BaseModel):
    """A column carrying a historical outcome, and which of its values mean won and lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    won: list[str] = Field(min_length=1)
    lost: list[str] = Field(min_length=1)


class ImportMapping(BaseModel):
    """How to read one kind of CSV export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,49}$")
    identity: Identity
    fields: dict[str, str] = Field(default_factory=dict)
    answers: dict[str, str] = Field(default_factory=dict)
    activity: ActivityType = ActivityType.FORM_SUBMITTED
    occurred_at: str | None = None
    outcome: Outcome | None = None
    missing: list[str] = Field(default_factory=lambda: [""])

    @model_validator(mode="after")
    def _fields_are_lead_fields(self) -> "ImportMapping":
        unknown = set(self.fields) - LEAD_FIELDS
        if unknown:
            raise ValueError(f"fields: unknown lead fields {sorted(unknown)}; known: {sorted(LEAD_FIELDS)}")
        return self

    def columns(self) -> set[str]:
        """Every column the mapping reads."""
        named = {c for c in (self.identity.email, self.identity.external_id) if c} or {""}
        named |= set(self.fields.values()) | set(self.answers.values())
        if self.occurred_at:
            named.add(self.occurred_at)
        if self.outcome:
            named.add(self.outcome.column)
        return named


class RowError(ValueError):
    """A row that cannot be imported, with the reason."""


def read_row(row: Mapping[str, str | None], mapping: ImportMapping, *, imported_at: datetime) -> Submission:
    """One CSV row as a submission; RowError says what is wrong with it."""
    missing = set(mapping.missing)

    def cell(column: str) -> str | None:
        value = row.get(column)
        if value is None:
            return None
        value = value.strip()
        return None if value in missing else value

    fields: dict[str, Any] = {name: cell(column) for name, column in mapping.fields.items()}
    fields = {k: v for k, v in fields.items() if v is not None}
    split_full_name(fields)
    fields["answers"] = {key: v for key, column in mapping.answers.items() if (v := cell(column)) is not None}
    if mapping.identity.email:
        fields["email"] = cell(mapping.identity.email)
    if mapping.identity.external_id:
        fields["external_id"] = cell(mapping.identity.external_id)
    outcome = None
    if mapping.outcome is not None:
        raw = cell(mapping.outcome.column)
        if raw in mapping.outcome.won:
            outcome = "won"
        elif raw in mapping.outcome.lost:
            outcome = "lost"
        elif raw is not None:
            raise RowError(f"{mapping.outcome.column}: {raw!r} is neither a won nor a lost value")
    try:
        occurred = when(cell(mapping.occurred_at), imported_at) if mapping.occurred_at else imported_at
        return submission(
            fields,
            provider=mapping.source,
            occurred_at=occurred,
            activity=mapping.activity,
            outcome=outcome,
        )
    except (SubmissionError, ValueError) as exc:
        raise RowError(str(exc)) from exc


def row_key(mapping: ImportMapping, row: Mapping[str, str | None]) -> str:
    """The row's delivery id: the same row imported again is a duplicate; a changed row is news."""
    read = {column: row.get(column) for column in sorted(mapping.columns())}
    return "import:" + hashlib.sha256(json.dumps(read, sort_keys=True).encode()).hexdigest()
