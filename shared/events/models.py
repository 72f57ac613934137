"""Version 1 payloads of every integration event; additive changes only within a version."""

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.email import Email
from shared.events.vocabulary import (
    ActivityType,
    CriterionOutcome,
    ForecastCategory,
    LeadStage,
    OpportunityStatus,
    Segment,
)


class EventType(StrEnum):
    """Past-tense `entity.verb` names of the integration events."""

    LEAD_CAPTURED = "lead.captured"
    LEAD_ACTIVITY = "lead.activity"
    LEAD_OUTCOME_RECORDED = "lead.outcome_recorded"
    LEAD_SCORED = "lead.scored"
    LEAD_STAGE_CHANGED = "lead.stage_changed"
    LEAD_OWNER_CHANGED = "lead.owner_changed"
    LEAD_HANDOFF_CHANGED = "lead.handoff_changed"
    OPPORTUNITY_OPENED = "opportunity.opened"
    OPPORTUNITY_UPDATED = "opportunity.updated"
    OPPORTUNITY_CLOSED = "opportunity.closed"
    LEAD_MERGED = "lead.merged"
    LEAD_UNMERGED = "lead.unmerged"
    PERSON_ERASED = "person.erased"


class EventPayload(BaseModel):
    """Base of every payload: its type name and schema version travel in the envelope's `type`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[EventType]
    version: ClassVar[int] = 1

    lead_id: UUID

    @classmethod
    def cloudevents_type(cls) -> str:
        """The CloudEvents `type` attribute, e.g. io.leadflow.lead.captured.v1."""
        return f"io.leadflow.{cls.event_type.value}.v{cls.version}"


class Contact(BaseModel):
    """The person behind a lead; imported leads may be known by a source's id instead of an email."""

    email: Email | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    job_title: str | None = None

    def full_name(self) -> str | None:
        """First and last name as a person would write them, or None when neither is known."""
        return " ".join(part.strip() for part in (self.first_name, self.last_name) if part and part.strip()) or None


class Company(BaseModel):
    """The organisation a lead works for, as far as it is known at capture."""

    name: str | None = None
    domain: str | None = None
    size: str | None = None
    industry: str | None = None
    country: str | None = None

    def employees(self) -> int | None:
        """The lower bound of the size answer: "51-200" → 51, "1,000+" → 1000, "500" → 500."""
        found = self.employee_range()
        return found[0] if found else None

    def employee_range(self) -> tuple[int, int | None] | None:
        """The size answer as (at least, at most): "1-20" → (1, 20), "1,000+" → (1000, None), "500" → (500, 500);
        forms ask for a band, and reading only its lower bound made a 1-20 company one person."""
        if not self.size:
            return None
        numbers = [int(re.sub(r"[^\d]", "", m)) for m in re.findall(r"\d[\d,._]*", self.size)]
        numbers = [n for n in numbers if n < 10**9]
        if not numbers:
            return None
        if len(numbers) >= 2:
            low, high = sorted(numbers[:2])
            return low, high
        open_ended = re.search(r"\+|more|over|above|at least", self.size, flags=re.IGNORECASE) is not None
        return numbers[0], None if open_ended else numbers[0]


class Source(BaseModel):
    """Where a lead or activity came from."""

    provider: str
    form_id: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None


class LeadCaptured(EventPayload):
    """A person showed interest; intake normalised what they told us."""

    event_type: ClassVar[EventType] = EventType.LEAD_CAPTURED

    contact: Contact
    company: Company = Field(default_factory=Company)
    source: Source
    consent: bool | None = None
    answers: dict[str, str] = Field(default_factory=dict)
    via: ActivityType = ActivityType.FORM_SUBMITTED
    free_mail: bool = False
    external_id: str | None = None
    captured_at: datetime


class LeadActivity(EventPayload):
    """One engagement of a known lead."""

    event_type: ClassVar[EventType] = EventType.LEAD_ACTIVITY

    activity_type: ActivityType
    occurred_at: datetime
    minutes: float | None = Field(None, ge=0)
    source: Source
    details: dict[str, str] = Field(default_factory=dict)


class LeadOutcomeRecorded(EventPayload):
    """A historical outcome arrived with an import: did this lead convert? The scorer learns from it."""

    event_type: ClassVar[EventType] = EventType.LEAD_OUTCOME_RECORDED

    outcome: Literal["won", "lost"]
    source: Source
    recorded_at: datetime


class ScoreFactor(BaseModel):
    """One reason a score moved, in words a person can read.

    `kind` is fit, engagement or model; for fit and engagement `points` are score points, for model they are the
    log-odds the fact adds (positive) or takes away (negative).
    """

    kind: str
    name: str
    points: float
    reason: str


class LeadScored(EventPayload):
    """The scorer's current view of a lead."""

    event_type: ClassVar[EventType] = EventType.LEAD_SCORED

    fit: float = Field(ge=0, le=100)
    engagement: float = Field(ge=0, le=100)
    score: float = Field(ge=0, le=100)
    segment: Segment
    previous_segment: Segment | None = None
    grade: str | None = Field(
        None, pattern=r"^[A-D][1-4]$", description="fit A-D × engagement 1-4 (A1: the best fit, the most engaged)"
    )
    mql: bool
    mql_crossed: bool = False
    factors: list[ScoreFactor] = Field(default_factory=list)
    rules_version: str
    scored_at: datetime
    probability: float | None = Field(None, ge=0, le=1, description="predicted conversion, when a model is active")
    model_version: int | None = None


class CriterionResult(BaseModel):
    """Outcome of one qualification criterion with the evidence it used."""

    framework: str
    criterion: str
    outcome: CriterionOutcome
    evidence: str


class LeadStageChanged(EventPayload):
    """A lead moved between funnel stages, with who decided it and why."""

    event_type: ClassVar[EventType] = EventType.LEAD_STAGE_CHANGED

    from_stage: LeadStage | None
    to_stage: LeadStage
    reason: str
    decided_by: str
    criteria: list[CriterionResult] = Field(default_factory=list)
    rules_version: str
    owner: str | None = None
    source: str | None = None
    campaign: str | None = Field(None, description="the lead's campaign (utm_campaign), for the funnel by campaign")
    changed_at: datetime


class LeadOwnerChanged(EventPayload):
    """A lead was (re)assigned to an owner, by routing rules or because its owner was removed."""

    event_type: ClassVar[EventType] = EventType.LEAD_OWNER_CHANGED

    from_owner: str | None
    to_owner: str | None
    team: str | None = None
    reason: str
    changed_at: datetime


class LeadHandoffChanged(EventPayload):
    """A lead handed to an owner, and what became of the hand-off: `assigned` (with the time it is due by, the
    segment's SLA in working hours), `accepted` or `rejected` by the owner (with the reason, from the rules'
    list), or `breached` when nobody accepted in time (then `action` says whether it was rerouted or escalated)."""

    event_type: ClassVar[EventType] = EventType.LEAD_HANDOFF_CHANGED

    status: Literal["assigned", "accepted", "rejected", "breached"]
    owner: str
    team: str | None = None
    segment: str | None = None
    due_at: datetime | None = None
    reason: str | None = None
    note: str | None = None
    decided_by: str
    waited_s: float | None = Field(None, ge=0, description="from assignment to this decision")
    action: Literal["rerouted", "escalated"] | None = None
    escalated_to: str | None = None
    changed_at: datetime


class OpportunitySnapshot(EventPayload):
    """Full state of an opportunity after a change, so projections never need history to apply it."""

    opportunity_id: UUID
    revision: int = Field(ge=1)
    name: str
    amount: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    pipeline_stage: str
    probability: float = Field(ge=0, le=1)
    forecast_category: ForecastCategory
    expected_close_date: date
    status: OpportunityStatus
    owner: str | None = None
    source: str | None = None
    opened_at: datetime
    changed_at: datetime


class OpportunityOpened(OpportunitySnapshot):
    """A prospect became an opportunity."""

    event_type: ClassVar[EventType] = EventType.OPPORTUNITY_OPENED


class OpportunityUpdated(OpportunitySnapshot):
    """An open opportunity's amount, stage, date or category changed."""

    event_type: ClassVar[EventType] = EventType.OPPORTUNITY_UPDATED


class OpportunityClosed(OpportunitySnapshot):
    """An opportunity ended, won or lost."""

    event_type: ClassVar[EventType] = EventType.OPPORTUNITY_CLOSED

    close_reason: str | None = None
    closed_at: datetime


class LeadMerged(EventPayload):
    """Two leads are one person: `lead_id` (the merged one) now counts as `into`. Keyed by the merged lead.

    Services keep the merged lead's own data and only point it at `into`, so `lead.unmerged` can give it back;
    anything later sent about the merged lead is applied to `into`.
    """

    event_type: ClassVar[EventType] = EventType.LEAD_MERGED

    into: UUID
    merge_id: UUID
    carried: list[UUID] = Field(default_factory=list, description="leads merged into lead_id before, now into `into`")
    reason: str
    merged_by: str
    merged_at: datetime


class LeadUnmerged(EventPayload):
    """A merge is undone: `lead_id` is its own lead again, apart from `from_lead`."""

    event_type: ClassVar[EventType] = EventType.LEAD_UNMERGED

    from_lead: UUID
    merge_id: UUID
    carried: list[UUID] = Field(default_factory=list, description="leads that follow lead_id back")
    unmerged_by: str
    unmerged_at: datetime


class PersonErased(EventPayload):
    """A person asked to be forgotten: every service deletes what it holds of `lead_id` and the events it
    published about it, and ignores what still arrives about it from before `erased_at`. Keyed by the lead.

    The event names no one: the lead id is all that is left (docs/architecture.md, "Erasure").
    """

    event_type: ClassVar[EventType] = EventType.PERSON_ERASED

    erased_at: datetime
    erased_by: str


ALL_PAYLOADS: tuple[type[EventPayload], ...] = (
    LeadCaptured,
    LeadActivity,
    LeadOutcomeRecorded,
    LeadScored,
    LeadStageChanged,
    LeadOwnerChanged,
    LeadHandoffChanged,
    OpportunityOpened,
    OpportunityUpdated,
    OpportunityClosed,
    LeadMerged,
    LeadUnmerged,
    PersonErased,
)
