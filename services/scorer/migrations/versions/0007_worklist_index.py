"""The worklist in its own order: an index that serves "best first" without sorting every profile.

With a million profiles the worklist sorted them all on every request (over 10 s at 20 requests a second,
bench/pipeline.py --preload); read in this index's order it stops after a page. The second serves one segment.

Revision ID: scorer_0007
Revises: scorer_0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scorer_0007"
down_revision: str | None = "scorer_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNMERGED = sa.text("merged_into IS NULL")


def upgrade() -> None:
    # SQLite takes no NULLS LAST in an index, and needs none: its NULLs sort first, so last when descending.
    nulls_last = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    order = [sa.text(f"probability DESC{nulls_last}"), sa.text("score DESC"), sa.text("lead_id")]
    op.create_index("ix_profiles_worklist", "profiles", order, postgresql_where=_UNMERGED, sqlite_where=_UNMERGED)
    op.create_index(
        "ix_profiles_worklist_segment",
        "profiles",
        [sa.text("segment"), *order],
        postgresql_where=_UNMERGED,
        sqlite_where=_UNMERGED,
    )


def downgrade() -> None:
    op.drop_index("ix_profiles_worklist_segment", table_name="profiles")
    op.drop_index("ix_profiles_worklist", table_name="profiles")
