"""The console in a real headless Chromium (Debian's package) driving the real pipeline: a rep signs in with a
named token, finds a hot lead from the demo, reads why it is hot, records evidence, sees it become an
opportunity and the forecast change. Each page's screenshot is written to LEADFLOW_SCREENSHOTS (default
build/screenshots; `make screenshots` refreshes the README's in docs/screenshots)."""

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from services.embedded.demo import DEMO_LEADS, send_lead
from services.embedded.dev import EmbeddedPipeline
from tests.support import ADMIN_TOKEN, GENERIC_SECRET, bearer, wait_until

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("LEADFLOW_SCREENSHOTS") or ROOT / "build" / "screenshots")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"  # make tools installs it (npm)
# A sales rep's token, named as the rules' routing names her (EMEA team): reads leads and the forecast, records
# evidence, accepts what is handed to her; not admin.
REP_TOKEN = "test-ana-emea-0123456789abcdef"
REP = {"ana.emea": {"token": REP_TOKEN, "scopes": ["leads:read", "leads:write", "forecast:read"]}}


# The module's pipeline (tests/pipeline/conftest.py) with the rep's token, and the console.
PIPELINE_ENV = {"LEADFLOW_API_TOKENS": json.dumps(REP)}
WITH_CONSOLE = True


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() or not AXE.exists():
        pytest.fail(f"Chromium ({CHROMIUM}) or axe-core ({AXE}) is missing: `make tools` installs them")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def _shot(page: Page, name: str) -> None:
    """The page's screenshot, after axe-core (the accessibility engine) found nothing against WCAG 2 A and AA:
    labels, contrast, names of links and buttons, landmarks, document language."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations")
    problems = [f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})" for v in found]
    assert not problems, f"{name}: {problems}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _demo_leads_scored(pipeline: EmbeddedPipeline) -> list[str]:
    intake, scorer = pipeline.processes["intake"].url, pipeline.processes["scorer"].url
    ids = [send_lead(intake, GENERIC_SECRET, lead).raise_for_status().json()["lead_id"] for lead in DEMO_LEADS]

    def all_scored() -> bool:
        return all(httpx.get(f"{scorer}/v1/scores/{i}", headers=bearer(), timeout=5).status_code == 200 for i in ids)

    wait_until(all_scored, timeout_s=60, what="the demo's leads to be scored")
    return ids


def _open_pipeline(page: Page) -> float:
    """The open pipeline over every forecast line, as the page shows it."""
    cells = page.locator("tbody tr").filter(has=page.locator("td.num")).locator("td:nth-child(6)").all_inner_texts()
    return sum(float(cell.replace(",", "")) for cell in cells)


def test_a_rep_finds_a_hot_lead_qualifies_it_and_sees_the_forecast_move(
    pipeline: EmbeddedPipeline, browser: Browser
) -> None:
    _demo_leads_scored(pipeline)
    assert pipeline.console is not None
    console = pipeline.console.url
    page = browser.new_page(base_url=console, viewport={"width": 1280, "height": 900}, bypass_csp=True)

    # Signing in: any page asks for a token first, and comes back to it after.
    page.goto("/forecast")
    expect(page).to_have_url(re.compile(r"/login\?next=/forecast$"))
    _shot(page, "login")
    page.get_by_label("Token").fill("not-a-token-at-all-0123456789")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    page.get_by_label("Token").fill(REP_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/forecast$"))
    expect(page.get_by_text("Signed in as")).to_contain_text("ana.emea")
    before = _open_pipeline(page)

    # The worklist names people; Maria González asked for a demo and is hot.
    page.get_by_role("link", name="Worklist").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    row = page.locator("tbody tr", has_text="Maria González")
    expect(row).to_contain_text("Northwind Logistics")
    expect(row.locator(".segment")).to_have_text("hot")
    expect(row).to_contain_text("demo requested")
    _shot(page, "worklist")
    row.get_by_role("link", name="Maria González").click()

    # Why she is hot, in words.
    expect(page.get_by_role("heading", name="Maria González", level=1)).to_be_visible()
    factors = page.get_by_role("region", name="Why it scores so")
    expect(factors).to_contain_text("demo requested")
    expect(factors).to_contain_text("vice president")
    expect(page.locator("#stage")).to_have_text("mql")
    _shot(page, "lead")

    # Discovery: the organisation fits and the need is stated, so she becomes a prospect (three-stage) …
    for number, (key, value) in enumerate(
        [("icp_industry", "yes"), ("employees", "250"), ("need", "route leads by region"), ("compatible_stack", "yes")],
        start=1,
    ):
        page.get_by_label(f"What (key {number})").fill(key)
        page.get_by_label(f"Value {number}").fill(value)
    page.get_by_role("button", name="Record and re-qualify").click()
    expect(page.get_by_role("status")).to_have_text("Evidence recorded.")
    expect(page.locator("#stage")).to_have_text("prospect")
    # Routed to her (EMEA, first in the round robin) with the hot segment's SLA running: she accepts.
    expect(page.locator("#handoff-status")).to_contain_text("Handed to ana.emea due in")
    _shot(page, "lead-handoff")
    page.get_by_role("button", name="Accept this lead").click()
    expect(page.get_by_role("status")).to_have_text("Accepted: the lead is yours.")
    expect(page.locator("#handoff-status")).to_have_text("Accepted by ana.emea")
    # … then pain, product and budget complete pain-interest-fit, and the qualifier opens a deal.
    page.get_by_label("What (key 1)").fill("pain")
    page.get_by_label("Value 1").fill("quotes reach customers two days late")
    page.get_by_label("What (key 2)").fill("product")
    page.get_by_label("Value 2").fill("Growth")
    page.get_by_label("What (key 3)").fill("budget")
    page.get_by_label("Value 3").fill("60,000")
    page.get_by_label("Note").fill("discovery call")
    page.get_by_role("button", name="Record and re-qualify").click()
    expect(page.get_by_role("status")).to_have_text("Evidence recorded.")
    expect(page.locator("#stage")).to_have_text("opportunity")
    evidence = page.get_by_role("region", name="Evidence", exact=True)
    expect(evidence).to_contain_text("budget: 60000")
    expect(evidence).to_contain_text("by ana.emea")  # the audit trail names the person signed in
    deals = page.get_by_role("region", name="Opportunities")
    expect(deals).to_contain_text("Northwind Logistics")
    _shot(page, "lead-opportunity")

    # The forecast hears of the new deal (through Kafka): its open pipeline grows.
    page.get_by_role("link", name="Forecast").click()
    wait_until(
        lambda: page.reload() and _open_pipeline(page) >= before + 60000,
        timeout_s=30,
        what="the forecast page to show the new opportunity",
    )
    expect(page.get_by_role("heading", name=re.compile("How it did on the last 6 months"))).to_be_visible()
    _shot(page, "forecast")

    page.get_by_role("link", name="Funnel").click()
    expect(page.get_by_role("heading", name="Funnel")).to_be_visible()
    _shot(page, "funnel")

    # The quarantine holds raw deliveries: a rep's token may not read it.
    page.get_by_role("link", name="Quarantine").click()
    expect(page.get_by_role("alert")).to_contain_text("Your token may not do this")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.close()


def test_an_admin_sees_the_quarantine_and_a_search_finds_people(pipeline: EmbeddedPipeline, browser: Browser) -> None:
    assert pipeline.console is not None
    page = browser.new_page(base_url=pipeline.console.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page.goto("/quarantine")
    page.get_by_label("Token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Quarantine")).to_be_visible()
    _shot(page, "quarantine")
    # By keyboard alone: the first Tab reaches "Skip to content", which takes the focus to the page's content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.get_by_role("link", name="Find a lead").click()
    page.get_by_label("Name, email or company").fill("kraftwerk")
    page.get_by_role("button", name="Search").click()
    results = page.locator("tbody tr")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("Paul Schneider")
    _shot(page, "search")
    page.close()


def test_forms_from_elsewhere_and_sealed_cookies_are_refused(pipeline: EmbeddedPipeline) -> None:
    assert pipeline.console is not None
    console = pipeline.console.url
    signed = httpx.post(f"{console}/login", data={"token": REP_TOKEN, "next": "https://evil.example/"})
    assert signed.status_code == 303 and signed.headers["location"] == "/"  # never sends anyone off-site
    cookie = signed.headers["set-cookie"]
    assert all(flag in cookie.lower() for flag in ("httponly", "secure", "samesite=strict"))
    assert REP_TOKEN not in cookie  # sealed: the token cannot be read from it
    policy = httpx.get(f"{console}/login").headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
    session = {"cookie": cookie.split(";")[0]}
    lead_id = httpx.get(f"{console}/", headers=session).text.split('href="/leads/')[1][:36]
    form = {"key": ["pain"], "value": ["made up"], "csrf_token": "guessed"}
    forged = httpx.post(f"{console}/leads/{lead_id}/evidence", data=form, headers=session)
    assert forged.status_code == 403
    other_site = httpx.post(
        f"{console}/logout", data={"csrf_token": "x"}, headers=session | {"origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    tampered = session["cookie"][:-4] + ("AAAA" if not session["cookie"].endswith("AAAA") else "BBBB")
    assert httpx.get(f"{console}/", headers={"cookie": tampered}).status_code == 303  # back to sign in
    composed = httpx.get(f"{console}/v1/leads/{lead_id}", headers=bearer(REP_TOKEN)).json()
    assert composed["contact"]["email"] and composed["score"]["factors"] and composed["qualification"]["stage"]
    assert composed["unavailable"] == {}


def test_a_lead_page_shows_what_it_can_while_the_scorer_is_down(pipeline: EmbeddedPipeline, browser: Browser) -> None:
    assert pipeline.console is not None
    lead_id = _demo_leads_scored(pipeline)[0]
    scorer = pipeline.processes["scorer"]
    page = browser.new_page(base_url=pipeline.console.url)
    page.goto(f"/leads/{lead_id}")
    page.get_by_label("Token").fill(REP_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Maria González", level=1)).to_be_visible()
    scorer.kill()
    try:
        page.reload()
        # Who she is and where she stands still show; the score says why it is missing.
        expect(page.get_by_role("heading", name="Maria González", level=1)).to_be_visible()
        expect(page.get_by_role("alert").first).to_contain_text("The score is not shown: scorer is not answering")
        expect(page.locator("#stage")).not_to_be_empty()
        composed = httpx.get(f"{pipeline.console.url}/v1/leads/{lead_id}", headers=bearer(REP_TOKEN)).json()
        assert composed["score"] is None and set(composed["unavailable"]) == {"score", "timeline"}
        assert composed["contact"]["first_name"] == "Maria"
        page.goto("/")  # the worklist is the scorer's: a page that says so, not an error trace
        expect(page.get_by_role("alert")).to_contain_text("The scorer is not answering")
    finally:
        scorer.start()
        scorer.wait_ready()
        page.close()
