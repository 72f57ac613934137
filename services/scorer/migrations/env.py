"""Alembic environment of the scorer service."""

from services.scorer.persistence.tables import metadata
from shared.db.migrations import run_env

run_env(metadata)
