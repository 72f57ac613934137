"""The predictive model through the scorer's API, and decay re-scoring, on a real database."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.rules import DEFAULT_RULES
from services.scorer.active_model import ActiveModel
from services.scorer.commands.sweeps import rescore_for_decay
from services.scorer.domain.rules import ScoringRules
from services.scorer.handlers import subscription as scorer_subscription
from services.scorer.model_signing import DEVELOPMENT_KEY, ModelSigner
from services.scorer.persistence import model_store
from services.scorer.persistence.tables import models
from shared.db.database import Database
from shared.db.locks import lock_key
from shared.db.metadata import OUTBOX
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import decode, new_event
from shared.events.models import (
    Contact,
    EventPayload,
    LeadActivity,
    LeadCaptured,
    LeadOutcomeRecorded,
    LeadOwnerChanged,
    LeadScored,
    Source,
)
from shared.events.vocabulary import ActivityType
from shared.rules import load_rules_section
from tests.service.conftest import running_service
from tests.support import bearer, token_with

RULES, VERSION = load_rules_section(DEFAULT_RULES, "scoring", ScoringRules)


async def apply(database: Database, payloads: list[EventPayload]) -> None:
    """Apply events as the consumer does: in batches, in one unit of work each."""
    model = ActiveModel(database, ModelSigner([DEVELOPMENT_KEY]))
    await model.refresh()  # as the service does every model_refresh_s: loads the active version from the database
    subscription = scorer_subscription(RULES, VERSION, model)
    factory = UnitOfWorkFactory(database)
    for start in range(0, len(payloads), 200):
        async with factory() as uow:
            await subscription.apply(uow, [new_event(p, source="/test") for p in payloads[start : start + 200]])
            await uow.commit()


def history(n: int, seed: int = 3) -> tuple[list[EventPayload], list[uuid.UUID]]:  # events, lead ids
    """Imported leads whose conversion depends on occupation, with their outcomes."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    events: list[EventPayload] = []
    ids = []
    for _ in range(n):
        lead_id = uuid.UUID(int=rng.getrandbits(128))  # the split follows lead ids: the same every run
        occupation = rng.choice(["working professional", "student", "unemployed"])
        won = rng.random() < (0.8 if occupation == "working professional" else 0.1)
        source = Source(provider="import")
        events.append(
            LeadCaptured(
                lead_id=lead_id,
                contact=Contact(),
                source=source,
                answers={"occupation": occupation},
                external_id=str(lead_id),
                captured_at=now,
            )
        )
        events.append(
            LeadOutcomeRecorded(lead_id=lead_id, outcome="won" if won else "lost", source=source, recorded_at=now)
        )
        ids.append(lead_id)
    return events, ids


async def test_model_trains_activates_and_ranks_the_worklist(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service("scorer", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        admin, reader = bearer(), bearer(token_with("leads:read"))
        events, _ = history(300)

        await apply(database, events[:100])
        refused = await client.post("/v1/model/train", headers=admin)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "needs at least 200" in refused.json()["detail"] and "150 more outcomes" in refused.json()["detail"]
        assert (await client.post("/v1/model/train", headers=reader)).status_code == 403

        await apply(database, events[100:])
        trained = await client.post("/v1/model/train", headers=admin)
        assert trained.status_code == 201, trained.text
        result = trained.json()
        assert result["activated"] is True and result["status"] == "active"
        assert result["metrics"]["auc"] > 0.75 and result["repredicted_leads"] == 300
        assert "beats the rules score" in result["decision"]

        model = (await client.get("/v1/model", headers=reader)).json()
        assert model["active"]["version"] == result["version"]
        assert model["active"]["report"]["features"]["categorical"] == ["answer.occupation"]

        again = (await client.post("/v1/model/train", headers=admin)).json()
        assert again["status"] == "rejected" and "does not beat the active model" in again["decision"]
        assert (await client.get("/v1/model", headers=reader)).json()["active"]["version"] == result["version"]

        worklist = (await client.get("/v1/worklist?limit=300", headers=reader)).json()["items"]
        probabilities = [item["probability"] for item in worklist]
        assert probabilities == sorted(probabilities, reverse=True) and probabilities[0] > 0.5

        score = (await client.get(f"/v1/scores/{worklist[0]['lead_id']}", headers=reader)).json()
        why = [f for f in score["factors"] if f["kind"] == "model"]
        assert why[0]["name"] == "answer.occupation" and "working professional raises the odds" in why[0]["reason"]

        # New leads are scored with the active model as they arrive.
        fresh = uuid.uuid4()
        await apply(
            database,
            [
                LeadCaptured(
                    lead_id=fresh,
                    contact=Contact(email="pro@example.org"),
                    source=Source(provider="generic"),
                    answers={"occupation": "Working Professional"},
                    captured_at=datetime.now(UTC),
                ),
                LeadOwnerChanged(
                    lead_id=fresh, from_owner=None, to_owner="ana", reason="routed", changed_at=datetime.now(UTC)
                ),
            ],
        )
        assert (await client.get("/v1/worklist?owner=a%00b", headers=reader)).status_code == 422
        assert (await client.get("/v1/worklist?offset=9223372036854775808", headers=reader)).status_code == 422
        mine = (await client.get("/v1/worklist?owner=ana", headers=reader)).json()["items"]
        assert [item["lead_id"] for item in mine] == [str(fresh)]
        assert mine[0]["owner"] == "ana" and mine[0]["probability"] > 0.5 and mine[0]["model_version"] == 1


async def test_only_signed_models_are_loaded(database_url: str, kafka_bootstrap: str) -> None:
    """A joblib artefact runs code when loaded: one not signed with the scorer's key is never unpickled."""
    async with running_service("scorer", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        await apply(database, history(300)[0])
        trained = await client.post("/v1/model/train", headers=bearer())
        assert trained.status_code == 201 and trained.json()["status"] == "active"

        ours = ActiveModel(database, ModelSigner([DEVELOPMENT_KEY]))
        await ours.refresh()
        assert ours.model is not None
        stranger = ActiveModel(database, ModelSigner(["another-installation-key-0123456789"]))
        await stranger.refresh()
        assert stranger.model is None and stranger.refused == trained.json()["version"]

        # A row written by anyone but a scorer (a bare pickle, as before signing) is refused the same way.
        async with database.session() as session, session.begin():
            stored = await model_store.artifact(session, trained.json()["version"])
            bare = stored[len(b"LFM1") + 32 :]
            version = await model_store.store(
                session, status="active", trained_at=datetime.now(UTC), algorithm="x", report={}, blob=bare
            )
        await ours.refresh()
        assert ours.refused == version and ours.version == trained.json()["version"]  # keeps the signed one


async def test_decay_moves_a_quiet_lead_down_and_says_so(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service("scorer", database_url, kafka_bootstrap) as (_, _client, s):
        database = Database(s.database_url, s.database_schema)
        lead_id = uuid.uuid4()
        now = datetime.now(UTC)
        source = Source(provider="generic")
        await apply(
            database,
            [
                LeadCaptured(
                    lead_id=lead_id,
                    contact=Contact(email="cto@acme.io", job_title="CTO"),
                    source=source,
                    captured_at=now,
                ),
                *[
                    LeadActivity(lead_id=lead_id, activity_type=kind, occurred_at=now, source=source)
                    for kind in (ActivityType.MEETING_BOOKED, ActivityType.DEMO_REQUESTED)
                ],
            ],
        )
        factory = UnitOfWorkFactory(database)
        assert await rescore_for_decay(factory, RULES, VERSION) == 0  # nothing changed yet
        later = now + timedelta(days=120)
        assert await rescore_for_decay(factory, RULES, VERSION, clock=lambda: later) == 1
        assert await rescore_for_decay(factory, RULES, VERSION, clock=lambda: later) == 0  # announced once
        scored = await scored_events(database)
        assert scored[-1].previous_segment is not None and scored[-1].segment != scored[-1].previous_segment
        assert scored[-1].mql is False and len(scored) == 2


async def scored_events(database: Database) -> list[Any]:
    async with database.session() as session:
        rows = (await session.execute(select(OUTBOX.c.payload).order_by(OUTBOX.c.id))).scalars().all()
    return [p for p in (decode(r.encode()).payload for r in rows) if isinstance(p, LeadScored)]


async def test_one_training_at_a_time_across_processes_and_one_active_model(
    database_url: str, kafka_bootstrap: str
) -> None:
    """`leadflow train` beside POST /v1/model/train: the second is refused while the first holds the lock, and the
    database refuses a second active model whatever writes it."""
    async with running_service("scorer", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        events, _ = history(300)
        await apply(database, events)
        other_process = Database(s.database_url, s.database_schema)  # as `leadflow train` would hold it
        try:
            async with other_process.engine.connect() as held:
                key = lock_key("model_training", s.database_schema)
                assert await held.scalar(select(func.pg_try_advisory_lock(key)))
                busy = await client.post("/v1/model/train", headers=bearer())
                assert busy.status_code == 409 and "another training is running" in busy.json()["detail"]
                await held.scalar(select(func.pg_advisory_unlock(key)))
            trained = await client.post("/v1/model/train", headers=bearer())
            assert trained.status_code == 201 and trained.json()["status"] == "active"
            with pytest.raises(IntegrityError):
                async with database.session() as session, session.begin():
                    await model_store.store(
                        session, status="rejected", trained_at=datetime.now(UTC), algorithm="x", report={}, blob=b"x"
                    )
                    await session.execute(update(models).values(status=model_store.ACTIVE))
        finally:
            await other_process.dispose()
            await database.dispose()
