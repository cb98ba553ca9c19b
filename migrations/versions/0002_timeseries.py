"""Time-series features: TimescaleDB where the extension exists, plain PostgreSQL otherwise.

Both paths leave the same relation names and columns (`quote_ohlc_hourly`,
`daily_performance`), so queries work on either. `arbees_meta.timescaledb`
records which path was taken. The TimescaleDB path needs the extension loaded
(preloaded), not merely installed: installed but not preloaded, the plain path is
taken and the reason is recorded (`arbees_meta.timescaledb_reason`) and logged.

Every statement is idempotent (IF NOT EXISTS, `if_not_exists => TRUE`), so a
database left half-migrated by a failed run (the first version of this revision
committed its aggregates outside the migration's transaction) migrates cleanly.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import logging

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
    """CREATE MATERIALIZED VIEW IF NOT EXISTS quote_ohlc_hourly WITH (timescaledb.continuous) AS
       SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, venue, market_id,
              first(yes_mid_micros, ts) AS open_micros, max(yes_mid_micros) AS high_micros,
              min(yes_mid_micros) AS low_micros, last(yes_mid_micros, ts) AS close_micros,
              count(*) AS quotes
       FROM quotes GROUP BY 1, 2, 3 WITH NO DATA""",
    "SELECT add_continuous_aggregate_policy('quote_ohlc_hourly', start_offset => INTERVAL '3 days', "
    "end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes', if_not_exists => TRUE)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS daily_performance WITH (timescaledb.continuous) AS"
    + DAILY_PERFORMANCE_SELECT.format(bucket="time_bucket(INTERVAL '1 day', ts)")
    + " WITH NO DATA",
    "SELECT add_continuous_aggregate_policy('daily_performance', start_offset => INTERVAL '7 days', "
    "end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE)",
    *(f"SELECT add_retention_policy('{t}', INTERVAL '30 days', if_not_exists => TRUE)" for t in RETAINED_30_DAYS),
)

PLAIN_STATEMENTS: tuple[str, ...] = (
    *(f"CREATE INDEX IF NOT EXISTS ix_{t}_ts_brin ON {t} USING brin (ts)" for t in TIMESERIES),
    """CREATE OR REPLACE VIEW quote_ohlc_hourly AS
       SELECT date_trunc('hour', ts) AS bucket, venue, market_id,
              (array_agg(yes_mid_micros ORDER BY ts) FILTER (WHERE yes_mid_micros IS NOT NULL))[1] AS open_micros,
              max(yes_mid_micros) AS high_micros, min(yes_mid_micros) AS low_micros,
              (array_agg(yes_mid_micros ORDER BY ts DESC) FILTER (WHERE yes_mid_micros IS NOT NULL))[1] AS close_micros,
              count(*) AS quotes
       FROM quotes GROUP BY 1, 2, 3""",
    "CREATE OR REPLACE VIEW daily_performance AS" + DAILY_PERFORMANCE_SELECT.format(bucket="date_trunc('day', ts)"),
    # Retention without the extension: a function the sink calls on a schedule.
    "CREATE OR REPLACE FUNCTION arbees_apply_retention() RETURNS bigint LANGUAGE plpgsql AS $$\n"
    "DECLARE n bigint := 0; c bigint;\nBEGIN\n"
    + "".join(
        f"  DELETE FROM {t} WHERE ts < now() - INTERVAL '30 days'; GET DIAGNOSTICS c = ROW_COUNT; n := n + c;\n"
        for t in RETAINED_30_DAYS
    )
    + "  RETURN n;\nEND $$",
)


#: Installed (listed with the server's extensions), created in this database, and loaded into this server
#: (its loader registers `timescaledb.*` settings; an extension loaded from a private folder through
#: Debian's extension_destdir is loaded without being listed).
TIMESCALE_STATE = (
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'), "
    "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'), "
    "EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.max_background_workers')"
)

NOT_PRELOADED = (
    "TimescaleDB is installed but not preloaded, so the plain-PostgreSQL path was taken: to use it, set "
    "shared_preload_libraries = 'timescaledb' in postgresql.conf, restart the server, then run "
    "`arbees db downgrade 0001` and `arbees db migrate` (tables are kept and become hypertables)"
)


#: A control file under Debian's extension_destdir (not listed in pg_available_extensions); superuser only.
STAGED_CONTROL_FILE = """
    SELECT (pg_stat_file(current_setting('extension_destdir') || setting || '/extension/timescaledb.control', true))
           .modification IS NOT NULL
    FROM pg_config WHERE name = 'SHAREDIR'
"""


def _staged() -> bool:
    bind = op.get_bind()
    superuser = bind.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
    if not superuser or bind.execute(text("SELECT current_setting('extension_destdir', true)")).scalar() in (None, ""):
        return False
    return bool(bind.execute(text(STAGED_CONTROL_FILE)).scalar())


def timescale_path() -> tuple[bool, str]:
    """Whether to take the TimescaleDB path, and why (recorded in arbees_meta)."""
    listed, created, loaded = op.get_bind().execute(text(TIMESCALE_STATE)).one()
    installed = listed or _staged()
    if loaded:
        return True, "extension loaded (preloaded by the server)"
    if created:  # created but no longer preloaded: every TimescaleDB statement would fail
        raise RuntimeError("the timescaledb extension exists in this database but the server does not preload it: "
                           "set shared_preload_libraries = 'timescaledb' and restart the server")
    if installed:
        logging.getLogger(__name__).warning(NOT_PRELOADED)
        return False, NOT_PRELOADED
    return False, "extension not installed on this server"


def _meta(key: str, value: str) -> None:
    op.get_bind().execute(
        text("INSERT INTO arbees_meta (key, value) VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"),
        {"k": key, "v": value},
    )


#: With `arbees.maintenance = 'stack'` (a database setting) the policy jobs are left paused for TimescaleDB's
#: scheduler, in the transaction that creates them: the stack runs them (ops/sink/maintenance.py). The test
#: databases use it, so no background job drops a test's old rows under it.
PAUSE_JOBS_FOR_STACK = """
    SELECT count(*) FROM timescaledb_information.jobs j, LATERAL alter_job(j.job_id, scheduled => false) AS altered
    WHERE j.proc_schema = '_timescaledb_functions' AND j.proc_name <> 'policy_telemetry' AND j.scheduled
      AND current_setting('arbees.maintenance', true) = 'stack'
"""


def upgrade() -> None:
    # Aggregates created WITH NO DATA may be created inside a transaction: the whole revision is one.
    on, reason = timescale_path()
    statements = (("CREATE EXTENSION IF NOT EXISTS timescaledb", *TIMESCALE_STATEMENTS, PAUSE_JOBS_FOR_STACK) if on
                  else PLAIN_STATEMENTS)
    for stmt in statements:
        op.execute(stmt)
    _meta("timescaledb", "on" if on else "off")
    _meta("timescaledb_reason", reason)


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
    op.execute("DELETE FROM arbees_meta WHERE key IN ('timescaledb', 'timescaledb_reason')")
