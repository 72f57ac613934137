"""Kafka headers leadflow sets on every message, so tools can route without parsing the value."""

from shared.events.envelope import CONTENT_TYPE


def event_headers(event_id: str, event_type: str, correlation_id: str | None = None) -> list[tuple[str, bytes]]:
    """CloudEvents binary-mode hints next to the structured value."""
    headers = [
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_id", event_id.encode()),
        ("ce_type", event_type.encode()),
    ]
    if correlation_id:
        headers.append(("correlation_id", correlation_id.encode()))
    return headers
