"""Model artefacts carry an HMAC of their bytes: a joblib pickle runs code when loaded, so the scorer loads only
what was signed with a key it holds (LEADFLOW_MODEL_SIGNING_KEY). A row written into `models` by anyone else —
another service's role, a restored dump, a hand-edited artefact — is refused before it is unpickled."""

import hashlib
import hmac
from collections.abc import Sequence

_MAGIC = b"LFM1"  # leadflow model, format 1: magic, 32 bytes of HMAC-SHA256, the artefact
_DIGEST = hashlib.sha256().digest_size

# Outside production a missing key falls back to this one, which protects nothing: it only keeps development
# and tests free of setup. Production refuses to start without a key of its own (ScorerSettings).
DEVELOPMENT_KEY = "leadflow-development-model-key-not-a-secret"


class UntrustedModel(ValueError):
    """The artefact is unsigned or signed with a key this scorer does not hold."""


class ModelSigner:
    """Signs with the first key and accepts any of them, so a key can be rotated without retraining at once."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys or not all(keys):
            raise ValueError("a model signing key cannot be empty")
        self._keys = [key.encode() for key in keys]

    def sign(self, artefact: bytes) -> bytes:
        """The artefact as stored: magic, HMAC, bytes."""
        return _MAGIC + hmac.new(self._keys[0], artefact, hashlib.sha256).digest() + artefact

    def verify(self, stored: bytes) -> bytes:
        """The artefact inside `stored`, or UntrustedModel."""
        if not stored.startswith(_MAGIC) or len(stored) < len(_MAGIC) + _DIGEST:
            raise UntrustedModel("the artefact is not signed (trained before signing, or not by a scorer)")
        tag, artefact = stored[len(_MAGIC) : len(_MAGIC) + _DIGEST], stored[len(_MAGIC) + _DIGEST :]
        # Every key is tried, so timing does not tell which one (if any) matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(tag, hmac.new(key, artefact, hashlib.sha256).digest())
        if not matched:
            raise UntrustedModel("the artefact's signature matches none of LEADFLOW_MODEL_SIGNING_KEY")
        return artefact
