"""How to reach and shape Kafka: security (TLS, SASL) for every client, and what each topic is created with."""

from dataclasses import dataclass, field
from typing import Any

from aiokafka.helpers import create_ssl_context


@dataclass(frozen=True)
class TopicShape:
    """What leadflow creates its topics with, and what it insists on for existing ones."""

    partitions: int = 3
    replication_factor: int = 1
    min_insync_replicas: int | None = None
    retention_ms: int | None = None
    dead_letter_retention_ms: int | None = None
    create: bool = True  # off where topics are provisioned by other means (a GitOps operator, a managed console)
    require_replication: bool = False  # refuse to start on existing topics with fewer replicas (production)

    def configs(self, *, dead_letter: bool) -> dict[str, str]:
        """Topic-level settings for a new topic."""
        found: dict[str, str] = {}
        if self.min_insync_replicas is not None:
            found["min.insync.replicas"] = str(self.min_insync_replicas)
        retention = self.dead_letter_retention_ms if dead_letter else self.retention_ms
        if retention is not None:
            found["retention.ms"] = str(retention)
        return found


@dataclass(frozen=True)
class KafkaOptions:
    """Where the brokers are, how to authenticate, and the topic shape."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = field(default=None, repr=False)
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topics: TopicShape = field(default_factory=TopicShape)

    def client(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client (producer, consumer, admin) gets."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        if self.security_protocol.startswith("SASL_"):
            options["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options
