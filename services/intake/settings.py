"""Intake's settings: webhook secrets and limits on what it accepts."""

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Environment of the intake service."""

    webhook_secret_generic: SecretStr | None = None
    webhook_tolerance_s: int = Field(300, ge=1, le=3600)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)

    def webhook_secrets(self) -> dict[str, str]:
        """Configured secret per provider."""
        secrets = {"generic": self.webhook_secret_generic}
        return {name: secret.get_secret_value() for name, secret in secrets.items() if secret is not None}
