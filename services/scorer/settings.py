"""Scorer's settings."""

from pydantic import Field, SecretStr, model_validator

from services.scorer.model_signing import DEVELOPMENT_KEY, ModelSigner
from shared.settings import ServiceSettings


class ScorerSettings(ServiceSettings):
    """Environment of the scorer service."""

    rescore_interval_s: float = Field(3600, gt=0, description="how often decayed scores are recomputed")
    model_refresh_s: float = Field(30, gt=0, description="how often the active model version is checked")
    # `new,old` while rotating: models are signed with the first key and accepted with any.
    model_signing_key: SecretStr | None = None

    @model_validator(mode="after")
    def _model_key_in_production(self) -> "ScorerSettings":
        keys = self.model_signing_keys()
        if any(not key for key in keys):
            raise ValueError("LEADFLOW_MODEL_SIGNING_KEY has an empty key")
        if self.environment == "production" and (self.model_signing_key is None or any(len(key) < 32 for key in keys)):
            raise ValueError(
                "production needs LEADFLOW_MODEL_SIGNING_KEY (32+ random characters): the scorer loads only "
                "models signed with it"
            )
        return self

    def model_signing_keys(self) -> list[str]:
        """The configured keys, newest first; development's fallback when none is set."""
        if self.model_signing_key is None:
            return [DEVELOPMENT_KEY]
        return [key.strip() for key in self.model_signing_key.get_secret_value().split(",")]

    def model_signer(self) -> ModelSigner:
        """Signs and checks the model artefacts."""
        return ModelSigner(self.model_signing_keys())
