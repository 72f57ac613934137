import base64
import hashlib
import hmac

import pytest

from services.intake.domain.standard_webhooks import SignatureError, SignedDelivery, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"type":"lead.submitted","data":{"email":"a@b.co"}}'
NOW = 1_700_000_000


def delivery(signature: str, *, ts: int = NOW, webhook_id: str = "msg_1") -> SignedDelivery:
    return SignedDelivery(webhook_id=webhook_id, timestamp=str(ts), signatures=signature)


def test_signature_matches_the_specification() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"msg_1.{NOW}.".encode() + BODY, hashlib.sha256).digest()).decode()
    assert sign(SECRET, "msg_1", NOW, BODY) == f"v1,{expected}"


def test_valid_delivery_passes() -> None:
    verify(SECRET, delivery(sign(SECRET, "msg_1", NOW, BODY)), BODY, now=NOW + 10, tolerance_s=300)


def test_one_of_several_signatures_is_enough() -> None:
    good = sign(SECRET, "msg_1", NOW, BODY)
    verify(SECRET, delivery(f"v1,bm90IGl0 {good}"), BODY, now=NOW, tolerance_s=300)


def test_tampered_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, delivery(sign(SECRET, "msg_1", NOW, BODY)), BODY + b" ", now=NOW, tolerance_s=300)


def test_other_secret_is_refused() -> None:
    other = "whsec_" + base64.b64encode(b"another secret of enough length").decode()
    with pytest.raises(SignatureError):
        verify(SECRET, delivery(sign(other, "msg_1", NOW, BODY)), BODY, now=NOW, tolerance_s=300)


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_or_future_timestamp_is_refused(offset: int) -> None:
    sig = sign(SECRET, "msg_1", NOW, BODY)
    with pytest.raises(SignatureError, match="clock"):
        verify(SECRET, delivery(sig), BODY, now=NOW + offset, tolerance_s=300)


def test_missing_headers_are_named() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, SignedDelivery("", "", ""), BODY, now=NOW, tolerance_s=300)


def test_non_numeric_timestamp_is_refused() -> None:
    with pytest.raises(SignatureError, match="Unix seconds"):
        verify(SECRET, SignedDelivery("msg_1", "yesterday", "v1,x"), BODY, now=NOW, tolerance_s=300)
