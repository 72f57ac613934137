"""Leads of a stage, most recently changed first, read from an index instead of sorted on every request.

With a million leads, GET /v1/leads?stage=mql sorted the stage's 200,000 on every page (p99 over 10 s at
20 requests a second, bench/pipeline.py --preload); the unfiltered list needs the same order without the stage.

Revision ID: qualifier_0006
Revises: qualifier_0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "qualifier_0006"
down_revision: str | None = "qualifier_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORDER = [sa.text("stage_changed_at DESC"), sa.text("lead_id")]
_UNMERGED = sa.text("merged_into IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_leads_stage_recent",
        "leads",
        [sa.text("stage"), *_ORDER],
        postgresql_where=_UNMERGED,
        sqlite_where=_UNMERGED,
    )
    op.create_index("ix_leads_recent", "leads", _ORDER, postgresql_where=_UNMERGED, sqlite_where=_UNMERGED)


def downgrade() -> None:
    op.drop_index("ix_leads_recent", table_name="leads")
    op.drop_index("ix_leads_stage_recent", table_name="leads")
