"""Delivering the queues: each endpoint's pending deliveries in order, signed with Standard Webhooks.

Every endpoint is a queue of its own: a receiver that is down or slow holds back only its own deliveries. An
endpoint is served by one replica at a time (an advisory lock per endpoint), in order, and stops at the first
failure: it is tried again after an exponential backoff with jitter, for up to a day of failures, then disabled
until someone enables it again. A 410 Gone disables it at once (the receiver says it is gone for good)."""

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from standardwebhooks.webhooks import Webhook

from services.notifier.domain.retry import next_delay_s
from services.notifier.metrics import NotifierMetrics
from services.notifier.persistence import repository
from services.notifier.settings import NotifierSettings
from shared.db.database import Database, aware
from shared.db.locks import exclusive

log = structlog.get_logger(__name__)

_USER_AGENT = "leadflow-notifier/1.0"


class Deliverer:
    """Started every `delivery_interval_s` on every replica: serves each due endpoint not already being served."""

    def __init__(
        self,
        database: Database,
        settings: NotifierSettings,
        metrics: NotifierMetrics,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._settings = settings
        self._metrics = metrics
        self._client = client or httpx.AsyncClient(
            timeout=settings.delivery_timeout_s, follow_redirects=False, headers={"user-agent": _USER_AGENT}
        )
        self._clock = clock
        self._serving: dict[str, asyncio.Task[None]] = {}

    async def tick(self) -> None:
        """Start serving every due endpoint this replica is not serving already."""
        self._serving = {sid: task for sid, task in self._serving.items() if not task.done()}
        room = self._settings.delivery_concurrency - len(self._serving)
        if room <= 0:
            return
        async with self._database.session() as session:
            due = await repository.due_endpoints(session, self._clock(), room + len(self._serving))
        for subscription_id in due:
            if subscription_id not in self._serving and len(self._serving) < self._settings.delivery_concurrency:
                self._serving[subscription_id] = asyncio.create_task(
                    self._serve(subscription_id), name=f"notifier.endpoint.{subscription_id}"
                )

    async def drain(self) -> None:
        """Wait for the endpoints being served (tests, shutdown)."""
        if self._serving:
            await asyncio.gather(*self._serving.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop serving and close the HTTP client."""
        for task in self._serving.values():
            task.cancel()
        await self.drain()
        await self._client.aclose()

    async def _serve(self, subscription_id: str) -> None:
        try:
            async with exclusive(self._database, f"notifier.endpoint:{subscription_id}") as mine:
                if mine:  # else another replica is serving it
                    await self._deliver(subscription_id)
        except Exception:
            log.exception("notifier.endpoint_failed", subscription_id=subscription_id)

    async def _deliver(self, subscription_id: str) -> None:
        async with self._database.session() as session:
            endpoint = await repository.subscription(session, subscription_id)
            if endpoint is None or endpoint["disabled_at"] is not None:
                return
            batch = await repository.next_pending(session, subscription_id, self._settings.delivery_batch)
        for delivery in batch:
            status, error, latency_ms = await self._send(endpoint, delivery)
            delivered = status is not None and 200 <= status < 300
            await self._record(endpoint, delivery, status, error, latency_ms, delivered)
            if not delivered:
                return

    async def _send(self, endpoint: dict[str, Any], delivery: dict[str, Any]) -> tuple[int | None, str | None, float]:
        sent = self._clock()
        headers = {"content-type": "application/json"}
        if endpoint["format"] == "standard":
            message_id = f"msg_{delivery['event_id']}"  # the same on every retry: receivers drop repeats by it
            signature = Webhook(endpoint["secret"]).sign(message_id, sent, delivery["body"])
            headers |= {
                "webhook-id": message_id,
                "webhook-timestamp": str(int(sent.timestamp())),
                "webhook-signature": signature,
            }
        started = time.perf_counter()
        try:
            response = await self._client.post(endpoint["url"], content=delivery["body"].encode(), headers=headers)
        except httpx.TimeoutException:
            return None, f"no answer within {self._settings.delivery_timeout_s:g} s", _ms(started)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500], _ms(started)
        error = None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
        return response.status_code, error, _ms(started)

    async def _record(
        self,
        endpoint: dict[str, Any],
        delivery: dict[str, Any],
        status: int | None,
        error: str | None,
        latency_ms: float,
        delivered: bool,
    ) -> None:
        now = self._clock()
        subscription_id = endpoint["subscription_id"]
        self._metrics.delivered(endpoint["format"], delivered, latency_ms / 1000)
        async with self._database.session() as session, session.begin():
            await repository.record_attempt(
                session,
                delivery["delivery_id"],
                at=now,
                status=status,
                error=error,
                latency_ms=latency_ms,
                delivered=delivered,
            )
            if delivered:
                if endpoint["failures"]:
                    await repository.endpoint_state(
                        session, subscription_id, failing_since=None, failures=0, next_attempt_at=None
                    )
                    endpoint["failures"], endpoint["failing_since"] = 0, None
                return
            await repository.endpoint_state(session, subscription_id, **self._after_failure(endpoint, status, now))

    def _after_failure(self, endpoint: dict[str, Any], status: int | None, now: datetime) -> dict[str, Any]:
        failures = int(endpoint["failures"] or 0) + 1
        since = aware(endpoint["failing_since"]) if endpoint["failing_since"] else now
        if status == 410:
            reason = "the endpoint answered 410 Gone"
        elif now - since >= timedelta(seconds=self._settings.disable_after_s):
            reason = f"failing since {since.isoformat()} ({failures} attempts in a row)"
        else:
            delay = next_delay_s(failures, max_delay_s=self._settings.retry_max_delay_s)
            return {"failing_since": since, "failures": failures, "next_attempt_at": now + timedelta(seconds=delay)}
        log.warning("notifier.endpoint_disabled", subscription_id=endpoint["subscription_id"], reason=reason)
        self._metrics.disabled.inc()
        return {"failing_since": since, "failures": failures, "disabled_at": now, "disabled_reason": reason}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
