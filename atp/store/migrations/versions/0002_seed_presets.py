"""Seed the six default strategy presets (business-rules §2).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01

The values are spelled out rather than imported from `atp.domain.presets`: a migration is
history and must insert the same rows forever. A test checks they equal DEFAULT_PRESETS;
when the defaults change, add a migration that updates the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "name",
    "rsi_buy_below",
    "rsi_sell_above",
    "check_ema10",
    "check_ma50",
    "check_ma200",
    "risk",
    "ema10_tolerance_pct",
    "min_volume_ratio",
    "cooldown_minutes",
    "min_price_change_pct",
    "sl_pct",
    "tp_pct",
    "sl_atr_mult",
    "tp_atr_mult",
)

# fmt: off
ROWS = (
    ("swing-conservative",    40.0, 70.0, True,  True,  True,  "conservative", 0.5, 0.5, 5.0, 1.0, 3.0, 3.0, 2.0, 3.0),  # noqa: E501
    ("swing-aggressive",      45.0, 68.0, True,  True,  True,  "aggressive",   0.5, 0.5, 5.0, 1.0, 2.0, 2.0, 1.0, 2.0),  # noqa: E501
    ("intraday-conservative", 45.0, 70.0, True,  True,  False, "conservative", 0.5, 0.5, 5.0, 1.0, 3.0, 3.0, 2.0, 3.0),  # noqa: E501
    ("intraday-aggressive",   50.0, 65.0, True,  True,  False, "aggressive",   0.5, 0.5, 5.0, 1.0, 2.0, 2.0, 1.0, 2.0),  # noqa: E501
    ("scalp-conservative",    50.0, 70.0, True,  False, False, "conservative", 5.0, 0.5, 5.0, 1.0, 3.0, 3.0, 2.0, 3.0),  # noqa: E501
    ("scalp-aggressive",      55.0, 65.0, False, False, False, "aggressive",   5.0, 0.5, 5.0, 1.0, 2.0, 2.0, 1.0, 2.0),  # noqa: E501
)
# fmt: on

_presets = sa.table(
    "presets",
    sa.column("name", sa.String),
    sa.column("rsi_buy_below", sa.Float),
    sa.column("rsi_sell_above", sa.Float),
    sa.column("check_ema10", sa.Boolean),
    sa.column("check_ma50", sa.Boolean),
    sa.column("check_ma200", sa.Boolean),
    sa.column("risk", sa.String),
    sa.column("ema10_tolerance_pct", sa.Float),
    sa.column("min_volume_ratio", sa.Float),
    sa.column("cooldown_minutes", sa.Float),
    sa.column("min_price_change_pct", sa.Float),
    sa.column("sl_pct", sa.Float),
    sa.column("tp_pct", sa.Float),
    sa.column("sl_atr_mult", sa.Float),
    sa.column("tp_atr_mult", sa.Float),
    sa.column("updated_by", sa.String),
)


def upgrade() -> None:
    op.bulk_insert(
        _presets,
        [{**dict(zip(COLUMNS, row, strict=True)), "updated_by": "migration"} for row in ROWS],
    )


def downgrade() -> None:
    op.execute(_presets.delete().where(_presets.c.name.in_([row[0] for row in ROWS])))
