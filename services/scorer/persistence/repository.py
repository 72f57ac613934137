"""Reads and writes of the scorer's tables, inside the caller's unit of work; one statement per batch of leads."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scorer.domain.scoring import Activity, Profile, Score, combined
from services.scorer.persistence.tables import activities, outcomes, owners, profiles
from shared.db.batch_lookup import dialect_of, one_of
from shared.db.database import aware
from shared.db.locks import lock_rows
from shared.db.upsert import upsert, upsert_many
from shared.events.models import ScoreFactor
from shared.events.vocabulary import ActivityType, Segment

_CHUNK = 500  # rows per multi-row statement: well under both databases' bound-parameter limits


@dataclass(frozen=True)
class StoredScore:
    """A lead's profile and its last score as stored."""

    profile: Profile
    fit: float
    engagement: float
    score: float
    segment: Segment
    mql: bool
    first_seen_at: datetime
    scored_at: datetime
    probability: float | None
    model_version: int | None
    factors: tuple[ScoreFactor, ...]
    stamp: Any  # scored_at exactly as stored: the optimistic check of sweeps compares it
    merged_into: str | None = None


def _stored(row: Any) -> StoredScore:
    profile = Profile(
        name=row["name"],
        email=row["email"],
        campaign=row["utm_campaign"],
        job_title=row["job_title"],
        company=row["company"],
        free_mail=row["free_mail"],
        phone=row["phone"],
        country=row["country"],
        industry=row["industry"],
        employees=row["employees"],
        email_domain=row["email_domain"],
        source=row["source"],
        utm_source=row["utm_source"],
        utm_medium=row["utm_medium"],
        answers=row["answers"] or {},
    )
    scored_at = aware(row["scored_at"])
    return StoredScore(
        profile,
        row["fit"],
        row["engagement"],
        row["score"],
        Segment(row["segment"]),
        row["mql"],
        aware(row["first_seen_at"]) if row["first_seen_at"] else scored_at,
        scored_at,
        row["probability"],
        row["model_version"],
        tuple(ScoreFactor.model_validate(f) for f in row["factors"]),
        row["scored_at"],
        row["merged_into"],
    )


# Built once per dialect: every consumed batch runs them (see shared.db.batch_lookup).
@cache
def _profiles_of(dialect: str) -> Select[Any]:
    return select(profiles).where(one_of(profiles.c.lead_id, "lead_ids", dialect))


@cache
def _activities_of(dialect: str) -> Select[Any]:
    return (
        select(activities.c.lead_id, activities.c.activity_type, activities.c.occurred_at, activities.c.minutes)
        .where(one_of(activities.c.lead_id, "lead_ids", dialect))
        .order_by(activities.c.lead_id, activities.c.occurred_at, activities.c.id)
    )


async def load_many(session: AsyncSession, lead_ids: Iterable[str]) -> dict[str, StoredScore]:
    """The stored profiles and scores of these leads (absent ones are new), locked until the transaction ends: the
    profile is merged and written back whole, and during a rebalance the partition's old and new owner can hold
    the same lead for a moment."""
    wanted = sorted(set(lead_ids))
    await lock_rows(session, "scorer.profile", wanted, None)
    found: dict[str, StoredScore] = {}
    for chunk in _chunks(wanted):
        rows = await session.execute(_profiles_of(dialect_of(session)), {"lead_ids": list(chunk)})
        found |= {row["lead_id"]: _stored(row) for row in rows.mappings()}
    return found


async def page(session: AsyncSession, after: str, limit: int) -> dict[str, StoredScore]:
    """Profiles in lead_id order after `after`, for sweeps over every lead (merged ones included: callers skip
    them, and `after` moves on past them)."""
    rows = await session.execute(
        select(profiles).where(profiles.c.lead_id > after).order_by(profiles.c.lead_id).limit(limit)
    )
    return {row["lead_id"]: _stored(row) for row in rows.mappings()}


@cache
def _members_of(dialect: str) -> Select[Any]:
    return select(profiles.c.lead_id, profiles.c.merged_into).where(one_of(profiles.c.merged_into, "lead_ids", dialect))


async def members_of(session: AsyncSession, lead_ids: Iterable[str]) -> dict[str, list[str]]:
    """The leads merged into each of these: lead -> merged leads (one query; most leads have none)."""
    found: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(sorted(set(lead_ids))):
        rows = await session.execute(_members_of(dialect_of(session)), {"lead_ids": list(chunk)})
        for row in rows:
            found[row.merged_into].append(row.lead_id)
    return dict(found)


async def with_members(
    session: AsyncSession, stored: dict[str, Profile], history: dict[str, list[Activity]]
) -> tuple[dict[str, Profile], dict[str, list[Activity]]]:
    """What each lead is scored on once the leads merged into it count: its profile with their facts filling its
    gaps, and all their activities. Nothing is written: unmerging only has to clear the pointer."""
    members = await members_of(session, stored)
    if not members:
        return stored, history
    everyone = [m for merged in members.values() for m in merged]
    their = await _profiles_unlocked(session, everyone)
    their_history = await activities_of_many(session, everyone)
    profiles_out, history_out = dict(stored), {lead: list(h) for lead, h in history.items()}
    for lead_id, merged in members.items():
        profiles_out[lead_id] = combined(stored[lead_id], [their[m] for m in merged if m in their])
        joined = history_out.get(lead_id, []) + [a for m in merged for a in their_history.get(m, [])]
        history_out[lead_id] = sorted(joined, key=lambda a: a.occurred_at)
    return profiles_out, history_out


async def _profiles_unlocked(session: AsyncSession, lead_ids: list[str]) -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for chunk in _chunks(sorted(set(lead_ids))):
        rows = await session.execute(_profiles_of(dialect_of(session)), {"lead_ids": list(chunk)})
        found |= {row["lead_id"]: _stored(row).profile for row in rows.mappings()}
    return found


async def set_merged_into(session: AsyncSession, lead_ids: Sequence[str], into: str | None) -> None:
    """Point leads at the lead they are merged into, or (None) make them their own again."""
    if lead_ids:
        await session.execute(update(profiles).where(profiles.c.lead_id.in_(sorted(lead_ids))).values(merged_into=into))


async def add_activities(session: AsyncSession, new: Sequence[tuple[str, str, Activity]]) -> None:
    """Record activities as (lead_id, event_id, activity)."""
    rows = [
        {
            "lead_id": lead_id,
            "event_id": event_id,
            "activity_type": activity.activity_type.value,
            "occurred_at": activity.occurred_at,
            "minutes": activity.minutes,
        }
        for lead_id, event_id, activity in new
    ]
    for chunk in _chunks(rows):
        await session.execute(insert(activities), chunk)


async def activities_of_many(session: AsyncSession, lead_ids: Iterable[str]) -> dict[str, list[Activity]]:
    """Every activity of each lead, oldest first."""
    found: dict[str, list[Activity]] = defaultdict(list)
    for chunk in _chunks(sorted(set(lead_ids))):
        rows = await session.execute(_activities_of(dialect_of(session)), {"lead_ids": list(chunk)})
        for r in rows:
            found[r.lead_id].append(Activity(ActivityType(r.activity_type), aware(r.occurred_at), r.minutes))
    return found


@dataclass(frozen=True)
class ScoreRow:
    """Everything written for one lead's new score."""

    lead_id: str
    profile: Profile
    score: Score
    activity_count: int
    rules_version: str
    scored_at: datetime
    first_seen_at: datetime


async def save_many(session: AsyncSession, rows: Sequence[ScoreRow]) -> None:
    """Insert or update the profiles and scores of many leads."""
    values = [
        {
            "lead_id": r.lead_id,
            "name": r.profile.name,
            "email": r.profile.email,
            "utm_campaign": r.profile.campaign,
            "job_title": r.profile.job_title,
            "company": r.profile.company,
            "free_mail": r.profile.free_mail,
            "phone": r.profile.phone,
            "country": r.profile.country,
            "industry": r.profile.industry,
            "employees": r.profile.employees,
            "email_domain": r.profile.email_domain,
            "source": r.profile.source,
            "utm_source": r.profile.utm_source,
            "utm_medium": r.profile.utm_medium,
            "answers": dict(r.profile.answers),
            "fit": r.score.fit,
            "engagement": r.score.engagement,
            "score": r.score.score,
            "segment": r.score.segment.value,
            "grade": r.score.grade,
            "mql": r.score.mql,
            "probability": r.score.probability,
            "model_version": r.score.model_version,
            "factors": [f.model_dump() for f in r.score.factors],
            "activity_count": r.activity_count,
            "rules_version": r.rules_version,
            "scored_at": r.scored_at,
            "first_seen_at": r.first_seen_at,
        }
        for r in rows
    ]
    for chunk in _chunks(values):
        await upsert_many(session, profiles, ["lead_id"], list(chunk))


async def record_outcome(session: AsyncSession, lead_id: str, outcome: str, source: str, at: datetime) -> None:
    """Remember how a lead ended (imported history or a closed opportunity); the latest word wins."""
    await upsert(session, outcomes, {"lead_id": lead_id}, {"outcome": outcome, "source": source, "recorded_at": at})


async def set_owner(session: AsyncSession, lead_id: str, owner: str | None, at: datetime) -> None:
    """Who works the lead now, for the worklist's owner filter."""
    await upsert(session, owners, {"lead_id": lead_id}, {"owner": owner, "changed_at": at})


async def set_handoff(session: AsyncSession, lead_id: str, status: str, due_at: datetime | None, at: datetime) -> None:
    """Where the hand-off to the lead's owner stands, for the worklist's SLA clock."""
    pending = status in ("assigned", "breached")
    values = {"handoff_status": "pending" if status == "assigned" else status, "changed_at": at}
    await upsert(session, owners, {"lead_id": lead_id}, values | ({"handoff_due_at": due_at} if pending else {}))


async def labelled(session: AsyncSession) -> list[tuple[StoredScore, str, list[Activity], str]]:
    """Every scored lead with a recorded outcome: (profile and score, outcome, activities, lead_id)."""
    rows = (
        await session.execute(
            select(profiles, outcomes.c.outcome).join(outcomes, outcomes.c.lead_id == profiles.c.lead_id)
        )
    ).mappings()
    stored = {row["lead_id"]: (_stored(row), row["outcome"]) for row in rows}
    history = await activities_of_many(session, stored)
    return [(score, outcome, history.get(lead_id, []), lead_id) for lead_id, (score, outcome) in stored.items()]


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


async def erase(session: AsyncSession, lead_ids: Sequence[str]) -> None:
    """Delete everything the scorer holds of these leads: profile and score, owner, outcomes, activities."""
    for table in (activities, outcomes, owners, profiles):
        await session.execute(delete(table).where(table.c.lead_id.in_(list(lead_ids))))
