"""Alembic environment of the qualifier service."""

from services.qualifier.persistence.tables import metadata
from shared.db.migrations import run_env

run_env(metadata)
