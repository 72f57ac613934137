import contextlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.events.envelope import EventDecodeError, decode, encode, new_event
from shared.events.models import Contact, LeadCaptured, LeadScored, Source
from shared.events.topics import ALL_TOPICS, LEADS_INTAKE, topic_for
from shared.events.vocabulary import Segment


def captured() -> LeadCaptured:
    return LeadCaptured(
        lead_id=uuid.uuid4(),
        contact=Contact(email="a@acme.com", job_title="CTO"),
        source=Source(provider="generic"),
        captured_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_round_trip_keeps_payload_and_attributes() -> None:
    event = new_event(captured(), source="/leadflow/intake")
    back = decode(encode(event))
    assert back.payload == event.payload
    assert back.envelope.type == "io.leadflow.lead.captured.v1"
    assert back.envelope.subject == str(event.payload.lead_id)
    assert back.envelope.specversion == "1.0"
    assert back.envelope.correlationid == event.id


def test_correlation_id_is_carried_when_given() -> None:
    event = new_event(captured(), source="/x", correlation_id="abc")
    assert decode(encode(event)).envelope.correlationid == "abc"


def test_unknown_type_is_a_decode_error() -> None:
    raw = json.loads(encode(new_event(captured(), source="/x")))
    raw["type"] = "io.leadflow.lead.teleported.v1"
    with pytest.raises(EventDecodeError, match="unknown event type"):
        decode(json.dumps(raw).encode())


def test_invalid_payload_names_the_field() -> None:
    raw = json.loads(encode(new_event(captured(), source="/x")))
    del raw["data"]["contact"]
    with pytest.raises(EventDecodeError, match=r"invalid io\.leadflow\.lead\.captured\.v1 payload: contact: "):
        decode(json.dumps(raw).encode())


def test_a_broken_envelope_is_named_as_such() -> None:
    raw = json.loads(encode(new_event(captured(), source="/x")))
    del raw["id"]
    with pytest.raises(EventDecodeError, match=r"not a CloudEvents 1\.0 envelope: id: "):
        decode(json.dumps(raw).encode())
    with pytest.raises(EventDecodeError, match=r"not a CloudEvents 1\.0 envelope"):
        decode(b"{not json")


def test_a_decoded_event_is_typed_by_its_type_and_equal_to_what_was_sent() -> None:
    sent = new_event(captured(), source="/x")
    received = decode(encode(sent))
    assert type(received.payload) is LeadCaptured and received.payload == sent.payload
    assert (received.id, received.lead_id, received.envelope.correlationid) == (sent.id, sent.lead_id, sent.id)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_decoder(raw: bytes) -> None:
    with contextlib.suppress(EventDecodeError):
        decode(raw)


def test_every_payload_has_exactly_one_topic() -> None:
    seen = [p for t in ALL_TOPICS for p in t.payloads]
    assert len(seen) == len(set(seen))
    assert topic_for(LeadCaptured) is LEADS_INTAKE


def test_dead_letter_topic_name() -> None:
    assert LEADS_INTAKE.dead_letter("scorer") == "leads.intake.dlq.scorer"


def test_scored_payload_validates_ranges() -> None:
    with pytest.raises(ValueError):
        LeadScored(
            lead_id=uuid.uuid4(),
            fit=120,
            engagement=0,
            score=0,
            segment=Segment.COLD,
            mql=False,
            rules_version="x",
            scored_at=datetime.now(UTC),
        )
