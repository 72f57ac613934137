"""`leadflow dev --demo`: a realistic set of leads through the signed webhook, then what sales would see."""

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from services.intake.domain.standard_webhooks import sign

T = TypeVar("T")

if TYPE_CHECKING:
    from services.embedded.dev import EmbeddedPipeline, Printer

DEMO_LEADS: list[dict[str, Any]] = [
    {
        "email": "maria.gonzalez@northwind-logistics.com",
        "first_name": "Maria",
        "last_name": "González",
        "job_title": "VP of Operations",
        "company": "Northwind Logistics",
        "country": "ES",
        "phone": "+34 912 345 678",
        "activity": "demo_requested",
        "utm_source": "google",
        "utm_medium": "cpc",
        "form_id": "demo-request",
    },
    {
        "email": "j.okafor@brightpath-health.org",
        "first_name": "James",
        "last_name": "Okafor",
        "job_title": "Chief Information Officer",
        "company": "BrightPath Health",
        "country": "GB",
        "activity": "meeting_booked",
        "form_id": "calendly-intro",
    },
    {
        "email": "li.wei@lumen-analytics.io",
        "first_name": "Li",
        "last_name": "Wei",
        "job_title": "Director of Data",
        "company": "Lumen Analytics",
        "country": "SG",
        "activity": "webinar_registered",
        "form_id": "webinar-nov",
    },
    {
        "email": "sofia.rossi@gmail.com",
        "first_name": "Sofia",
        "last_name": "Rossi",
        "job_title": "Student",
        "activity": "content_downloaded",
        "form_id": "ebook-lead-scoring",
    },
    {
        "email": "p.schneider@kraftwerk-maschinen.de",
        "first_name": "Paul",
        "last_name": "Schneider",
        "job_title": "Head of Sales",
        "company": "Kraftwerk Maschinen GmbH",
        "country": "DE",
        "phone": "+49 30 1234567",
        "activity": "form_submitted",
        "form_id": "contact-sales",
    },
    {
        "email": "amelia.brown@outlook.com",
        "first_name": "Amelia",
        "last_name": "Brown",
        "activity": "content_downloaded",
        "form_id": "ebook-lead-scoring",
    },
    {
        "email": "r.patel@finch-insurance.com",
        "first_name": "Ravi",
        "last_name": "Patel",
        "job_title": "Marketing Manager",
        "company": "Finch Insurance",
        "country": "US",
        "activity": "webinar_registered",
        "form_id": "webinar-nov",
        "utm_source": "linkedin",
    },
    {
        "email": "ceo@tinyroast.coffee",
        "first_name": "Noah",
        "last_name": "Kim",
        "job_title": "Founder & CEO",
        "company": "Tiny Roast Coffee",
        "country": "US",
        "activity": "demo_requested",
        "form_id": "demo-request",
    },
    {
        "email": "hannah.m@orbitretail.com",
        "first_name": "Hannah",
        "last_name": "Müller",
        "job_title": "Senior Analyst",
        "company": "Orbit Retail",
        "country": "AT",
        "activity": "form_submitted",
        "form_id": "newsletter",
    },
    {
        "email": "t.nguyen@cobalt-security.com",
        "first_name": "Tuan",
        "last_name": "Nguyen",
        "job_title": "CTO",
        "company": "Cobalt Security",
        "country": "VN",
        "activity": "webinar_registered",
        "form_id": "webinar-nov",
    },
]


def send_lead(base_url: str, secret: str, lead: dict[str, Any], webhook_id: str | None = None) -> httpx.Response:
    """POST one lead to the generic webhook, signed as a Standard Webhooks sender would."""
    body = json.dumps({"type": "lead.submitted", "timestamp": datetime.now(UTC).isoformat(), "data": lead}).encode()
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }
    return httpx.post(f"{base_url}/v1/webhooks/generic", content=body, headers=headers, timeout=10)


def run_demo(pipeline: "EmbeddedPipeline", say: "Printer") -> None:
    """Send the demo leads, open and win a deal for the best of them, and show the worklist, that lead's history,
    the forecast and where the console shows it. The demo's leads are the same people every run (a lead is its
    email), so on a workdir used before it finds them further along and does not win the deal twice."""
    urls = {name: p.url for name, p in pipeline.processes.items()}
    secret = pipeline.credentials.webhook_secrets["generic"]
    auth = {"authorization": f"Bearer {pipeline.credentials.api_token}"}
    say()
    say(f"demo: sending {len(DEMO_LEADS)} leads through {urls['intake']}/v1/webhooks/generic")
    lead_ids = [send_lead(urls["intake"], secret, lead).raise_for_status().json()["lead_id"] for lead in DEMO_LEADS]
    scores = _wait_for(lambda: _all_scored(urls["scorer"], auth, lead_ids), "the demo's leads to be scored")
    ranked = sorted(scores, key=lambda s: (-(s["probability"] or -1), -s["score"], s["lead_id"]))
    say("demo: top of the sales worklist (the demo's leads)")
    for item in ranked[:5]:
        biggest = sorted(item["factors"], key=lambda f: -abs(f["points"]))[:3]
        top = ", ".join(f"{f['name']} {f['points']:+g}" for f in biggest)
        who = f"{item['name']} ({item['job_title']}, {item['company']})" if item["company"] else item["name"]
        say(f"  {item['score']:5.1f} {item['segment']:<4} {who:<55} {top}")
    best = next((s for s in ranked if s["segment"] == "hot"), ranked[0])  # a hot lead, the console shows why
    url = f"{urls['qualifier']}/v1/leads/{best['lead_id']}"
    # The qualifier hears the score on its own; wait for it so the history shows the MQL step.
    lead = _wait_for(lambda: _past_lead_stage(url, auth), f"{best['name']} to become an MQL")
    if lead["opportunities"]:
        say(f"demo: {best['name']} has had a deal since an earlier run ({lead['opportunities'][0]['status']})")
    else:
        _win_a_deal(urls["qualifier"], auth, best["lead_id"], best["company"] or best["name"])
        lead = _get(url, auth)
    say(f"demo: history of {best['name']}")
    for step in lead["history"]:
        say(f"  {step['from_stage'] or '-':>11} → {step['to_stage']:<11} {step['reason']}")
    time.sleep(1.0)
    forecast = _get(f"{urls['forecast']}/v1/forecast?horizon=2", auth)
    say("demo: forecast")
    for line in forecast["lines"]:
        say(f"  {line['period']} {line['currency']} closed won {line['closed_won']}  weighted {line['weighted']}")
    if pipeline.console is not None:
        say()
        say(f"demo: the console is at {pipeline.console.url} (sign in with the API token above)")
        say(f"demo: {best['name']}'s page: {pipeline.console.url}/leads/{best['lead_id']}")


def _win_a_deal(qualifier: str, auth: dict[str, str], lead_id: str, company: str) -> None:
    opened = (
        httpx.post(
            f"{qualifier}/v1/opportunities",
            json={
                "lead_id": lead_id,
                "name": f"{company}: demo deal",
                "amount": "48000",
                "currency": "USD",
                "expected_close_date": (date.today() + timedelta(days=20)).isoformat(),
            },
            headers=auth,
            timeout=10,
        )
        .raise_for_status()
        .json()
    )
    httpx.post(
        f"{qualifier}/v1/opportunities/{opened['opportunity_id']}/close",
        json={"won": True, "reason": "demo: signed"},
        headers=auth,
        timeout=10,
    ).raise_for_status()


def _all_scored(scorer: str, headers: dict[str, str], lead_ids: list[str]) -> list[Any] | None:
    found = []
    for lead_id in lead_ids:
        response = httpx.get(f"{scorer}/v1/scores/{lead_id}", headers=headers, timeout=10)
        if response.status_code != 200:
            return None
        found.append(response.json())
    return found


def _past_lead_stage(url: str, headers: dict[str, str]) -> Any:
    response = httpx.get(url, headers=headers, timeout=10)
    return response.json() if response.status_code == 200 and response.json()["stage"] != "lead" else None


def _get(url: str, headers: dict[str, str]) -> Any:
    return httpx.get(url, headers=headers, timeout=10).raise_for_status().json()


def _wait_for(fetch: Callable[[], T | None], what: str, timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = fetch()
        if result is not None:
            return result
        time.sleep(0.2)
    raise RuntimeError(f"the demo waited {timeout_s:g} s for {what}; see the service logs")
