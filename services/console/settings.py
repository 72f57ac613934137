"""The console's settings: where the services answer, and the key its session cookies are sealed with."""

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator

from shared.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    """The console reads no database and no topic: it calls the services' APIs with the signed-in person's own
    token, so their scopes and their name in the audit trail are the same as with the API."""

    intake_url: str = "http://127.0.0.1:8000"
    scorer_url: str = "http://127.0.0.1:8001"
    qualifier_url: str = "http://127.0.0.1:8002"
    forecast_url: str = "http://127.0.0.1:8003"
    upstream_timeout_s: float = Field(5.0, gt=0, le=60)
    # A Fernet key (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
    # Every replica needs the same one; in development a key is made per process (a restart signs everyone out).
    console_session_key: SecretStr | None = None
    console_session_hours: float = Field(12.0, gt=0, le=24 * 7)

    @model_validator(mode="after")
    def _a_session_key_in_production(self) -> "ConsoleSettings":
        if self.console_session_key is None:
            if self.environment == "production":
                raise ValueError("LEADFLOW_CONSOLE_SESSION_KEY must be set in production (a Fernet key)")
            return self
        try:
            Fernet(self.console_session_key.get_secret_value())
        except ValueError as exc:
            raise ValueError("LEADFLOW_CONSOLE_SESSION_KEY is not a Fernet key (32 url-safe base64 bytes)") from exc
        return self

    def service_urls(self) -> dict[str, str]:
        """Each service's base URL by name."""
        return {
            "intake": self.intake_url.rstrip("/"),
            "scorer": self.scorer_url.rstrip("/"),
            "qualifier": self.qualifier_url.rstrip("/"),
            "forecast": self.forecast_url.rstrip("/"),
        }
