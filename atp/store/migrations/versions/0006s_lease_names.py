"""Lease names long enough for every process: `presence:` / `replica:` + the owner.

Revision ID: 0006s
Revises: 0006q
Create Date: 2026-12-02

A lease owner is `INSTANCE@host/pid/id` (up to 114 characters: INSTANCE_NAME allows 64,
the host part 32); the per-process leases (`presence:OWNER`, and the replicas' heartbeat
`replica:OWNER`) carry it in their name, which was limited to 64 characters: on
PostgreSQL a long INSTANCE_NAME on a long host name failed to start. 200 fits them all.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006s"
down_revision: str | Sequence[str] | None = "0006q"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.alter_column("name", existing_type=sa.String(64), type_=sa.String(200),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.alter_column("name", existing_type=sa.String(200), type_=sa.String(64),
                           existing_nullable=False)
