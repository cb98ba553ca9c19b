"""Time-series features: TimescaleDB where the extension exists, plain PostgreSQL otherwise.

Both paths leave the same relation names and columns (`quote_ohlc_hourly`,
`daily_performance`), so queries work on either. `arbees_meta.timescaledb`
records which path was taken.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Time-series tables (hypertables on TimescaleDB, BRIN-indexed on plain PostgreSQL).
TIMESERIES = (
    "raw_feeds",
    "event_states",
    "plays",
    "quotes",
    "probabilities",
    "signals",
    "orders",
    "fills",
    "order_statuses",
    "position_events",
    "ledger_entries",
    "risk_events",
    "alerts",
    "heartbeats",
    "dead_letters",
)
#: Raw time series kept 30 days; trading records and archives are kept.
RETAINED_30_DAYS = ("raw_feeds", "quotes", "event_states", "plays", "heartbeats")

DAILY_PERFORMANCE_SELECT = """
    SELECT {bucket} AS day, account,
           sum(delta_micros) AS pnl_micros,
           sum(CASE WHEN delta_micros < 0 THEN delta_micros ELSE 0 END) AS debits_micros,
           count(*) AS entries
    FROM ledger_entries
    GROUP BY 1, 2
"""

TIMESCALE_STATEMENTS: tuple[str, ...] = (
    *(
        f"SELECT create_hypertable('{t}', by_range('ts', INTERVAL '1 day'), if_not_exists => TRUE, migrate_data => TRUE)"
        for t in TIMESERIES
    ),
    """CREATE MATERIALIZED VIEW quote_ohlc_hourly WITH (timescaledb.continuous) AS
       SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, venue, market_id,
              first(yes_mid_micros, ts) AS open_micros, max(yes_mid_micros) AS high_micros,
              min(yes_mid_micros) AS low_micros, last(yes_mid_micros, ts) AS close_micros,
              count(*) AS quotes
       FROM quotes GROUP BY 1, 2, 3 WITH NO DATA""",
    "SELECT add_continuous_aggregate_policy('quote_ohlc_hourly', start_offset => INTERVAL '3 days', "
    "end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes')",
    "CREATE MATERIALIZED VIEW daily_performance WITH (timescaledb.continuous) AS"
    + DAILY_PERFORMANCE_SELECT.format(bucket="time_bucket(INTERVAL '1 day', ts)")
    + " WITH NO DATA",
    "SELECT add_continuous_aggregate_policy('daily_performance', start_offset => INTERVAL '7 days', "
    "end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour')",
    *(f"SELECT add_retention_policy('{t}', INTERVAL '30 days', if_not_exists => TRUE)" for t in RETAINED_30_DAYS),
)

PLAIN_STATEMENTS: tuple[str, ...] = (
    *(f"CREATE INDEX ix_{t}_ts_brin ON {t} USING brin (ts)" for t in TIMESERIES),
    """CREATE VIEW quote_ohlc_hourly AS
       SELECT date_trunc('hour', ts) AS bucket, venue, market_id,
              (array_agg(yes_mid_micros ORDER BY ts) FILTER (WHERE yes_mid_micros IS NOT NULL))[1] AS open_micros,
              max(yes_mid_micros) AS high_micros, min(yes_mid_micros) AS low_micros,
              (array_agg(yes_mid_micros ORDER BY ts DESC) FILTER (WHERE yes_mid_micros IS NOT NULL))[1] AS close_micros,
              count(*) AS quotes
       FROM quotes GROUP BY 1, 2, 3""",
    "CREATE VIEW daily_performance AS" + DAILY_PERFORMANCE_SELECT.format(bucket="date_trunc('day', ts)"),
    # Retention without the extension: a function the sink calls on a schedule.
    "CREATE FUNCTION arbees_apply_retention() RETURNS bigint LANGUAGE plpgsql AS $$\n"
    "DECLARE n bigint := 0; c bigint;\nBEGIN\n"
    + "".join(
        f"  DELETE FROM {t} WHERE ts < now() - INTERVAL '30 days'; GET DIAGNOSTICS c = ROW_COUNT; n := n + c;\n"
        for t in RETAINED_30_DAYS
    )
    + "  RETURN n;\nEND $$",
)


def timescale_available() -> bool:
    bind = op.get_bind()
    return bool(bind.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")).scalar())


def upgrade() -> None:
    if timescale_available():
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        for stmt in TIMESCALE_STATEMENTS:
            if "timescaledb.continuous" in stmt:
                # continuous aggregates cannot be created inside a transaction
                with op.get_context().autocommit_block():
                    op.execute(stmt)
            else:
                op.execute(stmt)
        mode = "on"
    else:
        for stmt in PLAIN_STATEMENTS:
            op.execute(stmt)
        mode = "off"
    op.execute(f"INSERT INTO arbees_meta (key, value) VALUES ('timescaledb', '{mode}') "
               "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")


def downgrade() -> None:
    mode = op.get_bind().execute(text("SELECT value FROM arbees_meta WHERE key = 'timescaledb'")).scalar()
    if mode == "on":
        for view in ("daily_performance", "quote_ohlc_hourly"):
            with op.get_context().autocommit_block():
                op.execute(f"DROP MATERIALIZED VIEW IF EXISTS {view} CASCADE")
        for t in RETAINED_30_DAYS:
            op.execute(f"SELECT remove_retention_policy('{t}', if_exists => TRUE)")
    else:
        op.execute("DROP VIEW IF EXISTS daily_performance")
        op.execute("DROP VIEW IF EXISTS quote_ohlc_hourly")
        op.execute("DROP FUNCTION IF EXISTS arbees_apply_retention()")
        for t in TIMESERIES:
            op.execute(f"DROP INDEX IF EXISTS ix_{t}_ts_brin")
    op.execute("DELETE FROM arbees_meta WHERE key = 'timescaledb'")
