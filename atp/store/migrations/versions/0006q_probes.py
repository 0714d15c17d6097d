"""Probes: TEST-marked synthetic alerts recorded apart from the decisions.

Revision ID: 0006q
Revises: 0006r
Create Date: 2026-12-02

`probes` holds each probe (`atp check --probe`, `POST /api/probe`, Telegram `/test`) with
its stage and Telegram message id; the outbox learns the kind `probe` and the audit log
the entity `probe`. Nothing else changes: real decisions, outcomes, throttle state and
order intents never see a probe.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006q"
down_revision: str | Sequence[str] | None = "0006r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
OLD_KINDS = "kind IN ('alert', 'watchdog', 'reply', 'order', 'report')"
NEW_KINDS = "kind IN ('alert', 'watchdog', 'reply', 'order', 'report', 'probe')"
OLD_ENTITIES = "entity IN ('setting', 'preset', 'watchlist')"
NEW_ENTITIES = "entity IN ('setting', 'preset', 'watchlist', 'probe')"


def upgrade() -> None:
    op.create_table(
        "probes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="ck_probes_status"),
        sa.PrimaryKeyConstraint("id", name="pk_probes"),
    )
    op.create_index("ix_probes_created_at", "probes", ["created_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_kind", type_="check")
        batch.create_check_constraint("ck_outbox_kind", NEW_KINDS)
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("ck_audit_log_entity", type_="check")
        batch.create_check_constraint("ck_audit_log_entity", NEW_ENTITIES)


def downgrade() -> None:
    op.execute("DELETE FROM audit_log WHERE entity = 'probe'")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("ck_audit_log_entity", type_="check")
        batch.create_check_constraint("ck_audit_log_entity", OLD_ENTITIES)
    op.execute("DELETE FROM outbox WHERE kind = 'probe'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_kind", type_="check")
        batch.create_check_constraint("ck_outbox_kind", OLD_KINDS)
    op.drop_index("ix_probes_created_at", "probes")
    op.drop_table("probes")
