"""Kafka as a cluster: security settings reach every client, the topic shape is checked, mistakes name the key."""

import ssl
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from pydantic import ValidationError

from shared.messaging.broker import is_dead_letter, under_replicated
from shared.messaging.lag import lag
from shared.settings import ServiceSettings


def test_sasl_over_tls_reaches_the_client_options(tmp_path: Path) -> None:
    settings = ServiceSettings(
        kafka_bootstrap_servers="b-1.example:9096",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="leadflow",
        kafka_sasl_password="s3cret-from-the-vault",
    )
    options = settings.kafka_options()
    client = options.client()
    assert client["security_protocol"] == "SASL_SSL" and client["sasl_mechanism"] == "SCRAM-SHA-512"
    assert client["sasl_plain_username"] == "leadflow" and client["sasl_plain_password"] == "s3cret-from-the-vault"
    assert isinstance(client["ssl_context"], ssl.SSLContext)
    assert "s3cret" not in repr(options)


def test_plaintext_needs_no_tls_or_sasl() -> None:
    client = ServiceSettings().kafka_options().client()
    assert client["security_protocol"] == "PLAINTEXT" and "ssl_context" not in client and "sasl_mechanism" not in client


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "LEADFLOW_KAFKA_SASL_USERNAME"),
        ({"kafka_replication_factor": 1, "kafka_min_insync_replicas": 2}, "LEADFLOW_KAFKA_MIN_INSYNC_REPLICAS"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nowhere/ca.pem"}, "LEADFLOW_KAFKA_SSL_CAFILE"),
        ({"outbox_retention_days": 30, "inbox_retention_days": 7}, "LEADFLOW_INBOX_RETENTION_DAYS"),
    ],
)
def test_inconsistent_settings_name_the_key(settings: dict[str, object], names: str) -> None:
    with pytest.raises(ValidationError, match=names):
        ServiceSettings(**settings)  # type: ignore[arg-type]


def test_topic_shape_per_kind_of_topic() -> None:
    shape = (
        ServiceSettings(
            kafka_replication_factor=3,
            kafka_min_insync_replicas=2,
            kafka_retention_ms=604_800_000,
            kafka_dead_letter_retention_ms=2_592_000_000,
            environment="production",
            api_token="x" * 32,
            metrics_token="m" * 32,
        )
        .kafka_options()
        .topics
    )
    assert shape.require_replication and shape.replication_factor == 3
    assert shape.configs(dead_letter=False) == {"min.insync.replicas": "2", "retention.ms": "604800000"}
    assert shape.configs(dead_letter=True)["retention.ms"] == "2592000000"
    assert is_dead_letter("leads.intake.dlq.qualifier") and not is_dead_letter("leads.intake")
    assert not ServiceSettings().kafka_options().topics.require_replication


def test_under_replicated_topics_are_named() -> None:
    described = [
        {"topic": "leads.intake", "partitions": [{"replicas": [1, 2, 3]}, {"replicas": [1, 2, 3]}]},
        {"topic": "leads.scores", "partitions": [{"replicas": [1, 2, 3]}, {"replicas": [2]}]},
    ]
    assert under_replicated(described, 3) == ["leads.scores"]
    assert under_replicated(described, 1) == []


def test_lag_is_what_the_group_has_yet_to_apply_and_never_negative() -> None:
    a, b, c = (TopicPartition("leads.intake", n) for n in range(3))
    start = {a: 0, b: 100, c: 0}
    end = {a: 50, b: 180, c: 7}
    # c's committed offset is past its end: Tansu's end is a batch's base, a lost log restarts at 0.
    assert lag(start, end, {a: 20, c: 9}) == {a: 30, b: 80, c: 0}
