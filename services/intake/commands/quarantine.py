"""Quarantine: an authentic delivery that cannot become a lead yet waits here, visible, until a mapping is fixed
and it is replayed through the normal path (once: the delivery id makes a second replay a duplicate).

A provider whose deliveries are refused retries and then disables the webhook, and the lead is lost; so an
authentic delivery that cannot be mapped is answered 202 with `"quarantined": true` and kept here instead: its
raw body, the headers that matter, why it was refused, when it was first and last seen and how often. Bad
signatures are never kept (401). A lead the provider announced by id whose fetch kept failing lands here too.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import Update, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.intake.commands.capture import Arrival, accept
from services.intake.domain.refused import Refused
from services.intake.persistence import repository
from services.intake.persistence.tables import quarantine
from services.intake.webhooks.contract import RawRequest, WebhookAdapter
from services.intake.webhooks.signing import content_hash
from shared.db.batch_lookup import dialect_of
from shared.db.database import aware
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.metrics import Metrics

log = structlog.get_logger(__name__)

HELD, REPLAYED = "held", "replayed"
FETCH_PROVIDER_PREFIX = "fetch:"
# Headers an adapter may read when it parses (ids, content type); signatures and credentials are not kept.
_KEPT_HEADERS = frozenset({"content-type", "webhook-id", "x-hubspot-signature-version", "user-agent"})
_SECRET_QUERY = frozenset({"token", "access_token", "key", "secret"})
KINDS = ("unknown_shape", "no_email", "invalid_email", "invalid_field", "fetch_failed")


@dataclass(frozen=True)
class Held:
    """A quarantined delivery as ops see it."""

    id: int
    provider: str
    kind: str
    reason: str
    status: str
    deliveries: int
    first_seen_at: datetime
    last_seen_at: datetime
    replayed_at: datetime | None
    lead_id: str | None
    content_type: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Replayed:
    """What a replay did with one held delivery."""

    id: int
    status: str  # replayed, or held with a new reason
    lead_id: str | None
    reason: str | None


def refusal_kind(exc: Exception) -> str:
    """The metric label and filter for a refusal."""
    if isinstance(exc, ValidationError):
        return "invalid_field"
    return exc.kind if isinstance(exc, Refused) and exc.kind in KINDS else "unknown_shape"


def describe(exc: Exception) -> str:
    """What a person reads: the first validation error with its location, or the refusal's message."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
    return str(exc)


class Quarantine:
    """Holds refused deliveries and replays them."""

    def __init__(self, uow: UnitOfWorkFactory, metrics: Metrics) -> None:
        self.uow = uow
        self.held = Counter(
            "leadflow_webhooks_quarantined_total",
            "Authentic deliveries kept in quarantine instead of becoming a lead, by provider and kind",
            ["provider", "kind"],
            registry=metrics.registry,
        )

    async def hold(self, request: RawRequest, provider: str, exc: Exception) -> int:
        """Keep a refused delivery (once per body: a provider's retry counts another delivery); returns its id."""
        kind, reason = refusal_kind(exc), describe(exc)
        headers = {k: v for k, v in request.headers.items() if k in _KEPT_HEADERS}
        query = {k: v for k, v in request.query.items() if k not in _SECRET_QUERY}
        held_id = await self._keep(provider, content_hash(request.body), kind, reason, request.body, headers, query)
        self.held.labels(provider, kind).inc()
        log.warning("webhook.quarantined", provider=provider, kind=kind, quarantine_id=held_id, reason=reason[:300])
        return held_id

    async def hold_fetch(self, provider: str, external_id: str, context: dict[str, Any], error: str) -> int:
        """A lead announced by id whose fetch kept failing: kept with the last error, replayed by fetching again."""
        body = json.dumps({"external_id": external_id, "context": context}, default=str).encode()
        held_id = await self._keep(
            FETCH_PROVIDER_PREFIX + provider,
            f"{provider}:{external_id}"[:200],
            "fetch_failed",
            error,
            body,
            {"content-type": "application/json"},
            {},
        )
        self.held.labels(provider, "fetch_failed").inc()
        log.warning("enrichment.quarantined", provider=provider, quarantine_id=held_id, error=error[:300])
        return held_id

    async def _keep(
        self,
        provider: str,
        key: str,
        kind: str,
        reason: str,
        body: bytes,
        headers: dict[str, str],
        query: dict[str, str],
    ) -> int:
        now = datetime.now(UTC)
        async with self.uow() as uow:
            session = uow.session
            insert = postgresql_insert if dialect_of(session) == "postgresql" else sqlite_insert
            statement = insert(quarantine).values(
                provider=provider,
                delivery_key=key,
                kind=kind,
                reason=reason,
                body=body,
                content_type=headers.get("content-type", ""),
                headers=headers,
                query=query,
                status=HELD,
                deliveries=1,
                first_seen_at=now,
                last_seen_at=now,
            )
            upsert = statement.on_conflict_do_update(
                index_elements=["provider", "delivery_key"],
                set_={
                    "deliveries": quarantine.c.deliveries + 1,
                    "last_seen_at": now,
                    "kind": kind,
                    "reason": reason,
                },
            ).returning(quarantine.c.id)
            held_id = int((await session.execute(upsert)).scalar_one())
            await uow.commit()
        return held_id

    async def listed(self, *, provider: str | None = None, status: str | None = HELD, limit: int = 100) -> list[Held]:
        """Held (or all) deliveries, newest first."""
        query = select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)
        if provider is not None:
            query = query.where(quarantine.c.provider == provider)
        if status is not None:
            query = query.where(quarantine.c.status == status)
        async with self.uow.database.session() as session:
            rows = (await session.execute(query)).mappings().all()
        return [_held(row) for row in rows]

    async def get(self, held_id: int) -> Held | None:
        """One held delivery, with its body."""
        async with self.uow.database.session() as session:
            row = (await session.execute(select(quarantine).where(quarantine.c.id == held_id))).mappings().first()
        return _held(row) if row else None

    async def replay(self, ids: list[int] | None, adapters: Mapping[str, WebhookAdapter]) -> list[Replayed]:
        """Parse each held delivery again (with the adapters' current mapping) and accept it the normal way; one
        still refused stays held with the new reason. Fetch failures are queued to be fetched again."""
        chosen = [h for h in await self.listed(status=HELD, limit=10_000) if ids is None or h.id in ids]
        outcomes = []
        for held in reversed(chosen):  # oldest first
            outcomes.append(await self._replay_one(held, adapters))
        return outcomes

    async def _replay_one(self, held: Held, adapters: Mapping[str, WebhookAdapter]) -> Replayed:
        if held.provider.startswith(FETCH_PROVIDER_PREFIX):
            stored = json.loads(held.body)
            provider = held.provider.removeprefix(FETCH_PROVIDER_PREFIX)
            async with self.uow() as uow:  # the running intake's enricher fetches it again on its next run
                await repository.requeue_enrichment(uow.session, provider, stored["external_id"], stored["context"])
                await uow.session.execute(_replayed(held.id, None))
                await uow.commit()
            return Replayed(held.id, REPLAYED, None, None)
        adapter = adapters.get(held.provider)
        if adapter is None:
            return Replayed(held.id, HELD, None, f"no adapter for {held.provider!r}")
        request = RawRequest("POST", "", dict(held.headers), dict(held.query), held.body)
        try:
            parsed = adapter.parse(request)
        except (Refused, ValidationError) as exc:
            await self._still_refused(held.id, refusal_kind(exc), describe(exc))
            return Replayed(held.id, HELD, None, describe(exc))
        result = await accept(self.uow, Arrival(adapter.name, parsed))
        await self._mark(held.id, result.lead_id)
        log.info("webhook.replayed", provider=held.provider, quarantine_id=held.id, lead_id=result.lead_id)
        return Replayed(held.id, REPLAYED, result.lead_id, None)

    async def _mark(self, held_id: int, lead_id: str | None) -> None:
        async with self.uow.database.session() as session, session.begin():
            await session.execute(_replayed(held_id, lead_id))

    async def _still_refused(self, held_id: int, kind: str, reason: str) -> None:
        async with self.uow.database.session() as session, session.begin():
            await session.execute(update(quarantine).where(quarantine.c.id == held_id).values(kind=kind, reason=reason))


def _replayed(held_id: int, lead_id: str | None) -> Update:
    return (
        update(quarantine)
        .where(quarantine.c.id == held_id)
        .values(status=REPLAYED, replayed_at=datetime.now(UTC), lead_id=lead_id)
    )


def _held(row: Any) -> Held:
    return Held(
        id=row["id"],
        provider=row["provider"],
        kind=row["kind"],
        reason=row["reason"],
        status=row["status"],
        deliveries=row["deliveries"],
        first_seen_at=aware(row["first_seen_at"]),
        last_seen_at=aware(row["last_seen_at"]),
        replayed_at=aware(row["replayed_at"]) if row["replayed_at"] else None,
        lead_id=row["lead_id"],
        content_type=row["content_type"],
        headers=dict(row["headers"] or {}),
        query=dict(row["query"] or {}),
        body=bytes(row["body"]),
    )
