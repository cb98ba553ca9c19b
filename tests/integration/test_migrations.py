"""Migrations upgrade, downgrade and upgrade again on a real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ops import db
from ops.sink.tables import TABLES

pytestmark = pytest.mark.integration


@pytest.fixture()
def fresh_db(database_url: str) -> Iterator[str]:
    """An empty database of its own on the session's server."""
    name = f"arbees_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_downgrade_upgrade(fresh_db: str) -> None:
    db.migrate(fresh_db)
    st = db.status(fresh_db)
    assert st.current == st.head == "0006"
    assert st.timescaledb_features == ("on" if st.timescaledb_available else "off")
    engine = create_engine(fresh_db)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        views = set(inspect(conn).get_view_names()) | set(inspect(conn).get_materialized_view_names())
    assert {"quotes", "fills", "ledger_entries", "bankroll", "bankroll_audit", "archived_games",
            "archived_trades", "archived_signals", "market_listings", "dead_letters"} <= tables
    assert {"quote_ohlc_hourly", "daily_performance"} <= views
    engine.dispose()
    db.downgrade(fresh_db, "base")
    assert db.status(fresh_db).current is None
    engine = create_engine(fresh_db)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    db.migrate(fresh_db)
    assert db.status(fresh_db).current == "0006"


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
    with engine.connect() as conn:
        if db.status(fresh_db).timescaledb_features == "on":
            conn.execute(text("CALL refresh_continuous_aggregate('quote_ohlc_hourly', NULL, NULL)"))
        row = conn.execute(
            text("SELECT open_micros, high_micros, low_micros, close_micros, quotes FROM quote_ohlc_hourly "
                 "WHERE venue = 'KALSHI' AND market_id = 'M'")
        ).one()
    assert tuple(row) == (450_000, 470_000, 430_000, 460_000, 4)
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
    assert db.status(fresh_db).current == "0006"  # the refused downgrade changed nothing
    engine.dispose()
