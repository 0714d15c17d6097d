"""Decisions record which inputs were unknown, and why (business-rules §1).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-02

A WAIT on missing data is a decision like any other; `unknown_inputs` maps each unknown
input to its cause (`{"price": "price stale: 74 s old (limit 60 s)"}`) so `atp check` can
tell a symbol that waits on data from one that waits on the market. Existing rows get `{}`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("unknown_inputs", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("unknown_inputs")
