"""Migrations upgrade, downgrade and upgrade again on a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ops import db

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
    assert st.current == st.head == "0002"
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
    assert db.status(fresh_db).current == "0002"


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
