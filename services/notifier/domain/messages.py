"""What a delivery says: the Standard Webhooks body for systems, or a Slack-compatible message for a channel."""

from decimal import Decimal, InvalidOperation
from typing import Any

from shared.events.models import (
    EventPayload,
    LeadHandoffChanged,
    LeadScored,
    LeadStageChanged,
    OpportunityClosed,
    OpportunitySnapshot,
)


def standard_body(event_type: str, event_id: str, payload: EventPayload, who: dict[str, Any] | None) -> dict[str, Any]:
    """`{"type", "timestamp", "data"}` as Standard Webhooks receivers expect; `data` is the event as published,
    with who the lead is (name, email, company, title) when the lead was captured."""
    data = payload.model_dump(mode="json")
    data["event_id"] = event_id
    data["lead"] = who
    return {"type": event_type, "timestamp": _timestamp(payload), "data": data}


def slack_body(event_type: str, payload: EventPayload, who: dict[str, Any] | None, link: str | None) -> dict[str, Any]:
    """`{"text": …}`: what Slack's incoming webhooks (and Mattermost, Rocket.Chat, Teams' Slack-compatible ones)
    post as a message."""
    person = _person(who, str(payload.lead_id))
    if link:
        person = f"<{_escape(link)}|{person}>"
    if isinstance(payload, LeadScored):
        reasons = "; ".join(_escape(f.reason) for f in sorted(payload.factors, key=lambda f: -abs(f.points))[:3])
        text = f"{person} is now *{payload.segment.value}*: score {payload.score:.0f}" + (
            f" ({reasons})" if reasons else ""
        )
    elif isinstance(payload, LeadStageChanged):
        start = payload.from_stage.value if payload.from_stage else "new"
        text = f"{person} moved {start} → *{payload.to_stage.value}*: {_escape(payload.reason)}"
    elif isinstance(payload, LeadHandoffChanged):
        text = _handoff_sentence(payload, person)
    elif isinstance(payload, OpportunityClosed):
        outcome = "won" if payload.status.value == "won" else "lost"
        why = f": {_escape(payload.close_reason)}" if payload.close_reason else ""
        text = f"Opportunity *{_escape(payload.name)}* closed {outcome}, {_money(payload)} ({person}){why}"
    elif isinstance(payload, OpportunitySnapshot):
        verb = "opened" if event_type == "opportunity.opened" else "changed"
        text = (
            f"Opportunity *{_escape(payload.name)}* {verb}: {_money(payload)}, {payload.pipeline_stage}, "
            f"expected {payload.expected_close_date.isoformat()} ({person})"
        )
    else:
        text = f"{event_type}: {person}"
    return {"text": text}


def _handoff_sentence(handoff: LeadHandoffChanged, person: str) -> str:
    owner = _escape(handoff.owner)
    if handoff.status == "assigned":
        due = f", to accept by {handoff.due_at:%Y-%m-%d %H:%M} UTC" if handoff.due_at else ""
        return f"{person} handed to {owner}{due}"
    if handoff.status == "accepted":
        return f"{owner} accepted {person}"
    if handoff.status == "rejected":
        return f"{owner} handed {person} back: {_escape(handoff.reason or '')}"
    if handoff.action == "escalated":
        return f"*Nobody accepted* {person} in time ({owner}): escalated to {_escape(handoff.escalated_to or '')}"
    return f"*Nobody accepted* {person} in time ({owner}): rerouted"


def _person(who: dict[str, Any] | None, lead_id: str) -> str:
    if not who:
        return f"lead {lead_id}"
    name = who.get("name") or who.get("email") or f"lead {lead_id}"
    role = ", ".join(str(p) for p in (who.get("job_title"), who.get("company")) if p)
    return f"*{_escape(str(name))}*" + (f" ({_escape(role)})" if role else "")


def _money(deal: OpportunitySnapshot) -> str:
    try:
        amount = Decimal(deal.amount)
    except InvalidOperation:
        return f"{deal.amount} {deal.currency}"
    return f"{amount:,.0f} {deal.currency}"


def _timestamp(payload: EventPayload) -> str | None:
    for name in ("scored_at", "changed_at", "closed_at"):
        value = getattr(payload, name, None)
        if value is not None:
            return str(value.isoformat())
    return None


def _escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
