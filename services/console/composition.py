"""One view of a lead, composed from what each service owns: who it is (intake), its score and what it did
(scorer), where it stands and why (qualifier). The parts are asked for at once; a service that does not answer
leaves its part empty and named, and the rest is still shown."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from services.console.upstream import Refused, Unavailable, Upstream


class LeadNotFound(Exception):
    """No service knows the lead."""


@dataclass(frozen=True)
class LeadView:
    """A lead as the people who work it see it."""

    lead_id: str
    contact: dict[str, Any] | None
    score: dict[str, Any] | None
    timeline: list[dict[str, Any]]
    qualification: dict[str, Any] | None
    unavailable: dict[str, str] = field(default_factory=dict)  # part → why it is missing

    @property
    def name(self) -> str:
        """The person's name, or the best stand-in for it."""
        for source in (self.contact or {}, self.qualification or {}, self.score or {}):
            if source.get("name"):
                return str(source["name"])
            first, last = source.get("first_name"), source.get("last_name")
            if first or last:
                return " ".join(p for p in (first, last) if p)
        for source in (self.contact or {}, self.qualification or {}, self.score or {}):
            if source.get("email"):
                return str(source["email"])
        return self.lead_id


_PARTS = {
    "contact": ("intake", "/v1/leads/{id}/contact"),
    "score": ("scorer", "/v1/scores/{id}"),
    "timeline": ("scorer", "/v1/scores/{id}/timeline"),
    "qualification": ("qualifier", "/v1/leads/{id}"),
}


async def lead_view(upstream: Upstream, token: str, lead_id: str) -> LeadView:
    """The lead's view; LeadNotFound when no service knows it; Refused when a service refuses the token."""
    answers = await asyncio.gather(
        *(upstream.get(service, path.format(id=lead_id), token) for service, path in _PARTS.values()),
        return_exceptions=True,
    )
    parts: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    missing = 0
    for name, answer in zip(_PARTS, answers, strict=True):
        if isinstance(answer, Refused) and answer.status == 404:
            missing += 1
            parts[name] = None
        elif isinstance(answer, Unavailable):
            unavailable[name] = f"{answer.service} is not answering"
            parts[name] = None
        elif isinstance(answer, BaseException):
            raise answer
        else:
            parts[name] = answer
    if missing == len(_PARTS):
        raise LeadNotFound(lead_id)
    return LeadView(
        lead_id=lead_id,
        contact=parts["contact"],
        score=parts["score"],
        timeline=(parts["timeline"] or {}).get("items", []),
        qualification=parts["qualification"],
        unavailable=unavailable,
    )
