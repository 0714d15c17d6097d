"""Trading: order intents, broker order states, positions, the paper account, notices.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

`orders` gains what a broker reports (role, filled quantity, average price, fee, OCO list
id, "outcome unknown"); `order_intents` holds the one order outcome of every accepted
alert on a trade-enabled symbol; `positions` the filled BUYs with their SL/TP pair;
`paper_balances` / `paper_orders` the dry-run account; `trading_notices` the causes
already told to Telegram; the outbox learns the kind `order`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ORDER_COLUMNS = ("role", "filled_quantity", "avg_price", "fee", "fee_currency", "list_id",
                 "unknown")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("role", sa.String(16), server_default="entry",
                                   nullable=False))
        batch.add_column(sa.Column("filled_quantity", sa.Float(), server_default=sa.text("0"),
                                   nullable=False))
        batch.add_column(sa.Column("avg_price", sa.Float(), nullable=True))
        batch.add_column(sa.Column("fee", sa.Float(), server_default=sa.text("0"),
                                   nullable=False))
        batch.add_column(sa.Column("fee_currency", sa.String(16), nullable=True))
        batch.add_column(sa.Column("list_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("unknown", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.create_check_constraint(
            "ck_orders_role", "role IN ('entry', 'exit', 'stop_loss', 'take_profit')")
        batch.create_index("ix_orders_status", ["status"])

    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_kind", type_="check")
        batch.create_check_constraint(
            "ck_outbox_kind", "kind IN ('alert', 'watchdog', 'reply', 'order')")

    op.create_table(
        "order_intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("client_oid", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("preset", sa.String(64), nullable=False),
        sa.Column("notional", sa.Float(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("atr", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_intents"),
        sa.UniqueConstraint("decision_id", name="uq_order_intents_decision_id"),
        sa.UniqueConstraint("client_oid", name="uq_order_intents_client_oid"),
        sa.CheckConstraint("side IN ('BUY', 'SELL')", name="ck_order_intents_side"),
        sa.CheckConstraint("mode IN ('paper', 'live')", name="ck_order_intents_mode"),
        sa.CheckConstraint(
            "outcome IN ('PENDING', 'BLOCKED', 'PLACED', 'FILLED', 'CANCELLED', 'REJECTED', "
            "'FAILED')", name="ck_order_intents_outcome"),
    )
    op.create_index("ix_order_intents_outcome_created_at", "order_intents",
                    ["outcome", "created_at"])
    op.create_index("ix_order_intents_symbol_created_at", "order_intents",
                    ["symbol", "created_at"])
    op.create_index("ix_order_intents_created_at", "order_intents", ["created_at"])

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("base", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("entry_client_oid", sa.String(36), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("avg_entry", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(32), nullable=True),
        sa.Column("exit_price", sa.Float(), nullable=True),
        sa.Column("realised_pnl", sa.Float(), nullable=True),
        sa.Column("atr", sa.Float(), nullable=True),
        sa.Column("preset", sa.String(64), nullable=False),
        sa.Column("protection_status", sa.String(16), nullable=False),
        sa.Column("protection_list_id", sa.String(64), nullable=True),
        sa.Column("stop_loss", sa.Float(), nullable=True),
        sa.Column("take_profit", sa.Float(), nullable=True),
        sa.Column("protection_attempts", sa.Integer(), server_default=sa.text("0"),
                  nullable=False),
        sa.Column("protection_error_code", sa.Integer(), nullable=True),
        sa.Column("protection_error", sa.Text(), nullable=True),
        sa.Column("protection_error_since", TS, nullable=True),
        sa.Column("protection_next_at", TS, nullable=True),
        sa.Column("protection_unknown", sa.Boolean(), server_default=sa.false(),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_positions"),
        sa.UniqueConstraint("entry_client_oid", name="uq_positions_entry_client_oid"),
        sa.CheckConstraint("mode IN ('paper', 'live')", name="ck_positions_mode"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_positions_status"),
        sa.CheckConstraint(
            "protection_status IN ('none', 'pending', 'active', 'failed', 'filled', "
            "'cancelled')", name="ck_positions_protection"),
    )
    op.create_index("ix_positions_status_base", "positions", ["status", "base"])
    op.create_index("ix_positions_symbol_status", "positions", ["symbol", "status"])

    op.create_table(
        "paper_balances",
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("currency", name="pk_paper_balances"),
    )
    op.create_table(
        "paper_orders",
        sa.Column("client_oid", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("order_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("filled_quantity", sa.Float(), nullable=False),
        sa.Column("avg_price", sa.Float(), nullable=True),
        sa.Column("fee", sa.Float(), nullable=False),
        sa.Column("fee_currency", sa.String(16), nullable=True),
        sa.Column("trigger_price", sa.Float(), nullable=True),
        sa.Column("list_id", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("client_oid", name="pk_paper_orders"),
    )
    op.create_index("ix_paper_orders_status_symbol", "paper_orders", ["status", "symbol"])
    op.create_index("ix_paper_orders_list_id", "paper_orders", ["list_id"])
    op.create_table(
        "trading_notices",
        sa.Column("cause", sa.String(128), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("cause", name="pk_trading_notices"),
    )


def downgrade() -> None:
    for table in ("trading_notices", "paper_orders", "paper_balances", "positions",
                  "order_intents"):
        op.drop_table(table)
    op.execute("DELETE FROM outbox WHERE kind = 'order'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_kind", type_="check")
        batch.create_check_constraint("ck_outbox_kind",
                                      "kind IN ('alert', 'watchdog', 'reply')")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_status")
        batch.drop_constraint("ck_orders_role", type_="check")
        for column in ORDER_COLUMNS:
            batch.drop_column(column)
