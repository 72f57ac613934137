"""A training run end to end: gather outcomes, fit and validate off the event loop, keep the version, and put it
to work when it beats what is in use."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import sklearn
import structlog

from services.scorer.active_model import ActiveModel
from services.scorer.commands.sweeps import repredict
from services.scorer.domain.features import lead_features
from services.scorer.domain.model import ALGORITHM, Example, Trained, train
from services.scorer.domain.rules import ScoringRules
from services.scorer.persistence import model_store, repository
from shared.db.locks import exclusive
from shared.db.unit_of_work import UnitOfWorkFactory

log = structlog.get_logger(__name__)


class TrainingInProgress(RuntimeError):
    """Another process (a replica, or `leadflow train`) is training right now."""


async def examples(uow: UnitOfWorkFactory, rules: ScoringRules) -> list[Example]:
    """Every scored lead with an outcome, as the model sees it."""
    async with uow.database.session() as session:
        rows = await repository.labelled(session)
    return [
        Example(
            lead_id, lead_features(stored.profile, history, rules), outcome == "won", stored.first_seen_at, stored.score
        )
        for stored, outcome, history, lead_id in rows
    ]


def report_of(trained: Trained, activated: bool) -> dict[str, Any]:
    """What a person needs to judge a version: validation figures beside what it had to beat."""
    rival = trained.active_metrics or trained.rules_metrics
    verdict = "beats" if trained.better else "does not beat"
    return {
        "activated": activated,
        "decision": f"AUC {trained.metrics.auc:.4f} {verdict} the {trained.beats} ({rival.auc:.4f}) on validation",
        "metrics": trained.metrics.as_dict(),
        "rules_score_metrics": trained.rules_metrics.as_dict(),
        "active_model_metrics": trained.active_metrics.as_dict() if trained.active_metrics else None,
        "split": trained.split.kind,
        "training_examples": len(trained.split.train),
        "validation_examples": len(trained.split.validation),
        "outcomes": len(trained.split.train) + len(trained.split.validation),
        "won": trained.positives,
        "features": {
            "categorical": list(trained.model.space.categorical),
            "numeric": list(trained.model.space.numeric),
        },
        "sklearn_version": sklearn.__version__,
    }


async def train_model(uow: UnitOfWorkFactory, rules: ScoringRules, active: ActiveModel) -> dict[str, Any]:
    """Train, store the version (active or rejected), and re-predict every lead when it was activated.

    Raises NotEnoughOutcomes, with how many more are needed, before anything is stored, and TrainingInProgress
    when another replica or `leadflow train` holds the training lock: two trainings would each compare themselves
    with the same active model and both activate (the database refuses a second active model all the same).
    """
    async with exclusive(uow.database, "model_training") as held:
        if not held:
            raise TrainingInProgress("another training is running (a scorer replica or leadflow train); try later")
        found = await examples(uow, rules)
        await active.refresh()
        trained = await asyncio.to_thread(train, found, rules.model, active.model)
        activated = trained.better
        report = report_of(trained, activated)
        blob = active.signer.sign(await asyncio.to_thread(trained.model.to_bytes))
        async with uow.database.session() as session, session.begin():
            version = await model_store.store(
                session,
                status=model_store.ACTIVE if activated else model_store.REJECTED,
                trained_at=datetime.now(UTC),
                algorithm=ALGORITHM,
                report=report,
                blob=blob,
            )
        log.info("model.trained", version=version, activated=activated, **trained.metrics.as_dict())
        if activated:
            active.use(version, trained.model)
            report["repredicted_leads"] = await repredict(uow, rules, active)
        return {"version": version, "status": model_store.ACTIVE if activated else model_store.REJECTED, **report}
