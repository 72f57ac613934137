"""Funnel counts and stage-to-stage conversion from each lead's current stage."""

from collections.abc import Mapping
from itertools import pairwise

from shared.events.vocabulary import LeadStage as S

FUNNEL = (S.LEAD, S.MQL, S.PROSPECT, S.OPPORTUNITY, S.CUSTOMER)
# A lead that ended in these stages got at least this far down the funnel.
_REACHED_BY_END = {S.CLOSED_LOST: S.OPPORTUNITY, S.NURTURE: S.LEAD, S.DISQUALIFIED: S.LEAD}


def reached(current: Mapping[S, int]) -> dict[S, int]:
    """How many leads got at least as far as each funnel stage."""
    furthest: dict[S, int] = dict.fromkeys(FUNNEL, 0)
    for stage, count in current.items():
        last = _REACHED_BY_END.get(stage, stage)
        for funnel_stage in FUNNEL[: FUNNEL.index(last) + 1]:
            furthest[funnel_stage] += count
    return furthest


def conversion_rates(current: Mapping[S, int]) -> dict[tuple[S, S], float]:
    """Share of leads that reached each stage and went on to the next; 0 where none reached it."""
    counts = reached(current)
    return {(a, b): (counts[b] / counts[a] if counts[a] else 0.0) for a, b in pairwise(FUNNEL)}
