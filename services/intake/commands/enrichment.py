"""Fetch the fields of leads a provider announced only by id (Meta lead ads, HubSpot's CRM object events), then
capture them.

Pluggable: anything with `fetch(external_id)` can stand in for the Graph API fetcher.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
import structlog

from services.intake.commands.capture import Arrival, accept
from services.intake.commands.quarantine import Quarantine
from services.intake.domain.mapping import Answer, FieldMapping
from services.intake.domain.refused import Refused
from services.intake.persistence import repository
from services.intake.webhooks.contract import Parsed
from services.intake.webhooks.submissions import from_answers, when
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.vocabulary import ActivityType
from shared.logging import scrub_credentials

log = structlog.get_logger(__name__)
_MAX_DELAY_S = 3600.0


@dataclass(frozen=True)
class FetchedLead:
    """A provider's answers for one lead."""

    answers: list[Answer]
    created_at: datetime | None


class LeadFetcher(Protocol):
    """Where a provider keeps the fields of a lead it announced by id."""

    async def fetch(self, external_id: str) -> FetchedLead:
        """The lead's answers; raise httpx.HTTPError or ValueError when they cannot be had now."""


class GraphLeadFetcher:
    """Meta's Graph API: GET {base}/{leadgen_id}?fields=created_time,field_data, the page token in the
    Authorization header (never in the URL, which error texts and proxies log) and, with the app secret, the
    `appsecret_proof` Meta asks server calls to carry (HMAC-SHA256 of the token keyed by the app secret)."""

    def __init__(
        self, base_url: str, access_token: str | None, client: httpx.AsyncClient, app_secret: str | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = access_token
        self._client = client
        self._proof = (
            hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
            if access_token and app_secret
            else None
        )

    async def fetch(self, external_id: str) -> FetchedLead:
        """One lead's field_data."""
        params = {"fields": "created_time,field_data,form_id"}
        if self._proof:
            params["appsecret_proof"] = self._proof
        headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
        response = await self._client.get(f"{self._base_url}/{external_id}", params=params, headers=headers, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        fields = body.get("field_data")
        if not isinstance(fields, list):
            raise ValueError("Graph answered without field_data")
        answers = [Answer(f.get("name"), f.get("name"), f.get("values") or []) for f in fields if isinstance(f, dict)]
        return FetchedLead(answers, when(body["created_time"]) if body.get("created_time") else None)


# What HubSpot's CRM API is asked for: the properties intake's mapping reads, by their internal names.
HUBSPOT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "jobtitle",
    "company",
    "website",
    "numemployees",
    "industry",
    "country",
    "city",
    "state",
    "hs_analytics_source",
    "hs_analytics_source_data_1",
    "hs_analytics_source_data_2",
    "createdate",
)


class HubSpotContactFetcher:
    """HubSpot's CRM API: GET {base}/crm/v3/objects/contacts/{id}?properties=…, with a private app's token."""

    def __init__(self, base_url: str, access_token: str | None, client: httpx.AsyncClient) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = access_token
        self._client = client

    async def fetch(self, external_id: str) -> FetchedLead:
        """One contact's properties, named as HubSpot names them (the forms' field names)."""
        headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
        response = await self._client.get(
            f"{self._base_url}/crm/v3/objects/contacts/{external_id}",
            params={"properties": ",".join(HUBSPOT_PROPERTIES)},
            headers=headers,
            timeout=10,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise ValueError("HubSpot answered without properties")
        answers = [Answer(name, name, value) for name, value in properties.items() if value not in (None, "")]
        created = body.get("createdAt") or properties.get("createdate")
        return FetchedLead(answers, when(created) if created else None)


def _error(exc: Exception) -> str:
    """What went wrong, without the request's query string or any credential a URL in the text carries: the
    error is logged and kept with the quarantined fetch."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{exc.response.status_code} from {exc.request.url.copy_with(query=None)}"
    if isinstance(exc, httpx.RequestError):
        return f"{type(exc).__name__} reaching {exc.request.url.copy_with(query=None)}"
    return scrub_credentials(str(exc))


class Enricher:
    """Works through the queue: fetch, capture (deduplicated by the lead's id), or retry later with backoff."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        provider: str,
        fetcher: LeadFetcher,
        mapping: FieldMapping,
        quarantine: Quarantine,
        *,
        max_attempts: int = 12,
        batch: int = 50,
    ) -> None:
        self._uow = uow
        self._provider = provider
        self._fetcher = fetcher
        self._mapping = mapping
        self._quarantine = quarantine
        self._max_attempts = max_attempts
        self._batch = batch

    async def run_once(self) -> int:
        """Enrich every due lead; returns how many were captured."""
        async with self._uow() as uow:
            due = await repository.due_enrichments(uow.session, self._provider, self._batch)
        captured = 0
        for row in due:
            external_id, context = row["external_id"], row["context"] or {}
            try:
                fetched = await self._fetcher.fetch(external_id)
                item = from_answers(
                    fetched.answers,
                    self._mapping,
                    provider=self._provider,
                    form_id=context.get("form_id"),
                    occurred_at=fetched.created_at or when(context.get("created_time")),
                    activity=ActivityType.FORM_SUBMITTED,
                    extra={"utm_campaign": context.get("ad_id")},
                )
                await accept(self._uow, Arrival(self._provider, Parsed(f"lead:{external_id}", (item,))))
            except (httpx.HTTPError, Refused, ValueError) as exc:
                await self._failed(external_id, context, int(row["attempts"]) + 1, _error(exc))
                continue
            async with self._uow() as uow:
                await repository.finish_enrichment(uow.session, self._provider, external_id)
                await uow.commit()
            captured += 1
        return captured

    async def _failed(self, external_id: str, context: dict[str, Any], attempts: int, error: str) -> None:
        """Retry with backoff, or after the last attempt hand the lead to the quarantine (the provider will not
        send it again: given up silently, it would be lost)."""
        if attempts >= self._max_attempts:
            async with self._uow() as uow:
                await repository.give_up_enrichment(uow.session, self._provider, external_id, error)
                await uow.commit()
            await self._quarantine.hold_fetch(
                self._provider, external_id, context, f"gave up after {attempts} attempts: {error}"
            )
            return
        delay = min(_MAX_DELAY_S, 5.0 * 2 ** (attempts - 1))
        log.warning("enrichment.failed", provider=self._provider, attempt=attempts, error=error, retry_in_s=delay)
        async with self._uow() as uow:
            await repository.retry_enrichment(uow.session, self._provider, external_id, error, delay)
            await uow.commit()
