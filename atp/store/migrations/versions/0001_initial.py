"""Initial schema: presets, watchlist, settings + audit, the decision chain, orders, leases.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand (and checked against the models by tests/integration/store): migrations
are frozen history, so they never import `atp.store.models`. Constraint names follow the
naming convention in models.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "presets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("rsi_buy_below", sa.Float(), nullable=False),
        sa.Column("rsi_sell_above", sa.Float(), nullable=False),
        sa.Column("check_ema10", sa.Boolean(), nullable=False),
        sa.Column("check_ma50", sa.Boolean(), nullable=False),
        sa.Column("check_ma200", sa.Boolean(), nullable=False),
        sa.Column("risk", sa.String(16), nullable=False),
        sa.Column("ema10_tolerance_pct", sa.Float(), nullable=False),
        sa.Column("min_volume_ratio", sa.Float(), nullable=False),
        sa.Column("cooldown_minutes", sa.Float(), nullable=False),
        sa.Column("min_price_change_pct", sa.Float(), nullable=False),
        sa.Column("sl_pct", sa.Float(), nullable=False),
        sa.Column("tp_pct", sa.Float(), nullable=False),
        sa.Column("sl_atr_mult", sa.Float(), nullable=False),
        sa.Column("tp_atr_mult", sa.Float(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(64), server_default="system", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_presets"),
        sa.CheckConstraint("risk IN ('conservative', 'aggressive')", name="ck_presets_risk"),
        sa.CheckConstraint("rsi_buy_below < rsi_sell_above", name="ck_presets_rsi_order"),
    )

    op.create_table(
        "watchlist",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exchange", sa.String(32), server_default="cryptocom", nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("alert_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("buy_alert_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sell_alert_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("preset", sa.String(64), server_default="swing-conservative", nullable=False),
        sa.Column("overrides", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("trade_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("trade_amount_usd", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("buy_target", sa.Float(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_watchlist"),
        sa.UniqueConstraint("exchange", "symbol", name="uq_watchlist_exchange_symbol"),
        sa.ForeignKeyConstraint(
            ["preset"],
            ["presets.name"],
            name="fk_watchlist_preset_presets",
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("trade_amount_usd >= 0", name="ck_watchlist_trade_amount_usd"),
        sa.CheckConstraint("buy_target IS NULL OR buy_target > 0", name="ck_watchlist_buy_target"),
    )

    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_key", sa.String(128), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.CheckConstraint(
            "entity IN ('setting', 'preset', 'watchlist')", name="ck_audit_log_entity"
        ),
    )
    op.create_index(
        "ix_audit_log_entity_entity_key_at", "audit_log", ["entity", "entity_key", "at"]
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    op.create_table(
        "monitor_cycles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("symbols", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("processed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lag_ms", sa.Float(), nullable=True),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_cycles"),
    )
    op.create_index("ix_monitor_cycles_started_at", "monitor_cycles", ["started_at"])

    op.create_table(
        "decisions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("preset", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("buy_index", sa.Integer(), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("alert_ref", sa.String(36), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.CheckConstraint("decision IN ('BUY', 'SELL', 'WAIT')", name="ck_decisions_decision"),
        sa.CheckConstraint("buy_index BETWEEN 0 AND 100", name="ck_decisions_buy_index"),
    )
    op.create_index("ix_decisions_symbol_created_at", "decisions", ["symbol", "created_at"])
    op.create_index("ix_decisions_decision_created_at", "decisions", ["decision", "created_at"])
    op.create_index("ix_decisions_cycle_id", "decisions", ["cycle_id"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(8), server_default="info", nullable=False),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("payload", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.CheckConstraint("severity IN ('info', 'warning', 'error')", name="ck_events_severity"),
    )
    op.create_index("ix_events_type_at", "events", ["type", "at"])
    op.create_index("ix_events_decision_id", "events", ["decision_id"])
    op.create_index("ix_events_symbol_at", "events", ["symbol", "at"])
    op.create_index("ix_events_at", "events", ["at"])

    op.create_table(
        "alert_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("preset", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_outcomes"),
        sa.UniqueConstraint("decision_id", name="uq_alert_outcomes_decision_id"),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name="fk_alert_outcomes_decision_id_decisions",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("side IN ('BUY', 'SELL')", name="ck_alert_outcomes_side"),
        sa.CheckConstraint(
            "outcome IN ('BLOCKED', 'THROTTLED', 'PENDING', 'SENT', 'FAILED')",
            name="ck_alert_outcomes_outcome",
        ),
    )
    op.create_index(
        "ix_alert_outcomes_outcome_created_at", "alert_outcomes", ["outcome", "created_at"]
    )
    op.create_index(
        "ix_alert_outcomes_symbol_created_at", "alert_outcomes", ["symbol", "created_at"]
    )

    op.create_table(
        "throttle_state",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("preset", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("alerted_at", TS, nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "preset", name="pk_throttle_state"),
        sa.CheckConstraint("side IN ('BUY', 'SELL')", name="ck_throttle_state_side"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.CheckConstraint("kind IN ('alert', 'watchdog', 'reply')", name="ck_outbox_kind"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_outbox_status"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_decision_id", "outbox", ["decision_id"])

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("order_type", sa.String(32), nullable=False),
        sa.Column("notional", sa.Float(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("trigger_price", sa.Float(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("exchange_order_id", sa.String(64), nullable=True),
        sa.Column("parent_client_order_id", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("client_order_id", name="uq_orders_client_order_id"),
        sa.CheckConstraint("side IN ('BUY', 'SELL')", name="ck_orders_side"),
    )
    op.create_index("ix_orders_decision_id", "orders", ["decision_id"])
    op.create_index("ix_orders_symbol_created_at", "orders", ["symbol", "created_at"])
    op.create_index("ix_orders_parent_client_order_id", "orders", ["parent_client_order_id"])

    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("renewed_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    # Children before parents, so foreign keys never block a drop.
    for table in (
        "leases",
        "orders",
        "outbox",
        "throttle_state",
        "alert_outcomes",
        "events",
        "decisions",
        "monitor_cycles",
        "audit_log",
        "settings",
        "watchlist",
        "presets",
    ):
        op.drop_table(table)
