"""Crash safety: windowed reads indexed, the outbox's "sending" mark, outcome ABANDONED.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

`decisions`, `alert_outcomes` and `orders` are read by a `created_at` window (API pages,
`atp check`); without an index of their own every paged read scanned the table. The outbox
row is marked `sending_since` (committed) before each send, so a send whose fate is unknown
(a timeout, a process killed mid-send) is known as such and retried once, marked
`possible_repeat`. An orphaned BUY/SELL decision too old to alert ends ABANDONED.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OUTCOMES = "outcome IN ('BLOCKED', 'THROTTLED', 'PENDING', 'SENT', 'FAILED')"
NEW_OUTCOMES = ("outcome IN ('BLOCKED', 'THROTTLED', 'PENDING', 'SENT', 'FAILED', "
                "'ABANDONED')")


def upgrade() -> None:
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    with op.batch_alter_table("alert_outcomes") as batch:
        batch.drop_constraint("ck_alert_outcomes_outcome", type_="check")
        batch.create_check_constraint("ck_alert_outcomes_outcome", NEW_OUTCOMES)
        batch.create_index("ix_alert_outcomes_created_at", ["created_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sending_since", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("possible_repeat", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.create_index("ix_outbox_possible_repeat", ["possible_repeat"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_possible_repeat")
        batch.drop_column("possible_repeat")
        batch.drop_column("sending_since")
    op.execute("UPDATE alert_outcomes SET outcome = 'FAILED' WHERE outcome = 'ABANDONED'")
    with op.batch_alter_table("alert_outcomes") as batch:
        batch.drop_index("ix_alert_outcomes_created_at")
        batch.drop_constraint("ck_alert_outcomes_outcome", type_="check")
        batch.create_check_constraint("ck_alert_outcomes_outcome", OLD_OUTCOMES)
    op.drop_index("ix_orders_created_at", "orders")
    op.drop_index("ix_decisions_created_at", "decisions")
