"""Reads and writes of the scorer's tables, inside the caller's unit of work."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scorer.domain.scoring import Activity, Profile, Score
from services.scorer.persistence.tables import activities, outcomes, profiles
from shared.db.upsert import upsert
from shared.events.vocabulary import ActivityType, Segment


@dataclass(frozen=True)
class StoredScore:
    """A lead's profile and its last score as stored."""

    profile: Profile
    score: float
    segment: Segment
    mql: bool
    row: dict[str, Any]


async def load(session: AsyncSession, lead_id: str) -> StoredScore | None:
    """The stored profile and score of a lead."""
    row = (await session.execute(select(profiles).where(profiles.c.lead_id == lead_id))).mappings().first()
    if row is None:
        return None
    profile = Profile(
        job_title=row["job_title"],
        company=row["company"],
        free_mail=row["free_mail"],
        phone=row["phone"],
        country=row["country"],
    )
    return StoredScore(profile, row["score"], Segment(row["segment"]), row["mql"], dict(row))


async def add_activity(session: AsyncSession, lead_id: str, event_id: str, activity: Activity) -> None:
    """Record one activity of a lead."""
    await session.execute(
        insert(activities).values(
            lead_id=lead_id,
            event_id=event_id,
            activity_type=activity.activity_type.value,
            occurred_at=activity.occurred_at,
            minutes=activity.minutes,
        )
    )


async def activities_of(session: AsyncSession, lead_id: str) -> list[Activity]:
    """Every activity of a lead, oldest first."""
    rows = await session.execute(
        select(activities.c.activity_type, activities.c.occurred_at, activities.c.minutes)
        .where(activities.c.lead_id == lead_id)
        .order_by(activities.c.occurred_at)
    )
    return [Activity(ActivityType(r.activity_type), _aware(r.occurred_at), r.minutes) for r in rows]


async def save(
    session: AsyncSession,
    lead_id: str,
    profile: Profile,
    score: Score,
    *,
    activity_count: int,
    rules_version: str,
    scored_at: datetime,
    is_new: bool,
) -> None:
    """Insert or update a lead's profile and score."""
    values = {
        "job_title": profile.job_title,
        "company": profile.company,
        "free_mail": profile.free_mail,
        "phone": profile.phone,
        "country": profile.country,
        "fit": score.fit,
        "engagement": score.engagement,
        "score": score.score,
        "segment": score.segment.value,
        "mql": score.mql,
        "factors": [f.model_dump() for f in score.factors],
        "activity_count": activity_count,
        "rules_version": rules_version,
        "scored_at": scored_at,
    }
    if is_new:
        await session.execute(insert(profiles).values(lead_id=lead_id, **values))
    else:
        await session.execute(update(profiles).where(profiles.c.lead_id == lead_id).values(**values))


async def record_outcome(session: AsyncSession, lead_id: str, outcome: str, source: str, at: datetime) -> None:
    """Remember how a lead ended (imported history or a closed opportunity); the latest word wins."""
    await upsert(session, outcomes, {"lead_id": lead_id}, {"outcome": outcome, "source": source, "recorded_at": at})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
