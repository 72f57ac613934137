"""Two leads that are one person, merged through intake's API: every service applies lead.merged, news about
the merged address lands on the lead that stayed, and an unmerge gives everything back."""

import uuid
from typing import Any

import httpx

from services.embedded.dev import EmbeddedPipeline
from tests.pipeline.driving import get_json, url
from tests.support import bearer, lead_payload, wait_until


def capture(pipeline: EmbeddedPipeline, email: str, **fields: Any) -> str:
    response = httpx.post(
        f"{url(pipeline, 'intake')}/v1/leads", json=lead_payload(email) | fields, headers=bearer(), timeout=10
    )
    assert response.status_code == 202, response.text
    return str(response.json()["lead_id"])


def funnel_leads(pipeline: EmbeddedPipeline) -> int:
    funnel = get_json(f"{url(pipeline, 'forecast')}/v1/funnel")
    return sum(group["leads"] for group in funnel["groups"]) if funnel else -1


def activities(pipeline: EmbeddedPipeline, lead_id: str) -> int | None:
    score = get_json(f"{url(pipeline, 'scorer')}/v1/scores/{lead_id}")
    return score["activity_count"] if score else None


def test_a_merge_reaches_every_service_and_an_unmerge_gives_it_back(pipeline: EmbeddedPipeline) -> None:
    tag = uuid.uuid4().hex[:8]
    work, home = f"dana.{tag}@northwind-logistics.com", f"dana.{tag}@fastmail.com"
    survivor = capture(pipeline, work, job_title="VP Sales", company="Northwind Logistics")
    source = capture(pipeline, home, job_title=None, company=None, phone="+44 20 7946 0001")
    for lead_id in (survivor, source):
        wait_until(lambda: activities(pipeline, lead_id) == 1 or None, timeout_s=90, what="both leads scored")  # noqa: B023
        wait_until(lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{lead_id}"), timeout_s=90, what="qualified")  # noqa: B023
    before = wait_until(lambda: funnel_leads(pipeline) if funnel_leads(pipeline) >= 2 else None, timeout_s=90)
    opened = httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/opportunities",
        json={"lead_id": source, "name": "Dana, fleet routing", "amount": "48000", "expected_close_date": "2027-03-31"},
        headers=bearer(),
        timeout=10,
    )
    assert opened.status_code == 201, opened.text
    opportunity = opened.json()["opportunity_id"]

    merged = httpx.post(
        f"{url(pipeline, 'intake')}/v1/leads/{source}/merge",
        json={"into": survivor, "reason": "same person, work and home address"},
        headers=bearer(),
        timeout=10,
    )
    assert merged.status_code == 200, merged.text
    # The scorer counts the merged lead's activity for the survivor, and leaves it out of the worklist.
    wait_until(lambda: activities(pipeline, survivor) == 2 or None, timeout_s=90, what="survivor rescored")
    worklist = get_json(f"{url(pipeline, 'scorer')}/v1/worklist?limit=500")
    assert source not in {item["lead_id"] for item in worklist["items"]}
    # The qualifier points it at the survivor and moves its open opportunity there.
    lead = wait_until(
        lambda: (
            (found := get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{source}")) and found["merged_into"] and found
        ),
        timeout_s=90,
        what="merge in the qualifier",
    )
    assert lead["merged_into"] == survivor
    moved = get_json(f"{url(pipeline, 'qualifier')}/v1/opportunities/{opportunity}")
    assert moved["lead_id"] == survivor
    # A rep recording on the merged lead is told where it belongs.
    refused = httpx.post(
        f"{url(pipeline, 'qualifier')}/v1/leads/{source}/evidence",
        json={"evidence": {"pain": "routes planned by hand"}},
        headers=bearer(),
        timeout=10,
    )
    assert refused.status_code == 409 and refused.json()["merged_into"] == survivor
    # Forecast counts the person once.
    wait_until(lambda: funnel_leads(pipeline) == before - 1 or None, timeout_s=90, what="funnel without the merged")
    # What the merged address sends from now on is the survivor's.
    assert capture(pipeline, f"dana.{tag}+events@fastmail.com") == survivor
    wait_until(lambda: activities(pipeline, survivor) == 3 or None, timeout_s=90, what="news lands on the survivor")

    undone = httpx.post(f"{url(pipeline, 'intake')}/v1/leads/{source}/unmerge", headers=bearer(), timeout=10)
    assert undone.status_code == 200, undone.text
    wait_until(lambda: activities(pipeline, survivor) == 2 or None, timeout_s=90, what="survivor on its own again")
    wait_until(
        lambda: get_json(f"{url(pipeline, 'qualifier')}/v1/opportunities/{opportunity}")["lead_id"] == source or None,
        timeout_s=90,
        what="the opportunity back on its lead",
    )
    assert get_json(f"{url(pipeline, 'qualifier')}/v1/leads/{source}")["merged_into"] is None
    wait_until(lambda: funnel_leads(pipeline) == before or None, timeout_s=90, what="funnel with both again")
    assert activities(pipeline, source) == 1
