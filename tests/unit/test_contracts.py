from typing import Any

from shared.events.asyncapi import asyncapi_document
from shared.events.models import ALL_PAYLOADS
from shared.events.topics import ALL_TOPICS


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_topic_and_event_type_is_documented() -> None:
    doc = asyncapi_document("test")
    assert {c["address"] for c in doc["channels"].values()} == {t.name for t in ALL_TOPICS}
    documented = {m["name"] for m in doc["components"]["messages"].values()}
    assert documented == {p.cloudevents_type() for p in ALL_PAYLOADS}


def test_every_reference_resolves() -> None:
    doc = asyncapi_document("test")
    refs = _refs(doc)
    assert refs
    for ref in refs:
        assert _resolve(doc, ref) is not None, ref


def test_each_topic_has_a_producer_and_consumers() -> None:
    doc = asyncapi_document("test")
    actions = {(op["action"], op["channel"]["$ref"].rsplit("/", 1)[1]) for op in doc["operations"].values()}
    for topic in ALL_TOPICS:
        channel = topic.name.replace(".", "_")
        assert ("send", channel) in actions and ("receive", channel) in actions
