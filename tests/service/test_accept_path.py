"""Intake's one accept path (`commands/capture.stage`): a direct capture, a webhook group and an import chunk are
all a group of deliveries staged in one unit of work, whatever each delivery carries."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.intake.bootstrap import MIGRATIONS
from services.intake.commands.capture import Arrival, IdempotencyMismatch, stage
from services.intake.domain.capture import Submission
from services.intake.persistence.tables import deliveries, identity_links, leads, webinar_joins
from services.intake.webhooks.contract import Parsed, WebinarJoin
from shared.db import migrations
from shared.db.database import Database, sqlite_url_for
from shared.db.metadata import OUTBOX
from shared.db.unit_of_work import UnitOfWork

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = sqlite_url_for(tmp_path, "intake")
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url, None)  # Alembic runs its own event loop
    db = Database(url)
    yield db
    await db.dispose()


def arrival(delivery_id: str, *items: Submission, provider: str = "generic", **parsed: object) -> Arrival:
    return Arrival(provider, Parsed(delivery_id, items, **parsed))  # type: ignore[arg-type]


async def staged(database: Database, arrivals: list[Arrival]) -> list[tuple[str | None, bool]]:
    async with UnitOfWork(database) as uow:
        results = await stage(uow, arrivals)
        await uow.commit()
    return [(r.lead_id, r.duplicate) for r in results]


async def count(database: Database, table: object, *where: object) -> int:
    async with database.session() as session:
        return int((await session.execute(select(func.count()).select_from(table).where(*where))).scalar_one())  # type: ignore[arg-type]


async def test_a_mixed_group_is_staged_together_and_each_sender_gets_its_own_answer(database: Database) -> None:
    ann = Submission("generic", NOW, email="ann@northwind.com", job_title="CFO")
    ann_again = Submission("generic", NOW, email="ann@northwind.com", phone="+1 555 0100")
    bob = Submission("calendly", NOW, email="bob@northwind.com", external_id="inv-7")
    first = await staged(database, [arrival("before", Submission("generic", NOW, email="cy@northwind.com"))])
    answers = await staged(
        database,
        [
            arrival("d1", ann),
            arrival("d2", bob, provider="calendly"),  # a source's own id: linked one by one, in the same group
            arrival("d1", ann),  # the same delivery again within the group
            arrival("before", Submission("generic", NOW, email="cy@northwind.com")),  # accepted before
            arrival("d3", ann_again),  # the same person as d1: one profile with both
        ],
    )
    assert [duplicate for _, duplicate in answers] == [False, False, True, True, False]
    assert answers[0][0] == answers[2][0] == answers[4][0] and answers[3] == (first[0][0], True)
    assert await count(database, deliveries) == 4  # before, d1, d2, d3
    assert await count(database, OUTBOX) == 4  # one lead.captured each for cy, ann, bob, ann again
    async with database.session() as session:
        profile = (await session.execute(select(leads).where(leads.c.lead_id == answers[0][0]))).mappings().one()
        links = set((await session.execute(select(identity_links.c.key))).scalars())
    assert (profile["job_title"], profile["phone"]) == ("CFO", "+1 555 0100")
    assert "external:calendly:inv-7" in links


async def test_a_webinar_join_in_the_group_times_the_attendance_that_follows(database: Database) -> None:
    joined = WebinarJoin("w1", "dee@northwind.com", NOW - timedelta(minutes=42))
    attended = Submission("zoom", NOW, email="dee@northwind.com", engagement_only=True, answers={"webinar_id": "w1"})
    await staged(database, [arrival("reg", Submission("zoom", NOW, email="dee@northwind.com"), provider="zoom")])
    await staged(database, [arrival("j1", provider="zoom", joins=(joined,)), arrival("a1", attended, provider="zoom")])
    assert await count(database, webinar_joins) == 1
    async with database.session() as session:
        payload = (await session.execute(select(OUTBOX.c.payload).order_by(OUTBOX.c.id.desc()).limit(1))).scalar_one()
    assert '"minutes":42.0' in payload.replace(" ", "")


async def test_a_key_used_again_with_another_request_is_refused_and_the_group_stores_nothing(
    database: Database,
) -> None:
    ann = Submission("api", NOW, email="ann@northwind.com")
    await staged(database, [Arrival("api", Parsed("key-1", (ann,)), request_hash="a")])
    assert await staged(database, [Arrival("api", Parsed("key-1", (ann,)), request_hash="a")]) == [
        (str(ann.lead_id), True)
    ]
    with pytest.raises(IdempotencyMismatch):
        await staged(
            database,
            [
                arrival("other", Submission("api", NOW, email="eve@northwind.com")),
                Arrival("api", Parsed("key-1", (ann,)), request_hash="b"),
            ],
        )
    assert await count(database, deliveries) == 1


async def test_deliveries_without_an_id_are_never_taken_for_each_other(database: Database) -> None:
    one = Submission("api", NOW, email="one@northwind.com")
    two = Submission("api", NOW, email="two@northwind.com")
    answers = await staged(database, [arrival("", one), arrival("", two)])
    assert [duplicate for _, duplicate in answers] == [False, False]
    assert await count(database, deliveries) == 0 and await count(database, OUTBOX) == 2
