from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.contracts import FLOW_END, FLOW_START, consumers, event_flow, with_flow
from shared.events.asyncapi import asyncapi_document
from shared.events.models import ALL_PAYLOADS, EventPayload, LeadOwnerChanged, LeadScored, LeadStageChanged
from shared.events.topics import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]


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
    doc = asyncapi_document("test", consumers())
    assert {c["address"] for c in doc["channels"].values()} == {t.name for t in ALL_TOPICS}
    documented = {m["name"] for m in doc["components"]["messages"].values()}
    assert documented == {p.cloudevents_type() for p in ALL_PAYLOADS}


def test_every_reference_resolves() -> None:
    doc = asyncapi_document("test", consumers())
    refs = _refs(doc)
    assert refs
    for ref in refs:
        assert _resolve(doc, ref) is not None, ref


def test_each_topic_has_a_producer_and_consumers() -> None:
    doc = asyncapi_document("test", consumers())
    actions = {(op["action"], op["channel"]["$ref"].rsplit("/", 1)[1]) for op in doc["operations"].values()}
    for topic in ALL_TOPICS:
        channel = topic.name.replace(".", "_")
        assert ("send", channel) in actions and ("receive", channel) in actions


def test_the_consumers_are_what_the_handler_tables_apply() -> None:
    consumed = consumers()
    assert set(consumed) == {"scorer", "qualifier", "forecast", "notifier"}
    # The subscriptions a hand-kept table once missed: the scorer learns owners from leads.stages, forecast reads
    # segments from leads.scores.
    assert LeadOwnerChanged in consumed["scorer"] and LeadStageChanged not in consumed["scorer"]
    assert LeadScored in consumed["forecast"]


def test_a_receive_operation_lists_only_the_messages_its_service_applies() -> None:
    doc = asyncapi_document("test", consumers())
    operation = doc["operations"]["scorer_consumes_leads_stages"]
    assert [m["$ref"] for m in operation["messages"]] == [
        "#/channels/leads_stages/messages/lead_owner_changed_v1",
        "#/channels/leads_stages/messages/lead_handoff_changed_v1",
    ]


def test_a_handler_added_to_a_table_changes_the_document_and_the_flow() -> None:
    before = consumers()
    after: dict[str, Sequence[type[EventPayload]]] = {**before, "forecast": (*before["forecast"], LeadOwnerChanged)}
    assert "forecast_consumes_leads_stages" in asyncapi_document("t", before)["operations"]
    assert asyncapi_document("t", after) != asyncapi_document("t", before)
    assert "forecast (lead.stage_changed.v1, lead.owner_changed.v1, lead.handoff_changed.v1)" in event_flow(after)
    assert event_flow(after) != event_flow(before)


def test_the_flow_replaces_only_its_block_and_a_file_without_one_is_named() -> None:
    text = f"# title\n\n{FLOW_START}\nstale\n{FLOW_END}\n\nrest\n"
    flow = event_flow(consumers())
    assert with_flow(text, flow, "X.md") == f"# title\n\n{flow}\n\nrest\n"
    with pytest.raises(ValueError, match=r"X\.md has no event-flow block"):
        with_flow("# title\n", flow, "X.md")


def test_the_check_fails_on_a_stale_readme(tmp_path: Path) -> None:
    docs, deploy = tmp_path / "docs", tmp_path / "deploy"
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    (docs / "openapi").mkdir(parents=True)
    (docs / "architecture.md").write_text((ROOT / "docs/architecture.md").read_text())
    for relative in ["asyncapi.json", *(f"openapi/{p.name}" for p in (ROOT / "docs/openapi").iterdir())]:
        (docs / relative).write_text((ROOT / "docs" / relative).read_text())
    for path in (ROOT / "deploy").rglob("*"):
        if path.is_file():
            (deploy / path.relative_to(ROOT / "deploy")).parent.mkdir(parents=True, exist_ok=True)
            (deploy / path.relative_to(ROOT / "deploy")).write_bytes(path.read_bytes())
    args = ["contracts", "--check", "--out", str(docs), "--readme", str(readme), "--deploy", str(deploy)]
    assert CliRunner().invoke(app, args).exit_code == 0
    readme.write_text(readme.read_text().replace('-- "leads.scores" --> forecast', '-- "leads.scores" --> nobody'))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and str(readme) in result.output


def test_the_main_routes_examples_are_published_and_are_requests_the_service_accepts() -> None:
    import json

    from pydantic import BaseModel

    from services.intake.api.schemas import LeadIn
    from services.qualifier.api.schemas import EvidenceIn, OpportunityClose, OpportunityIn, StageOverride

    published: dict[str, list[type[BaseModel]]] = {
        "intake": [LeadIn],
        "qualifier": [EvidenceIn, StageOverride, OpportunityIn, OpportunityClose],
    }
    for service, models in published.items():
        components = json.loads((ROOT / "docs" / "openapi" / f"{service}.json").read_text())["components"]
        for model in models:
            examples = components["schemas"][model.__name__].get("examples")
            assert examples, f"{service}: {model.__name__} has no example in /docs"
            for example in examples:
                model.model_validate(example)  # what the route would do with it: raises if it would refuse it


def test_every_error_answer_is_documented_as_problem_json() -> None:
    import json

    for service in ("intake", "scorer", "qualifier", "forecast"):
        document = json.loads((ROOT / "docs" / "openapi" / f"{service}.json").read_text())
        assert document["components"]["securitySchemes"]["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "description": "a named token (LEADFLOW_TOKENS)",
        }
        for path, item in document["paths"].items():
            for method, operation in item.items():
                errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
                assert {"500", "503"} <= set(errors), (service, method, path)
                if operation.get("security"):
                    assert {"401", "403", "429"} <= set(errors), (service, method, path)
                for code, answer in errors.items():
                    assert list(answer["content"]) == ["application/problem+json"], (service, method, path, code)
                    assert answer["content"]["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
