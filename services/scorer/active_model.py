"""The model in use, loaded from the database and swapped when another scorer process activates a new one."""

import asyncio

import structlog

from services.scorer.domain.model import LeadModel
from services.scorer.model_signing import ModelSigner, UntrustedModel
from services.scorer.persistence import model_store
from shared.db.database import Database

log = structlog.get_logger(__name__)


class ActiveModel:
    """Holds the active version in memory; `refresh` is cheap when nothing changed."""

    def __init__(self, database: Database, signer: ModelSigner) -> None:
        self._database = database
        self.signer = signer
        self.version: int | None = None
        self.model: LeadModel | None = None
        self.refused: int | None = None  # the last version refused as untrusted, logged once

    def use(self, version: int, model: LeadModel) -> None:
        """Switch to a model this process just trained and activated."""
        self.version, self.model = version, model

    async def refresh(self) -> None:
        """Load the active version when it differs from the one held."""
        async with self._database.session() as session:
            version = await model_store.active_version(session)
            if version == self.version:
                return
            blob = await model_store.artifact(session, version) if version is not None else None
        if version is None or blob is None:
            self.version, self.model = None, None
            return
        try:
            artefact = self.signer.verify(blob)
        except UntrustedModel as exc:
            # Never unpickled. Scoring goes on by the rules (and any model already held) until a signed one.
            if self.refused != version:
                self.refused = version
                log.error("model.refused", version=version, reason=str(exc), hint="run `leadflow train`")
            return
        try:
            model = await asyncio.to_thread(LeadModel.from_bytes, artefact)
        except Exception as exc:  # noqa: BLE001 - an unreadable model must not stop scoring by the rules
            log.error("model.load_failed", version=version, error=repr(exc))
            return
        self.version, self.model = version, model
        log.info("model.loaded", version=version)
