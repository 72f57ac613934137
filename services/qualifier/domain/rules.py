"""The qualifier's sections of the rules file (`opportunities`, `qualification`, `routing`), validated."""

from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.qualifier.domain.criteria import Check
from services.qualifier.domain.frameworks import Framework
from shared.events.vocabulary import ForecastCategory


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PipelineStage(_Strict):
    """Win probability and forecast category of one pipeline stage."""

    probability: float = Field(ge=0, le=1)
    category: ForecastCategory


class OpportunityRules(_Strict):
    """Pipeline stages of open opportunities, the default currency and what an automatic one starts with."""

    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    stages: dict[str, PipelineStage]
    default_stage: str
    default_amount: Decimal = Field(Decimal(25000), ge=0)
    default_cycle_days: int = Field(60, ge=1, le=3650)

    @model_validator(mode="after")
    def _default_is_a_stage(self) -> "OpportunityRules":
        if self.default_stage not in self.stages:
            raise ValueError(f"default_stage {self.default_stage!r} is not one of the stages")
        return self


class QualificationRules(_Strict):
    """Which framework makes a prospect, which opens an opportunity, and when a lead has stalled."""

    qualify_with: str = "three_stage"
    open_opportunity_with: str = "pif"
    stall_days: float = Field(30, gt=0)
    frameworks: dict[str, Framework] = Field(min_length=1)

    @model_validator(mode="after")
    def _named_frameworks_exist(self) -> "QualificationRules":
        for key in ("qualify_with", "open_opportunity_with"):
            name = getattr(self, key)
            if name not in self.frameworks:
                raise ValueError(f"{key} names {name!r}, which is not one of the frameworks: {sorted(self.frameworks)}")
        return self


class Team(_Strict):
    """Owners who share a territory or segment, in round-robin order."""

    members: list[str] = Field(min_length=1)


class RouteRule(_Strict):
    """Send leads matching `when` (every lead when omitted) to `team`."""

    team: str
    when: Check | None = None


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _monday_to_friday() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class WorkingHours(_Strict):
    """When the SLA clock runs: these hours of these days, in this time zone."""

    timezone: str = "UTC"
    start: int = Field(9, ge=0, le=23)
    end: int = Field(17, ge=1, le=24)
    days: list[Weekday] = Field(default_factory=_monday_to_friday, min_length=1)

    @model_validator(mode="after")
    def _a_real_zone_and_a_day(self) -> "WorkingHours":
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r} (an IANA name, like Europe/Berlin)") from exc
        if self.end <= self.start:
            raise ValueError(f"the working day ends ({self.end}) before it starts ({self.start})")
        return self


class HandoffRules(_Strict):
    """How long an owner has to accept a lead routed to them, what happens when nobody does, and the reasons a
    lead may be rejected for."""

    sla_hours: dict[str, float] = Field(default_factory=lambda: {"hot": 4.0, "warm": 16.0, "cold": 40.0})
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    on_breach: Literal["reroute", "escalate"] = "reroute"
    escalate_to: str | None = None
    reject_reasons: list[str] = Field(
        default_factory=lambda: ["not_a_fit", "wrong_person", "no_budget", "bad_timing", "duplicate", "competitor"],
        min_length=1,
    )

    @model_validator(mode="after")
    def _escalation_names_someone(self) -> "HandoffRules":
        if self.on_breach == "escalate" and not self.escalate_to:
            raise ValueError("on_breach: escalate needs escalate_to (who hears of a hand-off nobody accepted)")
        unknown = set(self.sla_hours) - {"hot", "warm", "cold"}
        if unknown:
            raise ValueError(f"sla_hours names unknown segments {sorted(unknown)}; known: cold, hot, warm")
        return self


class RoutingRules(_Strict):
    """Teams, how leads are matched to them, how many open leads an owner may hold, and the hand-off."""

    capacity: int = Field(150, ge=1)
    teams: dict[str, Team] = Field(min_length=1)
    rules: list[RouteRule] = Field(min_length=1)
    handoff: HandoffRules = Field(default_factory=HandoffRules)

    @model_validator(mode="after")
    def _teams_exist_and_a_default_catches_the_rest(self) -> "RoutingRules":
        for rule in self.rules:
            if rule.team not in self.teams:
                raise ValueError(f"rule names team {rule.team!r}, which is not one of {sorted(self.teams)}")
        if self.rules[-1].when is not None:
            raise ValueError("the last routing rule must have no `when`, so that every lead gets a team")
        owners = [m for team in self.teams.values() for m in team.members]
        if len(owners) != len(set(owners)):
            raise ValueError("an owner may belong to one team only")
        return self


class QualifierRules(_Strict):
    """The qualifier's three sections together, with the version recorded on every decision."""

    qualification: QualificationRules
    routing: RoutingRules
    opportunities: OpportunityRules
    version: str
