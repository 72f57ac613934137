"""The AsyncAPI 3.0 document, generated from the topic registry and the payload models."""

from typing import Any

from pydantic.json_schema import models_json_schema

from shared.events.envelope import CONTENT_TYPE
from shared.events.models import EventPayload
from shared.events.topics import ALL_TOPICS, Topic

# Who publishes and who consumes each topic (DESIGN.md section 2).
PRODUCERS = {
    "leads.intake": "intake",
    "leads.scores": "scorer",
    "leads.stages": "qualifier",
    "opportunities": "qualifier",
    "leads.identity": "intake",
}
# As each service's bootstrap subscribes (runtime.add_consumer).
CONSUMERS = {
    "leads.intake": ["scorer", "qualifier"],
    "leads.scores": ["qualifier", "forecast"],
    "leads.stages": ["scorer", "forecast"],
    "opportunities": ["scorer", "forecast"],
    "leads.identity": ["scorer", "qualifier", "forecast"],
}


def _message_name(payload: type[EventPayload]) -> str:
    return payload.cloudevents_type().removeprefix("io.leadflow.").replace(".", "_")


def asyncapi_document(version: str) -> dict[str, Any]:
    """AsyncAPI for every topic: CloudEvents structured messages keyed by lead_id."""
    payloads = [p for topic in ALL_TOPICS for p in topic.payloads]
    _, defs = models_json_schema([(p, "validation") for p in payloads], ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    messages: dict[str, Any] = {}
    for payload in payloads:
        messages[_message_name(payload)] = {
            "name": payload.cloudevents_type(),
            "title": payload.__name__,
            "summary": (payload.__doc__ or "").strip(),
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
            "payload": {
                "type": "object",
                "description": "CloudEvents 1.0 structured-mode envelope",
                "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
                "properties": {
                    "specversion": {"const": "1.0"},
                    "id": {"type": "string", "description": "unique event id; the inbox key"},
                    "source": {"type": "string", "examples": [f"/leadflow/{PRODUCERS.get(_topic_of(payload).name)}"]},
                    "type": {"const": payload.cloudevents_type()},
                    "subject": {"type": "string", "format": "uuid", "description": "the lead_id"},
                    "time": {"type": "string", "format": "date-time"},
                    "datacontenttype": {"const": "application/json"},
                    "correlationid": {"type": "string"},
                    "data": {"$ref": f"#/components/schemas/{payload.__name__}"},
                },
            },
        }
    schemas["KafkaHeaders"] = {
        "type": "object",
        "properties": {
            "content-type": {"const": CONTENT_TYPE},
            "ce_id": {"type": "string"},
            "ce_type": {"type": "string"},
        },
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channel_id = topic.name.replace(".", "_")
        channels[channel_id] = {
            "address": topic.name,
            "description": f"{topic.description}. Key: {topic.key}. Dead letters: {topic.name}.dlq.<consumer-group>.",
            "messages": {
                _message_name(p): {"$ref": f"#/components/messages/{_message_name(p)}"} for p in topic.payloads
            },
            "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
        }
        operations[f"{PRODUCERS[topic.name]}_publishes_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{PRODUCERS[topic.name]} publishes through its outbox",
        }
        for consumer in CONSUMERS[topic.name]:
            operations[f"{consumer}_consumes_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"consumer group {consumer}",
                "bindings": {"kafka": {"groupId": {"type": "string", "const": consumer}, "bindingVersion": "0.5.0"}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "leadflow events",
            "version": version,
            "description": "Integration events between leadflow's services. Generated from shared/events; do not edit.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _topic_of(payload: type[EventPayload]) -> Topic:
    return next(t for t in ALL_TOPICS if payload in t.payloads)
