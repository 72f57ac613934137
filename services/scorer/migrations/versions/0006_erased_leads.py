"""Erased people: the leads whose person asked to be forgotten, so what still arrives about them is ignored.

Revision ID: scorer_0006
Revises: scorer_0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from shared.db.migration_ops import create_erased_leads_v1, drop_erased_leads_v1

revision: str = "scorer_0006"
down_revision: str | None = "scorer_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_erased_leads_v1()


def downgrade() -> None:
    drop_erased_leads_v1()
