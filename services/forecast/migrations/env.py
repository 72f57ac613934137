"""Alembic environment of the forecast service."""

from services.forecast.persistence.tables import metadata
from shared.db.migrations import run_env

run_env(metadata)
