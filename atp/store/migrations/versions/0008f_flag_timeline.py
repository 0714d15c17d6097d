"""A WAIT run keeps each turn of its flags: `decisions.flag_changes`.

Revision ID: 0008f
Revises: 0007w
Create Date: 2026-12-02

A WAIT whose flags differ from its row's now extends the row too and adds one entry to the
row's flag timeline ([seconds since the row began, flag code], domain/compaction.py)
instead of a ~1 KB row per turn. NULL = the flags never turned in the run (every existing
row). A downgrade drops the timelines: the rows keep their latest flags.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008f"
down_revision: str | Sequence[str] | None = "0007w"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("flag_changes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("flag_changes")
