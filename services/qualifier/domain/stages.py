"""The lead stage machine of DESIGN.md section 1 and the decisions that move a lead."""

from dataclasses import dataclass

from shared.events.vocabulary import LeadStage as S

OPEN_STAGES = frozenset({S.LEAD, S.MQL, S.PROSPECT, S.OPPORTUNITY, S.NURTURE})

ALLOWED: dict[S, frozenset[S]] = {
    S.LEAD: frozenset({S.MQL, S.PROSPECT, S.OPPORTUNITY, S.NURTURE, S.DISQUALIFIED}),
    S.MQL: frozenset({S.LEAD, S.PROSPECT, S.OPPORTUNITY, S.NURTURE, S.DISQUALIFIED}),
    S.PROSPECT: frozenset({S.MQL, S.OPPORTUNITY, S.NURTURE, S.DISQUALIFIED}),
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


def decide_on_score(current: S, *, mql: bool, score: float) -> Decision | None:
    """The scorer's verdict moves a lead between lead and mql; later stages are decided elsewhere."""
    if current is S.LEAD and mql:
        return Decision(S.MQL, f"score {score:g} crossed the MQL threshold")
    if current is S.MQL and not mql:
        return Decision(S.LEAD, f"score {score:g} fell below the MQL threshold")
    return None
