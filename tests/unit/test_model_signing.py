"""Model artefacts are loaded only when signed with a key the scorer holds."""

from typing import Any

import pytest

from services.scorer.model_signing import ModelSigner, UntrustedModel
from services.scorer.settings import ScorerSettings

ARTEFACT = b"\x80\x04 a pickled model"


def test_signed_artefact_round_trips_and_any_tampering_is_refused() -> None:
    signer = ModelSigner(["k" * 32])
    stored = signer.sign(ARTEFACT)
    assert signer.verify(stored) == ARTEFACT
    flipped = stored[:-1] + bytes([stored[-1] ^ 1])
    with pytest.raises(UntrustedModel, match="matches none"):
        signer.verify(flipped)
    with pytest.raises(UntrustedModel, match="not signed"):
        signer.verify(ARTEFACT)
    with pytest.raises(UntrustedModel, match="matches none"):
        ModelSigner(["other" * 8]).verify(stored)


def test_rotation_signs_with_the_new_key_and_still_reads_the_old() -> None:
    old = ModelSigner(["old" * 11]).sign(ARTEFACT)
    rotating = ModelSigner(["new" * 11, "old" * 11])
    assert rotating.verify(old) == ARTEFACT
    assert ModelSigner(["new" * 11]).verify(rotating.sign(ARTEFACT)) == ARTEFACT


def test_production_needs_a_key_of_its_own() -> None:
    tokens: dict[str, Any] = {"api_token": "a" * 32, "metrics_token": "m" * 32}
    with pytest.raises(ValueError, match="LEADFLOW_MODEL_SIGNING_KEY"):
        ScorerSettings(environment="production", **tokens)
    with pytest.raises(ValueError, match="LEADFLOW_MODEL_SIGNING_KEY"):
        ScorerSettings(environment="production", model_signing_key="short", **tokens)
    settings = ScorerSettings(environment="production", model_signing_key="n" * 32 + ", " + "o" * 32, **tokens)
    assert settings.model_signing_keys() == ["n" * 32, "o" * 32]
