"""Model versions in the database: the artefact, its validation report and whether it is the active one."""

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scorer.persistence.tables import models

ACTIVE, RETIRED, REJECTED = "active", "retired", "rejected"


async def active_version(session: AsyncSession) -> int | None:
    """The version in use, if any."""
    found = await session.execute(select(models.c.version).where(models.c.status == ACTIVE))
    return found.scalar_one_or_none()


async def artifact(session: AsyncSession, version: int) -> bytes:
    """The stored model of one version."""
    found = await session.execute(select(models.c.artifact).where(models.c.version == version))
    return bytes(found.scalar_one())


async def store(
    session: AsyncSession, *, status: str, trained_at: datetime, algorithm: str, report: dict[str, Any], blob: bytes
) -> int:
    """Keep a trained model; an `active` one retires the previous active version in the same transaction."""
    if status == ACTIVE:
        await session.execute(update(models).where(models.c.status == ACTIVE).values(status=RETIRED))
    result = await session.execute(
        insert(models)
        .values(trained_at=trained_at, status=status, algorithm=algorithm, report=report, artifact=blob)
        .returning(models.c.version)
    )
    return int(result.scalar_one())


_REPORT = select(models.c.version, models.c.trained_at, models.c.status, models.c.algorithm, models.c.report)


async def reports(session: AsyncSession, limit: int) -> list[dict[str, Any]]:
    """The newest versions without their artefacts."""
    rows = await session.execute(_REPORT.order_by(models.c.version.desc()).limit(limit))
    return [dict(row) for row in rows.mappings()]


async def active_report(session: AsyncSession) -> dict[str, Any] | None:
    """The active version without its artefact."""
    row = (await session.execute(_REPORT.where(models.c.status == ACTIVE))).mappings().first()
    return dict(row) if row else None
