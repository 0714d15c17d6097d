"""Compact storage of unchanged WAIT decisions: a row covers [created_at, seen_until].

Revision ID: 0007w
Revises: 0006s
Create Date: 2026-12-02

`seen_until` (the last time the row's decision was made) and `repeats` (the decisions
folded into it, domain/compaction.py); existing rows cover their own instant. Windowed
reads and retention move from `created_at` to `seen_until`; the BUY/SELL index becomes
partial (WAIT rows, ~95 % of the table, carry no entry), and the unused index on
`cycle_id` goes: together ~80 bytes less per row on SQLite. Each monitor cycle counts its
decisions by kind (`buys`, `sells`, `waits`), so counts over a window sum one row a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atp.store.types import UtcDateTime

revision: str = "0007w"
down_revision: str | Sequence[str] | None = "0006s"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("decision <> 'WAIT'")
COUNTS = ("buys", "sells", "waits")


def upgrade() -> None:
    op.add_column("decisions", sa.Column("seen_until", UtcDateTime(), nullable=True))
    op.add_column("decisions", sa.Column("repeats", sa.Integer(), nullable=False,
                                         server_default=sa.text("0")))
    op.execute("UPDATE decisions SET seen_until = created_at")
    for name in COUNTS:
        op.add_column("monitor_cycles", sa.Column(name, sa.Integer(), nullable=False,
                                                  server_default=sa.text("0")))
    op.drop_index("ix_decisions_created_at", table_name="decisions")
    op.drop_index("ix_decisions_cycle_id", table_name="decisions")
    op.drop_index("ix_decisions_decision_created_at", table_name="decisions")
    op.create_index("ix_decisions_seen_until", "decisions", ["seen_until"])
    op.create_index("ix_decisions_active_created_at", "decisions", ["decision", "created_at"],
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("ix_decisions_active_created_at", table_name="decisions")
    op.drop_index("ix_decisions_seen_until", table_name="decisions")
    op.create_index("ix_decisions_decision_created_at", "decisions", ["decision", "created_at"])
    op.create_index("ix_decisions_cycle_id", "decisions", ["cycle_id"])
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("repeats")
        batch.drop_column("seen_until")
    with op.batch_alter_table("monitor_cycles") as batch:
        for name in COUNTS:
            batch.drop_column(name)
