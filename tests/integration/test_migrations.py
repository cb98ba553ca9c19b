"""Migrations upgrade, downgrade and upgrade again on a real PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ops import db
from ops.postgres.timescale import LOADED_SQL
from ops.sink.tables import TABLES

pytestmark = pytest.mark.integration

HEAD = "0009"  # the newest revision in migrations/versions


def test_upgrade_downgrade_upgrade(fresh_db: str) -> None:
    db.migrate(fresh_db)
    st = db.status(fresh_db)
    assert st.current == st.head == HEAD
    assert st.timescaledb_features == ("on" if st.timescaledb_loaded else "off")
    engine = create_engine(fresh_db)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        views = set(inspect(conn).get_view_names()) | set(inspect(conn).get_materialized_view_names())
    assert {"quotes", "fills", "ledger_entries", "bankroll", "bankroll_audit", "archived_games",
            "archived_trades", "archived_signals", "market_listings", "dead_letters", "backtest_runs", "backtest_trades",
            "backtest_outputs"} <= tables
    assert {"quote_ohlc_hourly", "daily_performance"} <= views
    engine.dispose()
    db.downgrade(fresh_db, "base")
    assert db.status(fresh_db).current is None
    engine = create_engine(fresh_db)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    db.migrate(fresh_db)
    assert db.status(fresh_db).current == HEAD


def test_rows_carry_their_source_and_views_answer_on_either_path(fresh_db: str) -> None:
    db.migrate(fresh_db)
    engine = create_engine(fresh_db)
    t0 = datetime(2025, 12, 7, 19, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        for i, mid in enumerate((450_000, 470_000, 430_000, 460_000)):
            conn.execute(
                text(
                    "INSERT INTO quotes (quote_id, ts, venue, market_id, seq, yes_bid_size, yes_ask_size, "
                    "no_bid_size, no_ask_size, yes_mid_micros, depth, src_topic, src_partition, src_offset) "
                    "VALUES (:id, :ts, 'KALSHI', 'M', :i, 0, 0, 0, 0, :mid, '{}', 'markets.quotes', 3, :i) "
                    "ON CONFLICT (quote_id, ts) DO NOTHING"
                ),
                {"id": f"q{i}", "ts": t0 + timedelta(minutes=10 * i), "i": i, "mid": mid},
            )
        # the same quote again (a replay) changes nothing: idempotent on the natural key
        conn.execute(
            text(
                "INSERT INTO quotes (quote_id, ts, venue, market_id, seq, yes_bid_size, yes_ask_size, no_bid_size, "
                "no_ask_size, yes_mid_micros, depth, src_topic, src_partition, src_offset) VALUES "
                "('q0', :ts, 'KALSHI', 'M', 0, 0, 0, 0, 0, 1, '{}', 'markets.quotes', 3, 0) "
                "ON CONFLICT (quote_id, ts) DO NOTHING"
            ),
            {"ts": t0},
        )
    refresh_aggregates(fresh_db)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT open_micros, high_micros, low_micros, close_micros, quotes FROM quote_ohlc_hourly "
                 "WHERE venue = 'KALSHI' AND market_id = 'M'")
        ).one()
    assert tuple(row) == (450_000, 470_000, 430_000, 460_000, 4)
    engine.dispose()


def refresh_aggregates(url: str) -> None:
    """Materialize the continuous aggregate on TimescaleDB (a procedure that refuses to run in a transaction)."""
    if db.status(url).timescaledb_features != "on":
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CALL refresh_continuous_aggregate('quote_ohlc_hourly', NULL, NULL)"))
    engine.dispose()


def test_bankroll_audit_is_append_only(fresh_db: str) -> None:
    db.migrate(fresh_db)
    engine = create_engine(fresh_db)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bankroll_audit (account, ts, delta_micros, balance_micros, version, reason, ref) "
                          "VALUES ('paper', now(), 1000000, 1000000, 1, 'deposit', 'init')"))
    for stmt in ("UPDATE bankroll_audit SET delta_micros = 0", "DELETE FROM bankroll_audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(stmt))
    with pytest.raises(DBAPIError):  # one audit row per (account, version)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bankroll_audit (account, ts, delta_micros, balance_micros, version, reason, ref) "
                              "VALUES ('paper', now(), 5, 1000005, 1, 'dup', 'x')"))
    engine.dispose()


def _one(engine: Any, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_the_sinks_table_specs_are_the_migrated_catalog(fresh_db: str) -> None:
    """Every column the sink writes exists with its type, and every column of a sunk table is written."""
    db.migrate(fresh_db)
    engine = create_engine(fresh_db)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT table_name, column_name, udt_name FROM information_schema.columns WHERE table_schema = 'public'"
        )).all()
    catalog: dict[str, set[tuple[str, str]]] = {}
    for table, column, udt in rows:
        catalog.setdefault(table, set()).add((column, udt))
    for spec in TABLES:
        assert {(c.name, c.pgtype) for c in spec.columns} == catalog[spec.name], spec.name
        key = _one(engine, "SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i "
                           "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                           "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                           "WHERE i.indrelid = CAST(:t AS regclass) AND i.indisprimary", t=spec.name)
        assert tuple(key) == spec.key, spec.name
    engine.dispose()


def test_quote_depth_is_lz4_where_the_server_has_it(fresh_db: str) -> None:
    db.migrate(fresh_db)
    engine = create_engine(fresh_db)
    has_lz4 = _one(engine, "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    method = _one(engine, "SELECT value FROM arbees_meta WHERE key = 'quotes_depth_compression'")
    assert method == ("lz4" if has_lz4 else "pglz")
    attcompression = _one(engine, "SELECT attcompression::text FROM pg_attribute "
                                  "WHERE attrelid = 'quotes'::regclass AND attname = 'depth'")
    assert attcompression == ("l" if has_lz4 else "")
    if has_lz4:  # a stored ladder big enough to be compressed is compressed with lz4
        depth = json.dumps({"yes_bids": [[i * 10_000, 1000.0 + i] for i in range(400)]})
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO quotes (quote_id, ts, venue, market_id, seq, yes_bid_size, yes_ask_size, no_bid_size, "
                "no_ask_size, depth, src_topic, src_partition, src_offset) VALUES "
                "('q', now(), 'KALSHI', 'M', 0, 0, 0, 0, 0, CAST(:d AS jsonb), 'markets.quotes', 0, 0)"), {"d": depth})
        assert _one(engine, "SELECT pg_column_compression(depth) FROM quotes") == "lz4"
    db.downgrade(fresh_db, "0002")
    assert _one(engine, "SELECT attcompression::text FROM pg_attribute "
                        "WHERE attrelid = 'quotes'::regclass AND attname = 'depth'") == ""
    engine.dispose()


LEDGER_ROW = (
    "INSERT INTO ledger_entries (entry_id, ts, account, delta_micros, balance_micros, version, reason, ref, "
    "src_topic, src_partition, src_offset) VALUES (:id, :ts, 'paper', :d, :b, :v, :r, 'f1', 'ledger', 0, :o)"
)
AUDIT_ROW = (
    "INSERT INTO bankroll_audit (account, ts, delta_micros, balance_micros, version, reason, ref) "
    "VALUES ('paper', :ts, :d, :b, :v, :r, 'f1')"
)


BOOKED_ROW = (
    "INSERT INTO bankroll_audit (account, ts, delta_micros, balance_micros, version, reason, ref, entry_id) "
    "VALUES ('paper', :ts, :d, :b, :v, :r, :id, :id)"
)


def test_0003_keeps_every_version_of_a_ledger_entry_and_names_booked_entries(fresh_db: str) -> None:
    db.migrate(fresh_db, "0002")
    engine = create_engine(fresh_db)
    t0 = datetime(2025, 12, 7, 19, 0, tzinfo=timezone.utc)
    booked = [("deposit", 1, 1_000_000_000, 1_000_000_000, "deposit: paper"), ("fee:f1", 2, -70_000, 999_930_000, "fee: f1")]
    with engine.begin() as conn:
        for o, (eid, v, d, b, r) in enumerate(booked):
            conn.execute(text(LEDGER_ROW), {"id": eid, "ts": t0, "d": d, "b": b, "v": v, "r": r, "o": o})
            conn.execute(text(AUDIT_ROW), {"ts": t0, "d": d, "b": b, "v": v, "r": r})
    db.migrate(fresh_db)
    with engine.connect() as conn:
        audit = conn.execute(text("SELECT version, entry_id FROM bankroll_audit ORDER BY version")).all()
    assert [tuple(a) for a in audit] == [(1, "deposit"), (2, "fee:f1")]  # filled from the matching ledger rows
    # the same entry rebuilt on a newer tip (same id and ts, version 3) is a second row, not a replay
    with engine.begin() as conn:
        conn.execute(text(LEDGER_ROW), {"id": "fee:f1", "ts": t0, "d": -70_000, "b": 999_860_000, "v": 3,
                                        "r": "fee: f1", "o": 2})
    assert _one(engine, "SELECT count(*) FROM ledger_entries WHERE entry_id = 'fee:f1'") == 2
    with pytest.raises(RuntimeError, match="cannot downgrade 0003: 1 ledger entries are stored at more than one version"):
        db.downgrade(fresh_db, "0002")
    assert db.status(fresh_db).current == HEAD  # the refused downgrade changed nothing
    engine.dispose()


def _load_revision(name: str) -> Any:
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"revision_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUOTE_ROW = (
    "INSERT INTO quotes (quote_id, ts, venue, market_id, seq, yes_bid_size, yes_ask_size, no_bid_size, no_ask_size, "
    "yes_mid_micros, depth, src_topic, src_partition, src_offset) "
    "VALUES (:id, :ts, 'KALSHI', :m, :i, 0, 0, 0, 0, :mid, '{}', 'markets.quotes', 0, :i)"
)


def test_quote_ohlc_hourly_matches_hand_computed_bars(fresh_db: str) -> None:
    """Made-up quotes (hand-checkable), including one-sided books (no mid) at the open and the close of an hour."""
    db.migrate(fresh_db)
    h19 = datetime(2025, 12, 7, 19, 0, tzinfo=timezone.utc)
    quotes = [("M", 0, None), ("M", 10, 450_000), ("M", 20, 470_000), ("M", 30, 430_000), ("M", 40, 460_000),
              ("M", 50, None), ("M", 65, 480_000), ("M2", 15, 100_000)]
    engine = create_engine(fresh_db)
    with engine.begin() as conn:
        for i, (market, minute, mid) in enumerate(quotes):
            conn.execute(text(QUOTE_ROW), {"id": f"q{i}", "ts": h19 + timedelta(minutes=minute), "m": market,
                                           "i": i, "mid": mid})
    refresh_aggregates(fresh_db)
    with engine.connect() as conn:
        bars = conn.execute(text(
            "SELECT bucket, market_id, open_micros, high_micros, low_micros, close_micros, quotes "
            "FROM quote_ohlc_hourly ORDER BY market_id, bucket")).all()
    engine.dispose()
    h20 = h19 + timedelta(hours=1)
    assert [tuple(b) for b in bars] == [
        (h19, "M", 450_000, 470_000, 430_000, 460_000, 6),  # the mid-less first and last quotes count, set no price
        (h20, "M", 480_000, 480_000, 480_000, 480_000, 1),
        (h19, "M2", 100_000, 100_000, 100_000, 100_000, 1),
    ]


def test_daily_performance_counts_booked_trading_results_only(fresh_db: str) -> None:
    """A made-up ledger, hand-computed: deposits and withdrawals are capital, a refused (stale) version is not booked.

    Log order: deposit v1, fee f1 v2, realized p1 v3, fee f2 built on v2 (stale at v3: p1 took it), fee f2 rebuilt
    at v4; next day a realized loss v5 and a withdrawal v6. Day 1 P&L = 2.5 - 0.07 - 0.07 = +2.36 dollars.
    """
    from streams.trading import ledger as L
    from schemas.records import LedgerEntry

    db.migrate(fresh_db)
    d1 = datetime(2025, 12, 7, 10, 0, tzinfo=timezone.utc)
    d2 = d1 + timedelta(days=1)
    rows = [  # entry id, ts, delta, balance, version, reason
        ("deposit", d1, 1_000_000_000, 1_000_000_000, 1, "deposit: paper"),
        ("fee:f1", d1 + timedelta(hours=9), -70_000, 999_930_000, 2, "fee: f1"),
        ("realized:p1", d1 + timedelta(hours=10), 2_500_000, 1_002_430_000, 3, "realized: settled YES at $1"),
        ("fee:f2", d1 + timedelta(hours=11), -70_000, 999_860_000, 3, "fee: f2"),
        ("fee:f2", d1 + timedelta(hours=11), -70_000, 1_002_360_000, 4, "fee: f2"),
        ("realized:p2", d2, -1_000_000, 1_001_360_000, 5, "realized: settled NO at $0"),
        ("withdrawal", d2 + timedelta(hours=1), -100_000_000, 901_360_000, 6, "withdrawal: paper"),
    ]
    state = L.LedgerState(account="paper")
    booked = []
    for eid, ts, delta, balance, version, reason in rows:
        entry = LedgerEntry(entry_id=eid, account="paper", ts=int(ts.timestamp() * 1000), delta_micros=delta,
                            balance_micros=balance, version=version, reason=reason, ref=eid)
        state, verdict = L.apply(state, entry)
        booked.append(verdict is L.Verdict.ACCEPTED)
    assert booked == [True, True, True, False, True, True, True]  # the ledger rule agrees with the hand pick
    engine = create_engine(fresh_db)
    with engine.begin() as conn:
        for o, ((eid, ts, delta, balance, version, reason), ok) in enumerate(zip(rows, booked)):
            values = {"id": eid, "ts": ts, "d": delta, "b": balance, "v": version, "r": reason, "o": o}
            conn.execute(text(LEDGER_ROW), values)  # every version is a row of the log
            if ok:  # what the sink books (ops/sink/writer.py): one audit row per accepted version
                conn.execute(text(BOOKED_ROW), values)
    with engine.connect() as conn:
        days = conn.execute(text(
            "SELECT day, account, pnl_micros, realized_micros, fees_micros, debits_micros, capital_micros, entries "
            "FROM daily_performance ORDER BY day")).all()
    engine.dispose()
    day1, day2 = datetime(2025, 12, 7, tzinfo=timezone.utc), datetime(2025, 12, 8, tzinfo=timezone.utc)
    assert [tuple(d) for d in days] == [
        (day1, "paper", 2_360_000, 2_500_000, -140_000, -140_000, 1_000_000_000, 3),
        (day2, "paper", -1_000_000, -1_000_000, 0, -1_000_000, -100_000_000, 1),
    ]


def test_a_timeseries_migration_that_failed_part_way_runs_again(fresh_db: str) -> None:
    """The first 0002 committed its aggregates outside the migration's transaction: a failure after them left
    the aggregate in place with the recorded version still 0001. Re-running must finish the job."""
    db.migrate(fresh_db, "0001")
    rev = _load_revision("0002_timeseries")
    engine = create_engine(fresh_db, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        loaded = conn.execute(text(LOADED_SQL)).scalar()
        statements = (("CREATE EXTENSION IF NOT EXISTS timescaledb", *rev.TIMESCALE_STATEMENTS) if loaded
                      else rev.PLAIN_STATEMENTS)
        first_view = next(i for i, s in enumerate(statements) if "VIEW" in s and "quote_ohlc_hourly" in s)
        for stmt in statements[: first_view + 2]:  # up to the aggregate and the statement after it
            conn.execute(text(stmt))
    engine.dispose()
    assert db.status(fresh_db).current == "0001"
    db.migrate(fresh_db)
    st = db.status(fresh_db)
    assert st.current == HEAD and st.timescaledb_features == ("on" if loaded else "off")


def test_installed_but_not_preloaded_takes_the_plain_path_and_says_what_to_do(plain_database_url: str) -> None:
    """A server that can see TimescaleDB's files but has not preloaded it: creating the extension would fail
    (`extension "timescaledb" must be preloaded`); the migration takes the plain path and records why.

    The files are the stack's own TimescaleDB build when there is one; otherwise a made-up control file (only its
    presence matters here), reached through Debian's extension_destdir for this one database."""
    from ops.postgres import timescale

    staged = sorted(timescale.cache_dir().glob("*/root"))
    made_up = None
    if staged:
        destdir = staged[-1]
    else:
        made_up = Path(tempfile.mkdtemp(prefix="arbees-fake-ext-"))
        sharedir = subprocess.run(["pg_config", "--sharedir"], capture_output=True, text=True).stdout.strip()
        control = made_up / sharedir.lstrip("/") / "extension" / "timescaledb.control"
        control.parent.mkdir(parents=True)
        control.write_text("# made up: presence only\ndefault_version = '0.0.0'\n")
        for path in (made_up, *made_up.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        destdir = made_up
    name = f"arbees_t_{uuid.uuid4().hex[:8]}"
    admin = create_engine(plain_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET extension_destdir = '{destdir}'"))
    url = make_url(plain_database_url).set(database=name).render_as_string(hide_password=False)
    try:
        st = db.status(url)
        assert st.timescaledb_loaded is False
        db.migrate(url)
        engine = create_engine(url)
        assert _one(engine, "SELECT value FROM arbees_meta WHERE key = 'timescaledb'") == "off"
        reason = _one(engine, "SELECT value FROM arbees_meta WHERE key = 'timescaledb_reason'")
        engine.dispose()
        assert reason.startswith("TimescaleDB is installed but not preloaded")
        assert "shared_preload_libraries = 'timescaledb'" in reason
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if made_up is not None:
            shutil.rmtree(made_up, ignore_errors=True)


def test_down_to_0001_and_up_again_keeps_the_rows_even_compressed(fresh_db: str) -> None:
    """With data: on TimescaleDB the 2-day-old quotes chunk is compressed first, so going down decompresses it."""
    db.migrate(fresh_db)
    old = (datetime.now(timezone.utc) - timedelta(days=5)).replace(minute=10, second=0, microsecond=0)
    engine = create_engine(fresh_db, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for i, mid in enumerate((450_000, None, 470_000)):
            conn.execute(text(QUOTE_ROW), {"id": f"q{i}", "ts": old + timedelta(minutes=i), "m": "M", "i": i,
                                           "mid": mid})
        timescale = conn.execute(text("SELECT value FROM arbees_meta WHERE key = 'timescaledb'")).scalar() == "on"
        if timescale:
            conn.execute(text("SELECT compress_chunk(c) FROM show_chunks('quotes') c"))
            assert conn.execute(text("SELECT bool_and(is_compressed) FROM timescaledb_information.chunks "
                                     "WHERE hypertable_name = 'quotes'")).scalar() is True
    db.downgrade(fresh_db, "0001")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT array_agg(yes_mid_micros ORDER BY ts) FROM quotes")).scalar() == [
            450_000, None, 470_000]
        if timescale:  # the tables stay hypertables, uncompressed
            assert conn.execute(text("SELECT count(*) FROM timescaledb_information.chunks "
                                     "WHERE hypertable_name = 'quotes' AND is_compressed")).scalar() == 0
    db.migrate(fresh_db)
    assert db.status(fresh_db).current == HEAD
    refresh_aggregates(fresh_db)
    with engine.connect() as conn:
        bar = conn.execute(text("SELECT open_micros, close_micros, quotes FROM quote_ohlc_hourly")).all()
    engine.dispose()
    assert [tuple(b) for b in bar] == [(450_000, 470_000, 3)]
