"""Notifier's routes: subscriptions, their delivery log, enabling an endpoint again, replays. All need `admin`:
a subscription sends names and deals to a URL of the caller's choosing."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from services.notifier.api.schemas import (
    AttemptOut,
    DeliveryOut,
    ReplayIn,
    ReplayOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)
from services.notifier.commands.subscriptions import Subscriptions, UnknownSubscription
from services.notifier.domain.subscriptions import SubscriptionError
from services.notifier.persistence import repository
from shared.db.database import Database
from shared.http.auth import Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem


def notifier_router(database: Database, tokens: TokenAuthority, subscriptions: Subscriptions) -> APIRouter:
    """Subscription management."""
    router = APIRouter(prefix="/v1/subscriptions", tags=["notifier"])
    admin = Annotated[str, Depends(tokens.actor(Scope.ADMIN))]
    missing = declared(_404="no such subscription")

    @router.post(
        "",
        response_model=SubscriptionCreated,
        status_code=201,
        summary="Subscribe an endpoint to events (with filters such as segment=hot or stage=opportunity)",
        responses=declared(_422="an unknown event type, a filter the chosen types do not carry, a bad URL"),
    )
    async def add(body: SubscriptionIn, actor: admin) -> SubscriptionCreated:
        try:
            row = await subscriptions.add(
                url=body.url,
                event_types=body.event_types,
                filters=body.filters,
                format=body.format,
                secret=body.secret,
                description=body.description,
                actor=actor,
            )
        except SubscriptionError as exc:
            raise Problem(422, "Invalid request", str(exc)) from exc
        return SubscriptionCreated.model_validate(row | {"pending": 0})

    @router.get("", response_model=list[SubscriptionOut], summary="Every subscription and its queue")
    async def listed(_: admin) -> list[SubscriptionOut]:
        return [SubscriptionOut.model_validate(s) for s in await subscriptions.listed()]

    @router.get("/{subscription_id}", response_model=SubscriptionOut, summary="One subscription", responses=missing)
    async def one(subscription_id: UUID, _: admin) -> SubscriptionOut:
        with _known(subscription_id):
            return SubscriptionOut.model_validate(await subscriptions.get(str(subscription_id)))

    @router.delete(
        "/{subscription_id}", status_code=204, summary="Remove a subscription, its queue and log", responses=missing
    )
    async def remove(subscription_id: UUID, _: admin) -> Response:
        with _known(subscription_id):
            await subscriptions.remove(str(subscription_id))
        return Response(status_code=204)

    @router.post(
        "/{subscription_id}/enable",
        response_model=SubscriptionOut,
        summary="Enable a disabled endpoint: its queue is delivered from where it stopped",
        responses=missing,
    )
    async def enable(subscription_id: UUID, _: admin) -> SubscriptionOut:
        with _known(subscription_id):
            return SubscriptionOut.model_validate(await subscriptions.enable(str(subscription_id)))

    @router.get(
        "/{subscription_id}/deliveries",
        response_model=list[DeliveryOut],
        summary="The delivery log: each delivery's status, attempts and latency, newest first",
        responses=missing,
    )
    async def log(
        subscription_id: UUID,
        _: admin,
        status: Literal["pending", "delivered"] | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[DeliveryOut]:
        async with database.session() as session:
            if await repository.subscription(session, str(subscription_id)) is None:
                raise Problem(404, "Not found", f"no subscription {subscription_id}")
            found = await repository.delivery_log(session, str(subscription_id), status=status, limit=limit)
            tries = await repository.attempts_of(session, [d["delivery_id"] for d in found])
        return [
            DeliveryOut.model_validate(d | {"tries": [AttemptOut.model_validate(a) for a in tries[d["delivery_id"]]]})
            for d in found
        ]

    @router.post(
        "/{subscription_id}/replay",
        response_model=ReplayOut,
        summary="Deliver again one delivery, or every delivery queued in a time range",
        responses=missing,
    )
    async def replay(subscription_id: UUID, body: ReplayIn, _: admin) -> ReplayOut:
        with _known(subscription_id):
            count = await subscriptions.replay(
                str(subscription_id), delivery_id=body.delivery_id, start=body.start, end=body.end
            )
        return ReplayOut(requeued=count)

    return router


@contextmanager
def _known(subscription_id: UUID) -> Iterator[None]:
    """An unknown subscription is a 404."""
    try:
        yield
    except UnknownSubscription as exc:
        raise Problem(404, "Not found", f"no subscription {subscription_id}") from exc
