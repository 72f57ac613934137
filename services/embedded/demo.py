"""`leadflow dev --demo`: a realistic set of leads through the signed webhook, then what sales would see."""

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from services.intake.domain.standard_webhooks import sign

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
    """Send the demo leads, open and win one deal, and show the worklist, a lead's history and the forecast."""
    urls = {name: p.url for name, p in pipeline.processes.items()}
    secret = pipeline.credentials.webhook_secrets["generic"]
    auth = {"authorization": f"Bearer {pipeline.credentials.api_token}"}
    say()
    say(f"demo: sending {len(DEMO_LEADS)} leads through {urls['intake']}/v1/webhooks/generic")
    lead_ids = [send_lead(urls["intake"], secret, lead).raise_for_status().json()["lead_id"] for lead in DEMO_LEADS]
    worklist = _wait_for(lambda: _get(f"{urls['scorer']}/v1/worklist?limit=5", auth), len(lead_ids))
    say("demo: top of the sales worklist")
    for item in worklist["items"][:5]:
        biggest = sorted(item["factors"], key=lambda f: -abs(f["points"]))[:3]
        top = ", ".join(f"{f['name']} {f['points']:+g}" for f in biggest)
        say(f"  {item['score']:5.1f} {item['segment']:<4} {item['lead_id']}  ({top})")
    best = worklist["items"][0]["lead_id"]
    # The qualifier hears the score on its own; wait for it so the history shows the MQL step.
    _wait_for(lambda: _at_stage(f"{urls['qualifier']}/v1/leads/{best}", auth, "mql"), 1)
    opened = (
        httpx.post(
            f"{urls['qualifier']}/v1/opportunities",
            json={
                "lead_id": best,
                "name": "Demo deal",
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
        f"{urls['qualifier']}/v1/opportunities/{opened['opportunity_id']}/close",
        json={"won": True, "reason": "demo: signed"},
        headers=auth,
        timeout=10,
    ).raise_for_status()
    lead = _get(f"{urls['qualifier']}/v1/leads/{best}", auth)
    say(f"demo: history of {best}")
    for step in lead["history"]:
        say(f"  {step['from_stage'] or '-':>11} → {step['to_stage']:<11} {step['reason']}")
    time.sleep(1.0)
    forecast = _get(f"{urls['forecast']}/v1/forecast?horizon=2", auth)
    say("demo: forecast")
    for line in forecast["lines"]:
        say(f"  {line['period']} {line['currency']} closed won {line['closed_won']}  weighted {line['weighted']}")


def _get(url: str, headers: dict[str, str]) -> Any:
    return httpx.get(url, headers=headers, timeout=10).raise_for_status().json()


def _at_stage(url: str, headers: dict[str, str], stage: str) -> Any:
    response = httpx.get(url, headers=headers, timeout=10)
    return response.json() if response.status_code == 200 and response.json()["stage"] == stage else None


def _wait_for(fetch: Any, expected: int, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    result = None
    while time.monotonic() < deadline:
        result = fetch()
        count = len(result["items"]) if isinstance(result, dict) and "items" in result else int(result is not None)
        if count >= min(expected, 5):
            return result
        time.sleep(0.2)
    raise RuntimeError("the demo's leads did not come through in time; see the service logs")
