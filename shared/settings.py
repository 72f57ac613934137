"""Settings common to every service, read from the environment once, in the composition root."""

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.http.auth import TokenAuthority, TokenGrant
from shared.messaging.kafka_options import KafkaOptions, TopicShape

Environment = Literal["development", "test", "production"]


def settings_errors(exc: ValidationError) -> str:
    """What is wrong with the environment, by variable and reason only: pydantic's own text repeats each input
    value, and the values here are tokens, secrets and database passwords."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        name = f"LEADFLOW_{where.upper()}" if where else "settings"
        parts.append(f"{name}: {error['msg']}")
    return "; ".join(parts)


class ApiToken(BaseModel):
    """One entry of LEADFLOW_API_TOKENS: `{"<name>": {"token": …, "scopes": […], "integration": false}}`."""

    model_config = {"extra": "forbid"}

    token: SecretStr
    scopes: list[str] = Field(min_length=1)
    integration: bool = Field(False, description="may name the person it acts for in x-actor")


# Values that must never protect a production deployment.
_WEAK_TOKENS = {"", "changeme", "change-me", "secret", "dev", "token", "leadflow"}


class ServiceSettings(BaseSettings):
    """What every service needs: where the broker and database are, how to authenticate, how to log."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore", populate_by_name=True)

    environment: Environment = "development"
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "LEADFLOW_KAFKA_BOOTSTRAP_SERVERS"),
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///.leadflow/data/leadflow.db",
        validation_alias=AliasChoices("DATABASE_URL", "LEADFLOW_DATABASE_URL"),
    )
    database_schema: str | None = None
    # Every connection a process opens comes from this pool, the relay's and the job leases' too: a process holds
    # at most pool + overflow (README, "Connection budget").
    database_pool_size: int = Field(5, ge=1, le=200)
    database_max_overflow: int = Field(5, ge=0, le=200)
    api_token: SecretStr | None = None  # the operator's admin token, named "admin" in the audit trail
    # Named tokens; the older `{"<token>": [scopes]}` shape is still read, each named by a digest of its token.
    api_tokens: dict[str, ApiToken | list[str]] = Field(default_factory=dict)
    rules: str | None = None
    topic_partitions: int = Field(3, ge=1, le=256)
    # Kafka as a cluster (README, "Running on a production Kafka"): security for every client, topic shape.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_replication_factor: int = Field(1, ge=1, le=16)
    kafka_min_insync_replicas: int | None = Field(None, ge=1, le=16)
    kafka_retention_ms: int | None = Field(None, ge=-1, description="retention of the event topics; -1 keeps all")
    kafka_dead_letter_retention_ms: int | None = Field(None, ge=-1)
    kafka_create_topics: bool = True
    consumer_batch_size: int = Field(500, ge=1, le=10_000)
    consumer_max_attempts: int = Field(3, ge=1, le=20)
    consumer_retry_backoff_s: float = Field(0.2, ge=0, le=60)
    outbox_batch_size: int = Field(500, ge=1, le=10_000)
    outbox_poll_interval_s: float = Field(0.5, gt=0, le=60)
    rate_limit_per_token: float = Field(200, gt=0, description="requests a second per API token, per process")
    rate_limit_per_provider: float = Field(2000, gt=0, description="webhook deliveries a second per provider")
    rate_limit_failed_auth: float = Field(
        1, gt=0, description="requests without a valid token a second per client address (burst 30)"
    )
    rate_limit_failed_signatures: float = Field(
        1, gt=0, description="webhook deliveries failing verification a second per client address (burst 30)"
    )
    gauge_refresh_s: float = Field(10.0, gt=0, le=3600)
    liveness_stale_s: float = Field(
        120.0, gt=0, description="/healthz fails when the relay or a consumer loop has made no turn for this long"
    )
    lag_interval_s: float = Field(
        15.0, gt=0, le=3600, description="how often each replica asks the broker for its consumer group's lag"
    )
    outbox_retention_days: float = Field(
        7, gt=0, description="published outbox rows are kept this long (the window `leadflow replay` can resend)"
    )
    inbox_retention_days: float = Field(
        14, gt=0, description="processed event ids are kept this long (a redelivery older than this is applied again)"
    )
    retention_interval_s: float = Field(3600, gt=0, le=86_400)
    run_consumers: bool = True  # false for API-only replicas; scale consumers by partitions instead
    run_jobs: bool = True  # false for replicas that should never run the periodic jobs (sweeps, gauges, retention)
    log_level: str = "INFO"
    log_json: bool = True
    # Every request body of every route, checked before routing and authentication (imports may be larger).
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    # /metrics carries revenue (closed-won, commit, P10-P90) and win rates: with a token, Prometheus must send it
    # (`Authorization: Bearer …`); production requires one.
    metrics_token: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("DATABASE_URL must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value

    @model_validator(mode="after")
    def _kafka_is_consistent(self) -> "ServiceSettings":
        if self.kafka_min_insync_replicas and self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                "LEADFLOW_KAFKA_MIN_INSYNC_REPLICAS cannot exceed LEADFLOW_KAFKA_REPLICATION_FACTOR: no write could "
                "ever be acknowledged"
            )
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"LEADFLOW_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs LEADFLOW_KAFKA_SASL_USERNAME "
                "and LEADFLOW_KAFKA_SASL_PASSWORD"
            )
        for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"LEADFLOW_{name.upper()}: no file at {path}")
        return self

    def token_grants(self) -> list[TokenGrant]:
        """Every configured API token with its name and scopes."""
        grants = []
        if self.api_token is not None:
            grants.append(TokenGrant("admin", self.api_token.get_secret_value(), frozenset({"admin"})))
        for key, entry in self.api_tokens.items():
            if isinstance(entry, ApiToken):
                grants.append(
                    TokenGrant(key, entry.token.get_secret_value(), frozenset(entry.scopes), entry.integration)
                )
            else:  # the key is the token itself: name it without revealing it
                name = "token-" + hashlib.sha256(key.encode()).hexdigest()[:8]
                grants.append(TokenGrant(name, key, frozenset(entry)))
        return grants

    def kafka_options(self) -> KafkaOptions:
        """How this service reaches Kafka and shapes its topics."""
        return KafkaOptions(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            topics=TopicShape(
                partitions=self.topic_partitions,
                replication_factor=self.kafka_replication_factor,
                min_insync_replicas=self.kafka_min_insync_replicas,
                retention_ms=self.kafka_retention_ms,
                dead_letter_retention_ms=self.kafka_dead_letter_retention_ms,
                create=self.kafka_create_topics,
                require_replication=self.environment == "production",
            ),
        )

    @model_validator(mode="after")
    def _inbox_outlives_the_outbox(self) -> "ServiceSettings":
        # A replay resends the outbox history that is kept; the inboxes must still know those events to drop them.
        if self.inbox_retention_days < self.outbox_retention_days:
            raise ValueError(
                "LEADFLOW_INBOX_RETENTION_DAYS must be at least LEADFLOW_OUTBOX_RETENTION_DAYS, or a replay "
                "would apply events again whose ids the inboxes already forgot"
            )
        return self

    @model_validator(mode="after")
    def _tokens_are_usable(self) -> "ServiceSettings":
        try:
            TokenAuthority(self.token_grants())
        except ValueError as exc:
            raise ValueError(f"LEADFLOW_API_TOKENS: {exc}") from None
        return self

    @model_validator(mode="after")
    def _no_weak_secrets_in_production(self) -> "ServiceSettings":
        if self.environment != "production":
            return self
        tokens = [grant.token for grant in self.token_grants()]
        if not tokens:
            raise ValueError("production needs LEADFLOW_API_TOKEN or LEADFLOW_API_TOKENS")
        for token in tokens:
            if token.strip().lower() in _WEAK_TOKENS or len(token) < 24:
                raise ValueError("production API tokens must be at least 24 random characters")
        metrics = self.metrics_token.get_secret_value() if self.metrics_token else ""
        if metrics.strip().lower() in _WEAK_TOKENS or len(metrics) < 24:
            raise ValueError(
                "production needs LEADFLOW_METRICS_TOKEN (24+ random characters): /metrics shows revenue and win "
                "rates, and Prometheus sends the token as a bearer credential"
            )
        return self
