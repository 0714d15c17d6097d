"""Scheduled reports: one row per (report, local date), and the outbox kind `report`.

Revision ID: 0006r
Revises: 0005
Create Date: 2026-12-02

The daily summary, sell report and SL/TP reminder go once per local date, across
restarts and replicas: the key (report, local_date) is the table's primary key, so the
database refuses a second copy. Their messages travel through the outbox as kind `report`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006r"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
OLD_KINDS = "kind IN ('alert', 'watchdog', 'reply', 'order')"
NEW_KINDS = "kind IN ('alert', 'watchdog', 'reply', 'order', 'report')"


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("report", sa.String(16), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.CheckConstraint("report IN ('daily_summary', 'sell_report', 'sltp_reminder')",
                           name="ck_report_runs_report"),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed', 'skipped')",
                           name="ck_report_runs_status"),
        sa.PrimaryKeyConstraint("report", "local_date", name="pk_report_runs"),
    )
    op.create_index("ix_report_runs_outbox_id", "report_runs", ["outbox_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_kind", type_="check")
        batch.create_check_constraint("ck_outbox_kind", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind = 'report'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_kind", type_="check")
        batch.create_check_constraint("ck_outbox_kind", OLD_KINDS)
    op.drop_index("ix_report_runs_outbox_id", "report_runs")
    op.drop_table("report_runs")
