"""Settings common to every service, read from the environment once, in the composition root."""

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

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
    database_pool_size: int = Field(10, ge=1, le=200)
    api_token: SecretStr | None = None
    api_tokens: dict[str, list[str]] = Field(default_factory=dict)
    rules: str | None = None
    topic_partitions: int = Field(3, ge=1, le=256)
    consumer_batch_size: int = Field(500, ge=1, le=10_000)
    consumer_max_attempts: int = Field(3, ge=1, le=20)
    consumer_retry_backoff_s: float = Field(0.2, ge=0, le=60)
    outbox_batch_size: int = Field(500, ge=1, le=10_000)
    outbox_poll_interval_s: float = Field(0.5, gt=0, le=60)
    rate_limit_per_token: float = Field(200, gt=0, description="requests a second per API token, per process")
    rate_limit_per_provider: float = Field(2000, gt=0, description="webhook deliveries a second per provider")
    gauge_refresh_s: float = Field(10.0, gt=0, le=3600)
    run_consumers: bool = True  # false for API-only replicas; scale consumers by partitions instead
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("DATABASE_URL must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value

    @model_validator(mode="after")
    def _no_weak_secrets_in_production(self) -> "ServiceSettings":
        if self.environment != "production":
            return self
        tokens = [self.api_token.get_secret_value()] if self.api_token else []
        tokens += list(self.api_tokens)
        if not tokens:
            raise ValueError("production needs LEADFLOW_API_TOKEN or LEADFLOW_API_TOKENS")
        for token in tokens:
            if token.strip().lower() in _WEAK_TOKENS or len(token) < 24:
                raise ValueError("production API tokens must be at least 24 random characters")
        return self
