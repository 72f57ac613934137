"""Funnel KPIs: counts and stage-to-stage conversion (current population and cohorts), win rate, deal size, sales
cycle, win/loss reasons and pipeline velocity."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise
from statistics import fmean, median
from typing import Literal

from services.forecast.domain.history import Revision, age_days
from shared.events.vocabulary import LeadStage as S
from shared.events.vocabulary import OpportunityStatus

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


@dataclass(frozen=True)
class StageChange:
    """One recorded stage change of a lead, with what the funnel groups by."""

    lead_id: str
    from_stage: S | None
    to_stage: S
    source: str | None
    owner: str | None
    segment: str | None
    changed_at: datetime
    campaign: str | None = None


@dataclass(frozen=True)
class HandoffDecision:
    """What became of one hand-off to an owner (lead.handoff_changed)."""

    lead_id: str
    status: str  # assigned | accepted | rejected | breached
    reason: str | None
    waited_s: float | None
    decided_at: datetime


@dataclass(frozen=True)
class FunnelReport:
    """The funnel of one group (or of everyone) for a window of time."""

    group: str
    leads: int  # cohort: leads that entered the funnel in the window
    reached: dict[S, int]
    conversion: dict[str, float]  # "lead→mql": share of those that reached the first that reached the second
    lead_to_customer: float
    won: int
    lost: int
    win_rate: float
    average_deal: float
    median_cycle_days: float | None
    reasons: dict[str, dict[str, int]]  # won / lost → reason → count
    open_opportunities: int
    velocity_per_day: float  # open opportunities × win rate × average deal ÷ median cycle days
    currency: str | None
    handoffs: dict[str, int] = field(default_factory=dict)  # assigned / accepted / rejected / breached in the window
    median_hours_to_accept: float | None = None  # from hand-off to acceptance, wall-clock hours
    rejections: dict[str, int] = field(default_factory=dict)  # reason → count
    # Stays that ended in the window, by the stage they were in: {"median": days, "p90": days, "stays": n}
    days_in_stage: dict[str, dict[str, float]] = field(default_factory=dict)


Grouping = Literal["source", "segment", "owner", "campaign"]


def funnel(
    changes: Sequence[StageChange],
    deals: Sequence[Revision],
    *,
    start: datetime,
    end: datetime,
    by: Grouping | None = None,
    handoffs: Sequence[HandoffDecision] = (),
) -> list[FunnelReport]:
    """Cohort counts and conversions of leads that entered in [start, end); deals closed in it; velocity at `end`;
    hand-offs decided in it (a hand-off belongs to its lead's group).

    `deals` is the pipeline as of `end` (history.as_of); a deal belongs to its lead's group (its own source or owner
    when the lead is not known here).
    """
    first_seen: dict[str, StageChange] = {}
    furthest: dict[str, int] = {}
    group_of: dict[str, str] = {}
    latest: dict[str, StageChange] = {}
    stays: list[tuple[str, S, float]] = []  # lead, the stage it left in the window, days it spent there
    for change in changes:
        if change.lead_id not in first_seen:
            first_seen[change.lead_id] = change
        before = latest.get(change.lead_id)
        if before is not None and start <= change.changed_at < end:
            stays.append((change.lead_id, before.to_stage, age_days(before.changed_at, change.changed_at)))
        latest[change.lead_id] = change
        last = _REACHED_BY_END.get(change.to_stage, change.to_stage)
        furthest[change.lead_id] = max(furthest.get(change.lead_id, 0), FUNNEL.index(last))
        value = {
            "source": change.source,
            "segment": change.segment,
            "owner": change.owner,
            "campaign": change.campaign,
        }.get(by or "")
        if value or change.lead_id not in group_of:
            group_of[change.lead_id] = value or "(unknown)"
    cohort = [lead for lead, first in first_seen.items() if start <= first.changed_at < end]

    def group(lead_id: str | None, fallback: str | None) -> str:
        if by is None:
            return "all"
        if lead_id and lead_id in group_of:
            return group_of[lead_id]
        return fallback or "(unknown)"

    groups = sorted({group(lead, None) for lead in cohort} | {group(d.lead_id, _own(d, by)) for d in deals})
    decided = [h for h in handoffs if start <= h.decided_at < end]
    reports = []
    for name in groups or ["all"]:
        members = [lead for lead in cohort if group(lead, None) == name]
        mine = [d for d in deals if group(d.lead_id, _own(d, by)) == name]
        report = _report(name, members, furthest, mine, start, end)
        report = _with_handoffs(report, [h for h in decided if group(h.lead_id, None) == name])
        reports.append(replace(report, days_in_stage=_days_in_stage([s for s in stays if group(s[0], None) == name])))
    return reports


def _days_in_stage(stays: list[tuple[str, S, float]]) -> dict[str, dict[str, float]]:
    """Median and 90th percentile of the days leads spent in each stage they left."""
    by_stage: dict[S, list[float]] = {}
    for _, stage, spent in stays:
        by_stage.setdefault(stage, []).append(spent)
    found = {}
    for stage, days in by_stage.items():
        ordered = sorted(days)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        found[stage.value] = {"median": round(median(ordered), 2), "p90": round(p90, 2), "stays": len(ordered)}
    return found


def _with_handoffs(report: FunnelReport, decided: list[HandoffDecision]) -> FunnelReport:
    waits = [h.waited_s / 3600 for h in decided if h.status == "accepted" and h.waited_s is not None]
    return replace(
        report,
        handoffs=dict(Counter(h.status for h in decided)),
        median_hours_to_accept=round(median(waits), 2) if waits else None,
        rejections=dict(Counter(h.reason or "(none given)" for h in decided if h.status == "rejected")),
    )


def _own(deal: Revision, by: Grouping | None) -> str | None:
    return {"source": deal.source, "owner": deal.owner}.get(by or "")


def _report(
    name: str, members: list[str], furthest: dict[str, int], deals: list[Revision], start: datetime, end: datetime
) -> FunnelReport:
    counts = {stage: sum(1 for lead in members if furthest[lead] >= i) for i, stage in enumerate(FUNNEL)}
    conversion = {f"{a.value}→{b.value}": (counts[b] / counts[a] if counts[a] else 0.0) for a, b in pairwise(FUNNEL)}
    closed = [d for d in deals if d.status is not OpportunityStatus.OPEN and d.closed_at and start <= d.closed_at < end]
    won = [d for d in closed if d.status is OpportunityStatus.WON]
    lost = [d for d in closed if d.status is OpportunityStatus.LOST]
    win_rate = len(won) / len(closed) if closed else 0.0
    average = fmean(float(d.amount) for d in won) if won else 0.0
    cycle = median(age_days(d.opened_at, d.closed_at or d.changed_at) for d in won) if won else None
    still_open = sum(1 for d in deals if d.status is OpportunityStatus.OPEN)
    reasons = {
        "won": dict(Counter(d.close_reason or "(none given)" for d in won)),
        "lost": dict(Counter(d.close_reason or "(none given)" for d in lost)),
    }
    return FunnelReport(
        group=name,
        leads=len(members),
        reached=counts,
        conversion=conversion,
        lead_to_customer=counts[S.CUSTOMER] / counts[S.LEAD] if counts[S.LEAD] else 0.0,
        won=len(won),
        lost=len(lost),
        win_rate=win_rate,
        average_deal=average,
        median_cycle_days=cycle,
        reasons=reasons,
        open_opportunities=still_open,
        velocity_per_day=(still_open * win_rate * average / cycle) if cycle else 0.0,
        currency=next(iter({d.currency for d in deals}), None) if len({d.currency for d in deals}) == 1 else None,
    )
