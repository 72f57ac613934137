"""Ops' view of the quarantine: what waits and why, and replaying it once the mapping is fixed."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from services.intake.commands.quarantine import HELD, Held, Quarantine
from services.intake.webhooks.contract import WebhookAdapter
from shared.http.auth import Scope, TokenAuthority
from shared.http.openapi_problems import declared
from shared.http.problems import Problem


class HeldOut(BaseModel):
    """A quarantined delivery: who sent it, why it is not a lead yet, how often it came."""

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
    size: int

    @classmethod
    def of(cls, held: Held) -> "HeldOut":
        """From the stored row."""
        fields = {name: getattr(held, name) for name in cls.model_fields if name != "size"}
        return cls(**fields, size=len(held.body))


class HeldDetail(HeldOut):
    """With the raw body as it arrived (decoded as UTF-8, undecodable bytes replaced)."""

    body: str
    headers: dict[str, str]


# The largest id the table's bigint holds: a larger one in a path was a database error, a 500.
_MAX_ID = 2**63 - 1


class ReplayIn(BaseModel):
    """Which held deliveries to replay; all of them when omitted."""

    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(None, max_length=10_000)


class ReplayOut(BaseModel):
    """What became of each replayed delivery."""

    id: int
    status: str
    lead_id: str | None
    reason: str | None


def quarantine_router(
    quarantine: Quarantine,
    tokens: TokenAuthority,
    adapters: Mapping[str, WebhookAdapter],
) -> APIRouter:
    """Routes over the quarantine; raw bodies carry personal data, so every route needs `admin`."""
    router = APIRouter(
        prefix="/v1/quarantine", tags=["quarantine"], dependencies=[Depends(tokens.require(Scope.ADMIN))]
    )

    @router.get("", response_model=list[HeldOut], summary="Deliveries kept because they could not become a lead")
    async def list_held(
        provider: Annotated[str | None, Query(max_length=60, pattern=r"^[a-z:_]+$")] = None,
        status: Annotated[str | None, Query(pattern=r"^(held|replayed|all)$")] = HELD,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[HeldOut]:
        found = await quarantine.listed(provider=provider, status=None if status == "all" else status, limit=limit)
        return [HeldOut.of(h) for h in found]

    @router.get(
        "/{held_id}",
        response_model=HeldDetail,
        summary="One held delivery with its raw body",
        responses=declared(404),
    )
    async def get_held(held_id: Annotated[int, Path(ge=1, le=_MAX_ID)]) -> HeldDetail:
        held = await quarantine.get(held_id)
        if held is None:
            raise Problem(404, "Not found", f"no quarantined delivery {held_id}")
        return HeldDetail(
            **HeldOut.of(held).model_dump(), body=held.body.decode(errors="replace"), headers=held.headers
        )

    @router.post(
        "/replay",
        response_model=list[ReplayOut],
        summary="Parse held deliveries again with the current mapping and accept those that now make a lead",
    )
    async def replay(body: ReplayIn) -> list[ReplayOut]:
        outcomes = await quarantine.replay(body.ids, adapters)
        return [ReplayOut(id=o.id, status=o.status, lead_id=o.lead_id, reason=o.reason) for o in outcomes]

    return router
