"""Each provider's own published example, signed as that provider documents, must become the right lead.

The payloads are in tests/fixtures/webhooks/published/, byte for byte as published except where SOURCES.md says;
SOURCES.md names the page each comes from. None of them was written here.
"""

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.intake.commands.enrichment import GraphLeadFetcher
from services.intake.domain.capture import Submission
from services.intake.domain.mapping import FieldMapping, answer_key
from services.intake.settings import IntakeSettings
from services.intake.webhooks.contract import Parsed, RawRequest
from services.intake.webhooks.registry import build_adapters
from services.intake.webhooks.submissions import from_answers
from services.rules import DEFAULT_RULES
from shared.events.vocabulary import ActivityType
from shared.rules import load_rules_section
from tests.webhook_senders import SECRETS, settings_overrides, signed

PUBLISHED = Path(__file__).parents[1] / "fixtures" / "webhooks" / "published"
MAPPING = load_rules_section(DEFAULT_RULES, "intake", FieldMapping)[0]
ADAPTERS = build_adapters(IntakeSettings(**settings_overrides()), MAPPING)


def published(name: str) -> Any:
    return json.loads((PUBLISHED / f"{name}.json").read_text())


def deliver(provider: str, payload: Any, *, sign: bytes | None = None, send: bytes | None = None) -> Parsed:
    """Sign the payload as the provider documents, then verify and parse it as the route does."""
    now = time.time()
    body, headers, _ = signed(provider, payload, now=now, body=sign)
    request = RawRequest("POST", "http://test/v1/webhooks/x", headers, {}, body if send is None else send)
    adapter = ADAPTERS[provider]
    adapter.verify(request, now=now)
    return adapter.parse(request)


def only(parsed: Parsed) -> Submission:
    assert len(parsed.submissions) == 1, parsed
    return parsed.submissions[0]


def test_every_published_fixture_is_cited() -> None:
    sources = (PUBLISHED / "SOURCES.md").read_text()
    for path in PUBLISHED.glob("*.json"):
        assert f"`{path.name}`" in sources, f"{path.name} has no source in SOURCES.md"


TYPEFORM_QUESTIONS = (
    "Which pictures do you like? You can choose as many as you like.",
    "Which of these cities is your favorite?",
    "When did you move to the place where you live?",
    "Do you have a favorite city we haven't listed?",
    "How important is the weather to your opinion about a city? 1 is not important, 5 is very important.",
)


def test_typeform_example_payload() -> None:
    lead = only(deliver("typeform", published("typeform_example_payload")))
    assert (lead.email, lead.first_name, lead.last_name) == ("laura@example.com", "Laura", None)
    assert lead.form_id == "lT4Z3j"
    assert lead.occurred_at == datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)
    # Every other answer stays readable under the question a person was asked, never a repr or an id.
    answers = {label: lead.answers[answer_key(label)] for label in TYPEFORM_QUESTIONS}
    assert answers == {
        "Which pictures do you like? You can choose as many as you like.": "London, Sydney",
        "Which of these cities is your favorite?": "London",
        "When did you move to the place where you live?": "2005-10-15",
        "Do you have a favorite city we haven't listed?": "no",
        "How important is the weather to your opinion about a city? 1 is not important, 5 is very important.": "2",
    }
    assert lead.consent is True  # the legal question was accepted
    assert not any("{'" in v or "['" in v for v in lead.answers.values())  # never a Python repr


def test_webflow_contact_us_with_its_schema_and_a_numeric_phone() -> None:
    lead = only(deliver("webflow", published("webflow_contact_us")))
    assert (lead.email, lead.first_name, lead.last_name) == ("zaphod@heartofgold.ai", "Zaphod", "Beeblebrox")
    assert lead.phone == "15550000000"  # sent as a JSON number
    assert lead.form_id == "65429eadebe8a9f3a30f62d0"


def test_webflow_email_form_with_a_numbered_field_name() -> None:
    lead = only(deliver("webflow", published("webflow_email_form")))
    assert lead.email == "hello@gmail.com"


@pytest.mark.parametrize("provider", ["webflow", "tally"])
def test_a_signature_over_the_re_serialised_json_verifies(provider: str) -> None:
    """Webflow's and Tally's documentation sign JSON.stringify(req.body), the compact re-serialisation of what was
    sent; a sender that follows the example signs those bytes even when it sent the body pretty-printed."""
    payload = published("webflow_contact_us" if provider == "webflow" else "tally_example_event")
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    parsed = deliver(provider, payload, sign=compact, send=json.dumps(payload, indent=2).encode())
    assert parsed.submissions


def test_calendly_invitee_created() -> None:
    lead = only(deliver("calendly", published("calendly_invitee_created")))
    assert (lead.email, lead.first_name, lead.last_name) == ("test@example.com", "John", "Doe")
    assert lead.activity == ActivityType.MEETING_BOOKED
    assert lead.utm_source is None  # the example's tracking is all null: nothing invented


def test_calendly_routing_form_submission_without_a_person_is_acknowledged_not_a_lead() -> None:
    parsed = deliver("calendly", published("calendly_routing_form_submission"))
    assert parsed.delivery_id and not parsed.submissions


def test_zoom_webinar_registration_keeps_every_registration_field() -> None:
    lead = only(deliver("zoom", published("zoom_webinar_registration_created")))
    assert (lead.email, lead.first_name, lead.last_name) == ("jchill@example.com", "Jill", "Chill")
    assert (lead.company, lead.job_title, lead.country, lead.phone) == ("Cooking Org", "Chef", "US", "5550100")
    assert lead.company_size == "1-20"
    assert lead.activity == ActivityType.WEBINAR_REGISTERED
    assert lead.answers["purchasing_time_frame"] == "1-3 months"
    assert lead.answers["role_in_purchase_process"] == "Influencer"
    assert lead.answers["comments"] == "Looking forward to the Webinar"
    assert lead.answers["address"] == "1800 Amphibious Blvd."
    assert lead.answers[answer_key("What do you hope to learn from this Webinar?")].startswith("Look forward")
    assert lead.answers["webinar"] == "My Webinar"


def test_zoom_meeting_participant_joined_and_left() -> None:
    joined = deliver("zoom", published("zoom_meeting_participant_joined"))
    assert [(j.webinar_id, j.participant) for j in joined.joins] == [("1234567890", "jchill@example.com")]
    left = only(deliver("zoom", published("zoom_meeting_participant_left")))
    assert (left.email, left.first_name, left.last_name) == ("jchill@example.com", "Jill", "Chill")
    assert left.activity == ActivityType.WEBINAR_ATTENDED
    assert left.minutes is None  # counted from the stored join (21:44:51) when the leave is captured


TALLY_LABELS = (
    "Multiple choice",
    "Checkboxes",
    "Dropdown",
    "Multi-select",
    "Ranking",
    "File upload",
    "Matrix",
    "Payment (price)",
    "Payment (currency)",
    "Score",
)


def test_tally_example_event_with_every_field_type() -> None:
    lead = only(deliver("tally", published("tally_example_event")))
    assert (lead.email, lead.phone) == ("alice@example.com", "+32491223344")
    assert lead.utm_campaign == "newsletter"  # a hidden field is attribution, not an answer
    assert "utm_campaign" not in lead.answers
    answers = {label: lead.answers[answer_key(label)] for label in TALLY_LABELS}
    assert answers == {
        "Multiple choice": "In progress",
        "Checkboxes": "Swimming, Skiing",
        "Dropdown": "Hard",
        "Multi-select": "Surf, Golf",
        "Ranking": "Pear, Apple, Banana",
        "File upload": "Tally_Icon.png: https://storage.googleapis.com/tally-response-assets-dev/vBXMXN/"
        "34fd1ee5-4ead-4929-9a4a-918ac9f0b416/Tally_Icon.png",
        "Matrix": "Quality: Satisfied; Speed: Neutral",
        "Payment (price)": "9",
        "Payment (currency)": "USD",
        "Score": "20",
    }
    assert lead.answers[answer_key("Signature")].startswith("ca8f2e11-f99a-4042-b872-0888811b8118.png: https://")
    assert not any("{'" in v or "['" in v for v in lead.answers.values())  # never a Python repr


def test_facebook_leadgen_with_numeric_ids_queues_both_leads() -> None:
    parsed = deliver("facebook", published("facebook_leadgen"))
    assert [p.external_id for p in parsed.pending] == ["123123123123", "123123123124"]
    assert parsed.pending[0].context["form_id"] == "12312312312"


async def test_facebook_retrieved_lead_becomes_the_right_lead() -> None:
    body = published("facebook_lead_retrieved")

    def graph(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v19.0/123123123123"
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(graph)) as client:
        fetcher = GraphLeadFetcher("https://graph.example/v19.0", SECRETS["facebook"], client)
        fetched = await fetcher.fetch("123123123123")
    lead = from_answers(
        fetched.answers,
        MAPPING,
        provider="facebook",
        form_id="12312312312",
        occurred_at=fetched.created_at or datetime.now(UTC),
        activity=ActivityType.FORM_SUBMITTED,
    )
    assert (lead.email, lead.first_name, lead.last_name) == ("joe@example.com", "Joe", "Example")
    assert lead.occurred_at == datetime(2015, 2, 28, 8, 49, 14, tzinfo=UTC)


# Variants a real form produces that the published examples lack. These are ours, built on the published
# example by adding the answers Typeform's and Tally's documented answer types allow; not cited as theirs.


def typeform_with(*answers: dict[str, Any], fields: tuple[dict[str, Any], ...] = (), **hidden: str) -> Any:
    payload = published("typeform_example_payload")
    response = payload["form_response"]
    response["answers"] += list(answers)
    response["definition"]["fields"] += list(fields)
    if hidden:
        response["hidden"] = hidden
    return payload


def test_typeform_second_email_phone_hidden_fields_other_choice_and_a_file() -> None:
    payload = typeform_with(
        {"type": "email", "email": "ops@cityhall.example", "field": {"id": "E2", "type": "email"}},
        {"type": "phone_number", "phone_number": "+61 2 9374 4000", "field": {"id": "P1", "type": "phone_number"}},
        {
            "type": "choices",
            "choices": {"labels": ["Parks"], "other": "Night buses"},
            "field": {"id": "C1", "type": "multiple_choice"},
        },
        {
            "type": "file_url",
            "file_url": "https://api.typeform.com/forms/lT4Z3j/responses/x/fields/F1/files/plan.pdf",
            "field": {"id": "F1", "type": "file_upload"},
        },
        fields=(
            {"id": "E2", "title": "Who else should we copy?", "type": "email", "ref": "copy"},
            {"id": "P1", "title": "Best number to reach you", "type": "phone_number", "ref": "phone"},
            {"id": "C1", "title": "What should the city fix first?", "type": "multiple_choice", "ref": "fix"},
            {"id": "F1", "title": "Attach a plan", "type": "file_upload", "ref": "plan"},
        ),
        utm_source="newsletter",
        utm_campaign="city-survey",
    )
    lead = only(deliver("typeform", payload))
    assert lead.email == "laura@example.com"  # the first email answer; the second stays an answer
    assert lead.answers[answer_key("Who else should we copy?")] == "ops@cityhall.example"
    assert lead.phone == "+61 2 9374 4000"
    assert (lead.utm_source, lead.utm_campaign) == ("newsletter", "city-survey")
    assert lead.answers[answer_key("What should the city fix first?")] == "Parks, Night buses"
    assert lead.answers[answer_key("Attach a plan")].endswith("/files/plan.pdf")


def test_tally_second_email_field_stays_an_answer() -> None:
    payload = published("tally_example_event")
    payload["data"]["fields"].append(
        {"key": "question_extra", "label": "Assistant's email", "type": "INPUT_EMAIL", "value": "pa@example.com"}
    )
    lead = only(deliver("tally", payload))
    assert lead.email == "alice@example.com"
    assert lead.answers[answer_key("Assistant's email")] == "pa@example.com"
