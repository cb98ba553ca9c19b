"""Compression for the bulk series, a daily P&L that counts only booked trading results, OHLC that skips empty mids.

- TimescaleDB path: `quotes` chunks older than 2 days are compressed (columnstore)
  segmented by (venue, market_id), `raw_feeds` by (source, endpoint), both ordered
  by time: the two tables are nearly all of the database.
- `daily_performance` was summed over every `ledger_entries` row: refused ledger
  versions (a stale entry and its rebuilt copy are both rows of the log) and
  deposits counted as P&L. It is now a view over `bankroll_audit` (what the ledger
  rule booked, one row per accepted version), P&L = `fee` and `realized` entries,
  capital moves (`deposit`, `withdrawal`) in their own column. A plain view on both
  paths: the audit trail is small and not a hypertable.
- TimescaleDB's `quote_ohlc_hourly` opened (closed) on the first (last) quote of
  the hour even when that quote had no mid (a one-sided book): `first()` returns
  the first row's value, null or not. It now skips those, as the plain view always
  did; the aggregate is recreated with its policy and refreshed over all history.

Every statement is idempotent; the final refresh runs outside the transaction
(TimescaleDB refuses it inside one), so a failure there leaves the revision
unrecorded and running it again completes it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: hypertable -> (segment by, compress chunks older than this).
COMPRESSED: dict[str, tuple[str, str]] = {
    "quotes": ("venue, market_id", "2 days"),
    "raw_feeds": ("source, endpoint", "2 days"),
}

TIMESCALE_ON = "SELECT value = 'on' FROM arbees_meta WHERE key = 'timescaledb'"

#: Booked entries only (bankroll_audit), by UTC day; kinds as in streams/trading/ledger.py.
DAILY_PERFORMANCE = """CREATE VIEW daily_performance AS
    SELECT date_trunc('day', ts, 'UTC') AS day, account,
           coalesce(sum(delta_micros) FILTER (WHERE kind IN ('fee', 'realized')), 0) AS pnl_micros,
           coalesce(sum(delta_micros) FILTER (WHERE kind = 'realized'), 0) AS realized_micros,
           coalesce(sum(delta_micros) FILTER (WHERE kind = 'fee'), 0) AS fees_micros,
           coalesce(sum(delta_micros) FILTER (WHERE kind IN ('fee', 'realized') AND delta_micros < 0), 0)
               AS debits_micros,
           coalesce(sum(delta_micros) FILTER (WHERE kind IN ('deposit', 'withdrawal')), 0) AS capital_micros,
           count(*) FILTER (WHERE kind IN ('fee', 'realized')) AS entries
    FROM (SELECT ts, account, delta_micros, btrim(split_part(reason, ':', 1)) AS kind FROM bankroll_audit) booked
    GROUP BY 1, 2"""


OHLC = (
    "CREATE MATERIALIZED VIEW IF NOT EXISTS quote_ohlc_hourly WITH (timescaledb.continuous) AS\n"
    "       SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, venue, market_id,\n"
    "              first(yes_mid_micros, ts) FILTER (WHERE yes_mid_micros IS NOT NULL) AS open_micros,\n"
    "              max(yes_mid_micros) AS high_micros, min(yes_mid_micros) AS low_micros,\n"
    "              last(yes_mid_micros, ts) FILTER (WHERE yes_mid_micros IS NOT NULL) AS close_micros,\n"
    "              count(*) AS quotes\n"
    "       FROM quotes GROUP BY 1, 2, 3 WITH NO DATA"
)


def compression_statements() -> list[str]:
    out = []
    for table, (segment_by, after) in COMPRESSED.items():
        out.append(f"ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = '{segment_by}', "
                   "timescaledb.compress_orderby = 'ts DESC')")
        out.append(f"SELECT add_compression_policy('{table}', compress_after => INTERVAL '{after}', "
                   "if_not_exists => TRUE)")
    return out


def decompression_statements() -> list[str]:
    out = []
    for table in reversed(COMPRESSED):
        out.append(f"SELECT remove_compression_policy('{table}', if_exists => TRUE)")
        out.append(f"SELECT decompress_chunk(c, if_compressed => TRUE) FROM show_chunks('{table}') c")
        out.append(f"ALTER TABLE {table} SET (timescaledb.compress = false)")
    return out


def _drop_view(name: str, timescale: bool) -> None:
    """Drop `name` whichever kind it is now (a continuous aggregate or a plain view), if it exists."""
    kind = op.get_bind().execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}).scalar()
    if kind is None:
        return
    materialized = timescale and kind == "v" and op.get_bind().execute(text(
        "SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_name = :n"), {"n": name}
    ).scalar()
    op.execute(f"DROP {'MATERIALIZED VIEW' if materialized else 'VIEW'} {name} CASCADE")


def _timescale() -> bool:
    return bool(op.get_bind().execute(text(TIMESCALE_ON)).scalar())


def upgrade() -> None:
    timescale = _timescale()
    _drop_view("daily_performance", timescale)
    op.execute(DAILY_PERFORMANCE)
    if not timescale:
        return
    previous = _revision_0002()
    _drop_view("quote_ohlc_hourly", timescale)
    policy = next(s for s in previous.TIMESCALE_STATEMENTS if "add_continuous_aggregate_policy('quote_ohlc_hourly'" in s)
    for stmt in (OHLC, policy, *compression_statements(), previous.PAUSE_JOBS_FOR_STACK):
        op.execute(stmt)
    with op.get_context().autocommit_block():
        op.execute("CALL refresh_continuous_aggregate('quote_ohlc_hourly', NULL, NULL)")


def _revision_0002() -> ModuleType:
    path = Path(__file__).with_name("0002_timeseries.py")
    spec = importlib.util.spec_from_file_location("arbees_migration_0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    """Back to 0002's aggregates (as 0002 defined them) and no compression."""
    timescale = _timescale()
    mine = ("daily_performance", "quote_ohlc_hourly") if timescale else ("daily_performance",)
    for view in mine:
        _drop_view(view, timescale)
    if timescale:
        for stmt in decompression_statements():
            op.execute(stmt)
    previous = _revision_0002()
    for stmt in previous.TIMESCALE_STATEMENTS if timescale else previous.PLAIN_STATEMENTS:
        if any(view in stmt for view in mine):
            op.execute(stmt)
    if timescale:
        op.execute(previous.PAUSE_JOBS_FOR_STACK)
