"""The `opportunities` section of the rules file, validated."""

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events.vocabulary import ForecastCategory


class PipelineStage(BaseModel):
    """Win probability and forecast category of one pipeline stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    probability: float = Field(ge=0, le=1)
    category: ForecastCategory


class OpportunityRules(BaseModel):
    """Pipeline stages of open opportunities and the default currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    stages: dict[str, PipelineStage]
    default_stage: str

    @model_validator(mode="after")
    def _default_is_a_stage(self) -> "OpportunityRules":
        if self.default_stage not in self.stages:
            raise ValueError(f"default_stage {self.default_stage!r} is not one of the stages")
        return self
