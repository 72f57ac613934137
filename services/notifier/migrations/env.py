"""Alembic environment of the notifier service."""

from services.notifier.persistence.tables import metadata
from shared.db.migrations import run_env

run_env(metadata)
