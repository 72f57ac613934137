"""The worklist, lead search, one lead's page and the evidence form."""

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.composition import LeadNotFound, lead_view
from services.console.pages.context import Pages
from services.console.pages.evidence_form import SUGGESTED_KEYS, FormError, evidence_from
from services.console.sessions import Session
from services.console.upstream import Refused
from shared.events.vocabulary import LeadStage, Segment


def leads_router(pages: Pages) -> APIRouter:
    """GET /, GET /leads, GET /leads/{id}, POST /leads/{id}/evidence."""
    router = APIRouter(include_in_schema=False)
    person = Annotated[Session, Depends(pages.signed_in)]
    upstream = pages.upstream

    @router.get("/", response_class=HTMLResponse)
    async def worklist(request: Request, session: person, segment: Segment | None = None) -> Response:
        params: dict[str, Any] = {"limit": 50} | ({"segment": segment.value} if segment else {})
        page = await upstream.get("scorer", "/v1/worklist", session.token, params)
        return pages.render(
            request, "worklist.html", session, title="Worklist", page="worklist", items=page["items"], segment=segment
        )

    @router.get("/leads", response_class=HTMLResponse)
    async def search(
        request: Request,
        session: person,
        q: str | None = None,
        stage: str | None = None,
        segment: str | None = None,
        owner: str | None = None,
        source: str | None = None,
    ) -> Response:
        wanted = {"q": q, "stage": stage, "segment": segment, "owner": owner, "source": source}
        params: dict[str, Any] = {k: v.strip() for k, v in wanted.items() if v and v.strip()}
        page = await upstream.get("qualifier", "/v1/leads", session.token, params | {"limit": 100})
        return pages.render(
            request,
            "search.html",
            session,
            title="Find a lead",
            page="search",
            items=page["items"],
            stages=list(LeadStage),
            filters=wanted,
        )

    @router.get("/leads/{lead_id}", response_class=HTMLResponse)
    async def lead(request: Request, session: person, lead_id: str, done: str | None = None) -> Response:
        return await lead_page(request, session, lead_id, notice=done[:200] if done else None)

    async def lead_page(
        request: Request, session: Session, lead_id: str, *, notice: str | None = None, problem: str | None = None
    ) -> Response:
        try:
            view = await lead_view(upstream, session.token, lead_id)
        except LeadNotFound:
            no_lead = f"No lead {lead_id}."
            return pages.render(request, "message.html", session, 404, title="No such lead", problem=no_lead)
        return pages.render(
            request,
            "lead.html",
            session,
            422 if problem else 200,
            title=view.name,
            view=view,
            evidence_keys=SUGGESTED_KEYS,
            notice=notice,
            problem=problem,
        )

    @router.post("/leads/{lead_id}/accept")
    async def accept(
        request: Request, session: person, lead_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        pages.form_from_console(request, session, csrf_token)
        return await decide(request, session, lead_id, "accept", {}, "Accepted: the lead is yours.")

    @router.post("/leads/{lead_id}/reject")
    async def reject(
        request: Request,
        session: person,
        lead_id: str,
        reason: Annotated[str, Form(max_length=100)],
        note: Annotated[str, Form(max_length=2000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        pages.form_from_console(request, session, csrf_token)
        body = {"reason": reason, "note": note.strip() or None}
        return await decide(request, session, lead_id, "reject", body, "Handed back to marketing.")

    async def decide(
        request: Request, session: Session, lead_id: str, verb: str, body: dict[str, Any], done: str
    ) -> Response:
        """Post the form to the qualifier as the person; back to the lead's page saying what was done, or the
        page with the qualifier's refusal."""
        try:
            await upstream.post("qualifier", f"/v1/leads/{quote(lead_id)}/{verb}", session.token, body)
        except Refused as exc:
            if exc.status in (401, 403):
                raise
            return await lead_page(request, session, lead_id, problem=exc.detail)
        return RedirectResponse(f"/leads/{quote(lead_id)}?done={quote(done)}", status_code=303)

    @router.post("/leads/{lead_id}/evidence")
    async def record_evidence(
        request: Request,
        session: person,
        lead_id: str,
        key: Annotated[list[str], Form()],
        value: Annotated[list[str], Form()],
        note: Annotated[str, Form(max_length=2000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        pages.form_from_console(request, session, csrf_token)
        try:
            evidence = evidence_from(key, value)
        except FormError as exc:
            return await lead_page(request, session, lead_id, problem=str(exc))
        body = {"evidence": evidence, "note": note.strip() or None}
        return await decide(request, session, lead_id, "evidence", body, "Evidence recorded.")

    return router
