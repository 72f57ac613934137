"""Qualification frameworks as data: named stages of criteria, each evaluated to pass, fail or unknown."""

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from services.qualifier.domain.criteria import Check, Facts, evaluate
from shared.events.vocabulary import CriterionOutcome as Outcome


class Criterion(BaseModel):
    """One question a framework asks of a lead; a hard fail disqualifies (outside the ICP, competitor, student)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    check: Check
    hard_fail: bool = False


class Framework(BaseModel):
    """Ordered stages (three_stage: organisation, opportunity, stakeholder; bant: budget, authority, …)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    stages: dict[str, list[Criterion]] = Field(min_length=1)


@dataclass(slots=True)
class CriterionVerdict:
    """One criterion's outcome with the evidence it used (reported in events as a CriterionResult)."""

    framework: str
    criterion: str
    outcome: Outcome
    evidence: str


@dataclass(frozen=True)
class FrameworkResult:
    """A framework's verdict on a lead, stage by stage and criterion by criterion."""

    framework: str
    stages: dict[str, Outcome]
    criteria: list[CriterionVerdict]
    hard_fails: list[CriterionVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every stage passes."""
        return all(outcome is Outcome.PASS for outcome in self.stages.values())

    @property
    def failed(self) -> bool:
        """Some stage fails outright (not merely unknown)."""
        return any(outcome is Outcome.FAIL for outcome in self.stages.values())

    def unknown(self) -> list[str]:
        """Criteria still waiting for evidence."""
        return [c.criterion for c in self.criteria if c.outcome is Outcome.UNKNOWN]

    def summary(self) -> str:
        """One line a person can read, e.g. `three_stage: organisation pass, opportunity unknown, …`."""
        parts = ", ".join(f"{stage} {outcome.value}" for stage, outcome in self.stages.items())
        return f"{self.framework}: {parts}"


def evaluate_framework(name: str, framework: Framework, facts: Facts) -> FrameworkResult:
    """Evaluate every criterion; a stage passes when all its criteria pass and fails when any fails."""
    stages: dict[str, Outcome] = {}
    results: list[CriterionVerdict] = []
    hard: list[CriterionVerdict] = []
    for stage, criteria in framework.stages.items():
        outcomes = []
        for criterion in criteria:
            verdict = evaluate(criterion.check, facts)
            # A plain dataclass: a pydantic model per criterion was a quarter of the evaluation's cost, and
            # only the criteria of an actual move are reported in an event.
            result = CriterionVerdict(
                framework=name,
                criterion=f"{stage}.{criterion.id}",
                outcome=verdict.outcome,
                evidence=f"{criterion.description}: {verdict.evidence}",
            )
            results.append(result)
            outcomes.append(verdict.outcome)
            if criterion.hard_fail and verdict.outcome is Outcome.FAIL:
                hard.append(result)
        if Outcome.FAIL in outcomes:
            stages[stage] = Outcome.FAIL
        elif Outcome.UNKNOWN in outcomes:
            stages[stage] = Outcome.UNKNOWN
        else:
            stages[stage] = Outcome.PASS
    return FrameworkResult(name, stages, results, hard)
