"""Routing: which owner a new prospect goes to, by territory or segment, round robin within the team."""

from collections.abc import Mapping
from dataclasses import dataclass

from services.qualifier.domain.criteria import Facts, evaluate
from services.qualifier.domain.rules import RoutingRules
from shared.events.vocabulary import CriterionOutcome


@dataclass(frozen=True)
class Assignment:
    """The chosen owner (None when everyone is at capacity), the team and the next round-robin position."""

    owner: str | None
    team: str
    reason: str
    next_position: int


def team_for(rules: RoutingRules, facts: Facts) -> tuple[str, str]:
    """The first team whose rule matches, and why."""
    for rule in rules.rules:
        if rule.when is None:
            return rule.team, "default team"
        verdict = evaluate(rule.when, facts)
        if verdict.outcome is CriterionOutcome.PASS:
            return rule.team, verdict.evidence
    raise AssertionError("validated rules end with a catch-all")


def assign(
    rules: RoutingRules,
    facts: Facts,
    *,
    loads: Mapping[str, int],
    position: int,
    inactive: frozenset[str],
    exclude: frozenset[str] = frozenset(),
) -> Assignment:
    """Round robin from `position`, skipping removed owners and those at capacity."""
    team, why = team_for(rules, facts)
    members = rules.teams[team].members
    for step in range(len(members)):
        index = (position + step) % len(members)
        owner = members[index]
        if owner in inactive or owner in exclude or loads.get(owner, 0) >= rules.capacity:
            continue
        return Assignment(owner, team, f"team {team} ({why}), round robin", index + 1)
    return Assignment(None, team, f"team {team} ({why}): every owner is removed or at capacity", position)
