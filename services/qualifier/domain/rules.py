"""The qualifier's sections of the rules file (`opportunities`, `qualification`, `routing`), validated."""

from decimal import Decimal

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


class RoutingRules(_Strict):
    """Teams, how leads are matched to them, and how many open leads an owner may hold."""

    capacity: int = Field(150, ge=1)
    teams: dict[str, Team] = Field(min_length=1)
    rules: list[RouteRule] = Field(min_length=1)

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
