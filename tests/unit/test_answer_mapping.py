"""Answers become lead fields by what the provider says they are, not only by their label."""

import json
from typing import Any

from services.intake.domain.mapping import Answer, FieldMapping, map_answers
from services.intake.settings import IntakeSettings
from services.intake.webhooks.contract import RawRequest
from services.intake.webhooks.registry import build_adapters
from services.rules import DEFAULT_RULES
from shared.rules import load_rules_section
from tests.webhook_senders import fixture, settings_overrides

MAPPING = load_rules_section(DEFAULT_RULES, "intake", FieldMapping)[0]


def test_an_email_or_phone_answer_is_that_field_whatever_its_label() -> None:
    fields = map_answers(
        [
            Answer("q1", "Where should we send the report?", "sam@harbourline.com", "email"),
            Answer("q2", "Best number for a quick call", "+44 20 7946 0958", "phone"),
            Answer("q3", "A second address for invoices", "billing@harbourline.com", "email"),
        ],
        None,
        MAPPING,
    )
    assert fields["email"] == "sam@harbourline.com" and fields["phone"] == "+44 20 7946 0958"
    assert fields["answers"] == {"a_second_address_for_invoices": "billing@harbourline.com"}


def test_numbered_field_names_of_form_builders_are_recognised() -> None:
    fields = map_answers(
        [Answer(None, "Email 2", "kim@orbit.io"), Answer(None, "Phone 3", "555 0100"), Answer(None, "Name", "Kim Li")],
        None,
        MAPPING,
    )
    assert (fields["email"], fields["phone"], fields["first_name"], fields["last_name"]) == (
        "kim@orbit.io",
        "555 0100",
        "Kim",
        "Li",
    )


def test_structured_answers_read_as_text_a_person_can_read() -> None:
    fields = map_answers(
        [
            Answer(None, "Upload your RFP", [{"name": "rfp.pdf", "url": "https://files.example/rfp.pdf"}]),
            Answer(None, "Deposit", {"price": 49, "currency": "EUR", "status": "paid"}),
            Answer(None, "Full name", {"first": "Kenji", "last": "Sato"}),
            Answer(None, "Interests", ["analytics", "routing"]),
        ],
        None,
        MAPPING,
    )
    assert fields["answers"]["upload_your_rfp"] == "rfp.pdf: https://files.example/rfp.pdf"
    assert fields["answers"]["deposit"] == "price: 49; currency: EUR; status: paid"
    assert fields["answers"]["interests"] == "analytics, routing"
    assert (fields["first_name"], fields["last_name"]) == ("Kenji", "Sato")
    assert not any("{" in v or "[" in v for v in fields["answers"].values())


def _adapters(mapping: FieldMapping) -> dict[str, Any]:
    return build_adapters(IntakeSettings(**settings_overrides()), mapping)


def _request(payload: dict[str, Any]) -> RawRequest:
    return RawRequest(
        "POST", "http://test/v1/webhooks/x", {"content-type": "application/json"}, {}, json.dumps(payload).encode()
    )


def test_a_per_form_override_by_ref_works_when_the_answer_carries_only_the_field_id() -> None:
    payload = fixture("typeform")
    for answer in payload["form_response"]["answers"]:
        answer["field"].pop("ref")  # as Typeform may send them: the ref only in the form's definition
    mapping = MAPPING.model_copy(update={"forms": {"typeform:lT9Z2j": {"goal": "answers.objective", "crm": "ignore"}}})
    parsed = _adapters(mapping)["typeform"].parse(_request(payload))
    answers = parsed.submissions[0].answers
    assert answers["objective"].startswith("Route inbound demo requests") and "which_crm_do_you_use" not in answers


def test_webinar_registration_questions_are_kept() -> None:
    payload = fixture("zoom_registration")
    payload["payload"]["object"]["registrant"] |= {
        "purchasing_time_frame": "Within a month",
        "role_in_purchase_process": "Decision Maker",
        "comments": "We run 40 webinars a year",
        "city": "Leeds",
        "no_of_employees": "51-100",
    }
    submission = _adapters(MAPPING)["zoom"].parse(_request(payload)).submissions[0]
    assert submission.answers["purchasing_time_frame"] == "Within a month"
    assert submission.answers["role_in_purchase_process"] == "Decision Maker"
    assert submission.answers["comments"] == "We run 40 webinars a year" and submission.answers["city"] == "Leeds"
    assert submission.company_size == "51-100"
