"""Alembic environment of the intake service."""

from services.intake.persistence.tables import metadata
from shared.db.migrations import run_env

run_env(metadata)
