"""HubSpot's published signature vectors, each beside its source; none of these values was made up here."""

import pytest

from services.intake.domain.mapping import FieldMapping
from services.intake.webhooks.contract import RawRequest
from services.intake.webhooks.hubspot import HubSpotAdapter
from services.intake.webhooks.hubspot_signature import signature_v1, signature_v2, signature_v3, v3_uri
from services.intake.webhooks.signing import SignatureError
from services.rules import DEFAULT_RULES
from shared.rules import load_rules_section

# Both sources use this client secret.
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://www.example.com/webhook_uri"

# HubSpot's Python SDK, HubSpot/hubspot-api-python, tests/spec/utils/test_signature.py (TEST_DATA and its cases).
SDK_BODY = b"{'example_field':'example_value'}"
SDK_TIMESTAMP = "15000000"
SDK_V1 = "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
SDK_V2 = "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
SDK_V2_GET = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
SDK_V3 = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="

# HubSpot's "Validating the v1 request signature" page (legacydocs.hubspot.com/docs/faq/v1-request-validation):
# a CRM object event (contact.creation) as the webhooks API sends it.
DOCS_V1_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)
DOCS_V1 = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
# "Validating the v2 request signature" (legacydocs.hubspot.com/docs/faq/v2-request-validation), both examples.
DOCS_V2_GET = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
DOCS_V2_POST_BODY = b'{"example_field":"example_value"}'
DOCS_V2_POST = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"

ADAPTER = HubSpotAdapter(SECRET, load_rules_section(DEFAULT_RULES, "intake", FieldMapping)[0], None)


def request(method: str, url: str, body: bytes, **headers: str) -> RawRequest:
    return RawRequest(method, url, {k.replace("_", "-"): v for k, v in headers.items()}, {}, body)


def test_the_sdk_vectors() -> None:
    assert signature_v1(SECRET, SDK_BODY) == SDK_V1
    assert signature_v2(SECRET, "POST", URI, SDK_BODY) == SDK_V2
    assert signature_v2(SECRET, "GET", URI, b"") == SDK_V2_GET
    assert signature_v3(SECRET, "POST", URI, SDK_BODY, SDK_TIMESTAMP) == SDK_V3


def test_the_documentation_vectors() -> None:
    assert signature_v1(SECRET, DOCS_V1_BODY) == DOCS_V1
    assert signature_v2(SECRET, "GET", URI, b"") == DOCS_V2_GET
    assert signature_v2(SECRET, "POST", URI, DOCS_V2_POST_BODY) == DOCS_V2_POST


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (SDK_BODY, {"x_hubspot_signature_v3": SDK_V3, "x_hubspot_request_timestamp": SDK_TIMESTAMP}),
        (SDK_BODY, {"x_hubspot_signature": SDK_V2, "x_hubspot_signature_version": "v2"}),
        (SDK_BODY, {"x_hubspot_signature": SDK_V1, "x_hubspot_signature_version": "v1"}),
        (DOCS_V1_BODY, {"x_hubspot_signature": DOCS_V1, "x_hubspot_signature_version": "v1"}),
        (DOCS_V2_POST_BODY, {"x_hubspot_signature": DOCS_V2_POST, "x_hubspot_signature_version": "v2"}),
    ],
)
def test_the_adapter_verifies_every_published_vector(body: bytes, headers: dict[str, str]) -> None:
    ADAPTER.verify(request("POST", URI, body, **headers), now=int(SDK_TIMESTAMP) / 1000 + 60)
    tampered = body.replace(b"example", b"exampel").replace(b"123", b"124")
    with pytest.raises(SignatureError):
        ADAPTER.verify(request("POST", URI, tampered, **headers), now=int(SDK_TIMESTAMP) / 1000 + 60)


def test_v3_is_refused_when_stale_even_with_a_right_signature() -> None:
    headers = {"x_hubspot_signature_v3": SDK_V3, "x_hubspot_request_timestamp": SDK_TIMESTAMP}
    with pytest.raises(SignatureError, match="clock"):
        ADAPTER.verify(request("POST", URI, SDK_BODY, **headers), now=int(SDK_TIMESTAMP) / 1000 + 301)


def test_v3_signs_the_uri_with_the_listed_escapes_decoded_and_no_others() -> None:
    assert v3_uri("https://x.io/hook?next=%2Fa%3Ab%40c%2c%20d") == "https://x.io/hook?next=/a:b@c,%20d"
    # A request whose query carries escapes: HubSpot signed the decoded form, and the adapter must too.
    called = "https://x.io/v1/webhooks/hubspot?portal=62515&return=https%3A%2F%2Fapp.example.com%2Fdone"
    stamp = "1700000000000"
    signed = signature_v3(SECRET, "POST", called, SDK_BODY, stamp)
    assert signed == signature_v3(SECRET, "POST", v3_uri(called), SDK_BODY, stamp)
    headers = {"x_hubspot_signature_v3": signed, "x_hubspot_request_timestamp": stamp}
    ADAPTER.verify(request("POST", called, SDK_BODY, **headers), now=1_700_000_000)


def test_the_documented_object_event_queues_its_contact_for_fetching() -> None:
    parsed = ADAPTER.parse(request("POST", URI, DOCS_V1_BODY))
    assert parsed.submissions == () and [p.external_id for p in parsed.pending] == ["123"]
    assert parsed.pending[0].context["subscription"] == "contact.creation"
    assert parsed.pending[0].context["created_time"] == 1564113600000
