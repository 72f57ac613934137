"""Managing subscriptions: add, list, remove, enable again, replay deliveries. The API and the CLI call these."""

import base64
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import delete, insert

from services.notifier.domain.subscriptions import SubscriptionError, Wanted
from services.notifier.persistence import repository
from services.notifier.persistence.tables import attempts, deliveries, subscriptions
from shared.db.unit_of_work import UnitOfWorkFactory

Format = Literal["standard", "slack"]


class UnknownSubscription(LookupError):
    """No subscription has this id."""


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def checked_url(url: str, *, plain_http: bool) -> str:
    """An endpoint URL: https, or http where allowed (development, tests, `LEADFLOW_ALLOW_PLAIN_HTTP`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SubscriptionError(f"the endpoint must be an absolute https:// URL, not {url!r}")
    if parts.scheme == "http" and not plain_http:
        raise SubscriptionError("the endpoint must be https: deliveries carry names and a signature")
    return url


def checked_secret(secret: str) -> str:
    """A `whsec_<base64>` secret of at least 16 bytes."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError as exc:
        raise SubscriptionError("the secret must be whsec_ followed by base64") from exc
    if not secret.startswith("whsec_") or len(key) < 16:
        raise SubscriptionError("the secret must be whsec_ followed by at least 16 bytes in base64")
    return secret


class Subscriptions:
    """Subscriptions in the notifier's database."""

    def __init__(self, uow: UnitOfWorkFactory, *, plain_http: bool) -> None:
        self._uow = uow
        self._plain_http = plain_http

    async def add(
        self,
        *,
        url: str,
        event_types: list[str],
        filters: dict[str, str],
        format: Format,
        secret: str | None,
        description: str | None,
        actor: str,
    ) -> dict[str, Any]:
        """A new subscription; its secret is generated unless one is given. SubscriptionError says what to fix."""
        wanted = Wanted.checked(event_types, filters)
        row = {
            "subscription_id": str(uuid.uuid4()),
            "url": checked_url(url, plain_http=self._plain_http),
            "event_types": list(wanted.event_types),
            "filters": dict(wanted.filters),
            "format": format,
            "secret": checked_secret(secret) if secret else new_secret(),
            "description": description,
            "created_by": actor,
            "created_at": datetime.now(UTC),
            "failures": 0,
            "failing_since": None,
            "next_attempt_at": None,
            "disabled_at": None,
            "disabled_reason": None,
        }
        async with self._uow() as uow:
            await uow.session.execute(insert(subscriptions).values(row))
            await uow.commit()
        return row

    async def listed(self) -> list[dict[str, Any]]:
        """Every subscription with its pending count."""
        async with self._uow() as uow:
            found = await repository.all_subscriptions(uow.session)
            depths = await repository.queue_depths(uow.session)
        return [s | {"pending": depths.get(s["subscription_id"], 0)} for s in found]

    async def get(self, subscription_id: str) -> dict[str, Any]:
        """One subscription with its pending count; UnknownSubscription when there is none."""
        async with self._uow() as uow:
            found = await repository.subscription(uow.session, subscription_id)
            depths = await repository.queue_depths(uow.session)
        if found is None:
            raise UnknownSubscription(subscription_id)
        return found | {"pending": depths.get(subscription_id, 0)}

    async def remove(self, subscription_id: str) -> None:
        """Remove a subscription, its queue and its log."""
        async with self._uow() as uow:
            if await repository.subscription(uow.session, subscription_id) is None:
                raise UnknownSubscription(subscription_id)
            theirs = deliveries.c.subscription_id == subscription_id
            about = deliveries.select().with_only_columns(deliveries.c.delivery_id).where(theirs)
            await uow.session.execute(delete(attempts).where(attempts.c.delivery_id.in_(about)))
            await uow.session.execute(delete(deliveries).where(theirs))
            await uow.session.execute(delete(subscriptions).where(subscriptions.c.subscription_id == subscription_id))
            await uow.commit()

    async def enable(self, subscription_id: str) -> dict[str, Any]:
        """Enable a disabled endpoint again: its queue is delivered from where it stopped, now."""
        async with self._uow() as uow:
            if await repository.subscription(uow.session, subscription_id) is None:
                raise UnknownSubscription(subscription_id)
            await repository.endpoint_state(
                uow.session,
                subscription_id,
                disabled_at=None,
                disabled_reason=None,
                failing_since=None,
                failures=0,
                next_attempt_at=None,
            )
            await uow.commit()
        return await self.get(subscription_id)

    async def replay(
        self,
        subscription_id: str,
        *,
        delivery_id: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int:
        """Deliver again one delivery, or those queued in [start, end); how many were queued again."""
        async with self._uow() as uow:
            if await repository.subscription(uow.session, subscription_id) is None:
                raise UnknownSubscription(subscription_id)
            count = await repository.requeue(
                uow.session, subscription_id, delivery_id=delivery_id, start=start, end=end
            )
            await repository.endpoint_state(uow.session, subscription_id, next_attempt_at=None)
            await uow.commit()
        return count
