"""The lead stage machine of DESIGN.md section 1 and the decisions that move a lead."""

from dataclasses import dataclass

from services.qualifier.domain.frameworks import FrameworkResult
from shared.events.vocabulary import LeadStage as S

OPEN_STAGES = frozenset({S.LEAD, S.MQL, S.PROSPECT, S.OPPORTUNITY, S.NURTURE})
PRE_DEAL_STAGES = frozenset({S.LEAD, S.MQL, S.PROSPECT, S.NURTURE})
DEAL_STAGES = frozenset({S.OPPORTUNITY, S.CUSTOMER, S.CLOSED_LOST})

ALLOWED: dict[S, frozenset[S]] = {
    S.LEAD: frozenset({S.MQL, S.PROSPECT, S.OPPORTUNITY, S.NURTURE, S.DISQUALIFIED}),
    S.MQL: frozenset({S.LEAD, S.PROSPECT, S.OPPORTUNITY, S.NURTURE, S.DISQUALIFIED}),
    S.PROSPECT: frozenset({S.LEAD, S.MQL, S.OPPORTUNITY, S.NURTURE, S.DISQUALIFIED}),
    S.OPPORTUNITY: frozenset({S.PROSPECT, S.CUSTOMER, S.CLOSED_LOST, S.NURTURE, S.DISQUALIFIED}),
    S.NURTURE: frozenset({S.LEAD, S.MQL, S.PROSPECT, S.OPPORTUNITY, S.DISQUALIFIED}),
    S.DISQUALIFIED: frozenset({S.LEAD, S.NURTURE}),
    S.CLOSED_LOST: frozenset({S.NURTURE, S.OPPORTUNITY}),
    S.CUSTOMER: frozenset({S.OPPORTUNITY}),
}


class IllegalTransition(ValueError):
    """A stage change the machine does not allow."""


def check_transition(current: S, target: S) -> None:
    """Raise IllegalTransition unless `current → target` is allowed."""
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none"
        raise IllegalTransition(f"a lead cannot move from {current.value} to {target.value} (allowed: {allowed})")


@dataclass(frozen=True)
class Decision:
    """A stage change and the reason for it."""

    target: S
    reason: str


@dataclass(frozen=True)
class Situation:
    """Everything the stage decision looks at, already evaluated."""

    stage: S
    mql: bool
    score: float | None
    qualification: FrameworkResult
    opportunity: FrameworkResult
    stalled_days: float | None = None  # days without activity or evidence, when past the stall limit
    # Whether the lead did something (or a rep recorded evidence) since it entered its stage: a lead put in
    # nurture (a rep's rejection, an override) stays there until then, instead of bouncing straight back.
    news_since_stage: bool = True


def decide(situation: Situation) -> list[Decision]:
    """The moves the evidence calls for, in order; each one legal from the stage before it.

    Deals (opportunity, customer, closed_lost) are moved by reps and the opportunity lifecycle, not here.
    """
    moves: list[Decision] = []
    stage = situation.stage

    def go(target: S, reason: str) -> None:
        nonlocal stage
        if target is not stage and target in ALLOWED[stage]:
            moves.append(Decision(target, reason))
            stage = target

    hard = situation.qualification.hard_fails + situation.opportunity.hard_fails
    if hard:
        if stage in PRE_DEAL_STAGES:
            go(S.DISQUALIFIED, "disqualified: " + "; ".join(h.evidence for h in hard))
        return moves
    if stage is S.DISQUALIFIED:
        go(S.LEAD, "no disqualifying criterion fails any more")
    if stage in DEAL_STAGES:
        return moves
    if stage is S.NURTURE and situation.stalled_days is None and situation.news_since_stage:
        go(S.MQL if situation.mql else S.LEAD, "re-engaged: new activity or evidence")
    if stage is S.NURTURE:
        return moves
    q, o = situation.qualification, situation.opportunity
    score = f"{situation.score:g}" if situation.score is not None else "?"
    if stage is S.LEAD and situation.mql:
        go(S.MQL, f"score {score} crossed the MQL threshold")
    if stage is S.MQL and not situation.mql and not q.passed:
        go(S.LEAD, f"score {score} fell below the MQL threshold")
    if stage in {S.LEAD, S.MQL} and q.passed:
        go(S.PROSPECT, f"{q.summary()}")
    if stage is S.PROSPECT and q.failed:
        go(S.MQL if situation.mql else S.LEAD, f"no longer qualified: {q.summary()}")
    if stage is S.PROSPECT and o.passed:
        go(S.OPPORTUNITY, f"{o.summary()}")
    if stage in {S.LEAD, S.MQL} and situation.stalled_days is not None:
        waiting = ", ".join(q.unknown()) or "nothing"
        go(S.NURTURE, f"stalled {situation.stalled_days:.0f} days without qualifying; still unknown: {waiting}")
    return moves
