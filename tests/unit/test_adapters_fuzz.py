"""No payload, however odd, makes an adapter fail other than by refusing it: Refused (or pydantic's
ValidationError) is a 4xx; anything else an adapter raises is a bug, which these tests report."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.intake.domain.mapping import FieldMapping
from services.intake.domain.refused import Refused
from services.intake.settings import IntakeSettings
from services.intake.webhooks.contract import Parsed, RawRequest
from services.intake.webhooks.registry import build_adapters
from services.rules import DEFAULT_RULES
from shared.rules import load_rules_section
from tests.webhook_senders import fixture, settings_overrides

MAPPING = load_rules_section(DEFAULT_RULES, "intake", FieldMapping)[0]
ADAPTERS = build_adapters(
    IntakeSettings(webhook_secret_generic="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", **settings_overrides()), MAPPING
)
# What the route turns into 422; anything else is a 500 and fails these tests.
REFUSALS = (Refused, ValidationError)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
FIXTURES = {
    "typeform": "typeform",
    "hubspot": "hubspot",
    "zoom": "zoom_registration",
    "zoom_left": "zoom_left",
    "calendly": "calendly",
    "facebook": "facebook",
    "tally": "tally",
    "webflow": "webflow",
    "generic": "generic",
}


def _request(body: bytes, content_type: str = "application/json") -> RawRequest:
    return RawRequest(
        "POST", "http://test/v1/webhooks/x", {"content-type": content_type, "webhook-id": "msg_1"}, {}, body
    )


def _mutate(document: Any, path: list[Any], value: Any) -> Any:
    """Replace the node at a (wrapped-around) path inside a fixture."""
    if not path or not isinstance(document, dict | list) or not document:
        return value
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[path[0] % len(keys)] if isinstance(path[0], int) else keys[0]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[key] = _mutate(document[key], path[1:], value)
    return copy


def _parse(provider: str, body: bytes, content_type: str = "application/json") -> None:
    try:
        result = ADAPTERS[provider.split("_", maxsplit=1)[0]].parse(_request(body, content_type))
    except REFUSALS:
        return
    assert isinstance(result, Parsed) and result.delivery_id


@pytest.mark.parametrize("provider", sorted(set(ADAPTERS) - {"jotform"}))
@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_arbitrary_json_is_parsed_or_refused(provider: str, value: Any) -> None:
    _parse(provider, json.dumps(value).encode())


@pytest.mark.parametrize("provider", sorted(FIXTURES))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.lists(st.integers(0, 20), min_size=1, max_size=5), value=json_values)
def test_real_payloads_with_any_field_replaced_are_parsed_or_refused(
    provider: str, path: list[int], value: Any
) -> None:
    _parse(provider, json.dumps(_mutate(fixture(FIXTURES[provider]), path, value)).encode())


@settings(max_examples=150)
@given(raw=st.dictionaries(st.text(max_size=12), json_values, max_size=6), garbage=st.binary(max_size=80))
def test_jotform_forms_are_parsed_or_refused(raw: dict[str, Any], garbage: bytes) -> None:
    from urllib.parse import urlencode

    body = urlencode({"submissionID": "1", "formID": "2", "rawRequest": json.dumps(raw)}).encode()
    _parse("jotform", body, "application/x-www-form-urlencoded")
    _parse("jotform", garbage, "multipart/form-data; boundary=x")
    _parse("jotform", garbage, "application/x-www-form-urlencoded")


@pytest.mark.parametrize("stamp", [10**30, -(10**30), "99999999999999999999", float("inf")])
def test_absurd_timestamps_are_refused_not_crashed(stamp: Any) -> None:
    payload = fixture("hubspot") | {"submittedAt": stamp}
    with pytest.raises(REFUSALS):
        ADAPTERS["hubspot"].parse(_request(json.dumps(payload).encode()))


def test_a_body_nested_a_thousand_levels_is_refused_before_decoding() -> None:
    body = b'{"a":' * 1000 + b"1" + b"}" * 1000
    for provider in sorted(set(ADAPTERS) - {"jotform", "generic"}):
        with pytest.raises(Refused, match="nests deeper than"):
            ADAPTERS[provider].parse(_request(body))


def test_an_injected_adapter_bug_is_reported_not_taken_for_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness above must fail when an adapter has a bug: here one that indexes a field that may be absent."""
    adapter = ADAPTERS["tally"]
    original = adapter.parse

    def buggy(request: RawRequest) -> Parsed:
        json.loads(request.body)["data"]["fields"][0]
        return original(request)

    monkeypatch.setattr(adapter, "parse", buggy)
    with pytest.raises((KeyError, TypeError, IndexError)):
        _parse("tally", json.dumps({"eventId": "e1", "eventType": "FORM_RESPONSE", "data": {}}).encode())
