"""Backtest runs in the database, tagged with their run id: the run, its trades and its outputs.

`arbees backtest` writes one `backtest_runs` row per run (what it replayed, the settings
overrides of a sweep variant, the outputs' digest and the report's figures), one
`backtest_trades` row per round trip with the model and market probabilities at entry, and
every order, fill, position event, ledger entry, risk event and signal it produced in
`backtest_outputs` as Avro wire bytes (decode with schemas.codec), in production order.
Runs never share rows with the live tables: a backtest's account and records stay apart.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = (
    """CREATE TABLE backtest_runs (
        run_id text PRIMARY KEY,
        created_at timestamptz NOT NULL,
        engine text NOT NULL,
        input text NOT NULL,
        account text NOT NULL,
        params jsonb NOT NULL DEFAULT '{}'::jsonb,
        inputs integer NOT NULL,
        digest text NOT NULL,
        figures jsonb NOT NULL
    )""",
    """CREATE TABLE backtest_trades (
        run_id text NOT NULL REFERENCES backtest_runs (run_id) ON DELETE CASCADE,
        trade_id text NOT NULL,
        event_id text NOT NULL,
        venue text NOT NULL,
        market_id text NOT NULL,
        side text NOT NULL,
        market_type text NOT NULL,
        league text NOT NULL,
        entry_ts timestamptz NOT NULL,
        exit_ts timestamptz,
        exit_kind text NOT NULL,
        quantity float8 NOT NULL,
        entry_price_micros bigint NOT NULL,
        exit_price_micros bigint,
        cost_micros bigint NOT NULL,
        gross_pnl_micros bigint NOT NULL,
        fees_micros bigint NOT NULL,
        net_pnl_micros bigint NOT NULL,
        model_p float8,
        market_p float8,
        edge float8,
        PRIMARY KEY (run_id, trade_id)
    )""",
    """CREATE TABLE backtest_outputs (
        run_id text NOT NULL REFERENCES backtest_runs (run_id) ON DELETE CASCADE,
        topic text NOT NULL,
        seq integer NOT NULL,
        ts timestamptz NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (run_id, topic, seq)
    )""",
)


def upgrade() -> None:
    for stmt in TABLES:
        op.execute(stmt)


def downgrade() -> None:
    for name in ("backtest_outputs", "backtest_trades", "backtest_runs"):
        op.execute(f"DROP TABLE IF EXISTS {name}")
