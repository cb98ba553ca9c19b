"""Time-series maintenance happens, on each database path.

TimescaleDB: the stack's maintenance pass (what the sink runs where TimescaleDB's
scheduler fails) drops a chunk past retention, refreshes the hourly aggregate and
compresses an old quotes chunk. The jobs are paused for TimescaleDB's own scheduler
first, so what is asserted is the pass's work. Plain PostgreSQL: the retention
function deletes the old rows and the hourly view answers without a refresh.
Quotes are made up (mids hand-picked), placed relative to now because the policies
work relative to now.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from ops import db
from ops.sink import store
from ops.sink.maintenance import Maintainer, policy_jobs
from schemas.enums import HealthStatus

pytestmark = pytest.mark.integration

QUOTE = (
    "INSERT INTO quotes (quote_id, ts, venue, market_id, seq, yes_bid_size, yes_ask_size, no_bid_size, no_ask_size, "
    "yes_mid_micros, depth, src_topic, src_partition, src_offset) "
    "VALUES (%s, %s, 'KALSHI', %s, %s, 0, 0, 0, 0, %s, '{}', 'markets.quotes', 0, %s)"
)


def _hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def test_retention_refresh_and_compression_happen(fresh_db: str) -> None:
    db.migrate(fresh_db)
    now = datetime.now(timezone.utc)
    old = now - timedelta(days=40)  # past the 30-day retention
    cold = now - timedelta(days=5)  # past the 2-day compression age
    recent = _hour(now - timedelta(days=1))  # inside the aggregate's 3-day refresh window
    rows = [("old", old, "M", 400_000), ("cold1", cold, "M", 410_000), ("cold2", cold + timedelta(minutes=1), "M", 420_000),
            ("r1", recent + timedelta(minutes=5), "M", 450_000), ("r2", recent + timedelta(minutes=25), "M", 470_000),
            ("r3", recent + timedelta(minutes=45), "M", 440_000)]
    with psycopg.connect(store.conninfo(fresh_db), autocommit=True) as conn:
        for i, (qid, ts, market, mid) in enumerate(rows):
            conn.execute(QUOTE, (qid, ts, market, i, mid, i))
        timescale = conn.execute("SELECT value FROM arbees_meta WHERE key = 'timescaledb'").fetchone()[0] == "on"
        if not timescale:
            assert store.apply_retention(conn) == 1  # only the 40-day-old quote
            bars = conn.execute("SELECT bucket, open_micros, high_micros, low_micros, close_micros, quotes "
                                "FROM quote_ohlc_hourly WHERE bucket = %s", (recent,)).fetchall()
            assert bars == [(recent, 450_000, 470_000, 440_000, 440_000, 3)]
            assert conn.execute("SELECT count(*) FROM quotes").fetchone()[0] == 5
            return

        jobs = policy_jobs(conn)
        assert {j.proc for j in jobs} >= {"policy_retention", "policy_refresh_continuous_aggregate",
                                          "policy_compression"}
        for job in jobs:  # TimescaleDB's own scheduler must not do the work under the test
            conn.execute("SELECT alter_job(%s, scheduled => false)", (job.job_id,))
        assert conn.execute("SELECT count(*) FROM show_chunks('quotes')").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM quote_ohlc_hourly").fetchone()[0] == 0  # not refreshed yet

        done = Maintainer(conn, mode="stack").run_pass(now=0.0)

        assert done.mode == "stack" and not done.failed, done.failed
        assert {r.job.job_id for r in done.runs} == {j.job_id for j in jobs}
        beat = done.heartbeat("arbees")
        assert beat.service == "db-maintenance" and beat.status is HealthStatus.OK
        assert "retention quotes" in beat.detail["ran"] and "compression quotes" in beat.detail["ran"]
        # retention dropped the old chunk (not just its rows)
        chunks = conn.execute("SELECT range_end FROM timescaledb_information.chunks "
                              "WHERE hypertable_name = 'quotes' ORDER BY range_start").fetchall()
        assert len(chunks) == 2 and all(end > now - timedelta(days=30) for (end,) in chunks)
        assert conn.execute("SELECT count(*) FROM quotes WHERE quote_id = 'old'").fetchone()[0] == 0
        # the aggregate refreshed: the recent hour, hand-computed
        bars = conn.execute("SELECT bucket, open_micros, high_micros, low_micros, close_micros, quotes "
                            "FROM quote_ohlc_hourly").fetchall()
        assert bars == [(recent, 450_000, 470_000, 440_000, 440_000, 3)]
        # the 5-day-old chunk is compressed, the recent one is not; compressed rows still read back
        compressed = dict(conn.execute(
            "SELECT range_end < now() - interval '2 days', is_compressed FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'quotes'").fetchall())
        assert compressed == {True: True, False: False}
        assert conn.execute("SELECT array_agg(yes_mid_micros ORDER BY ts) FROM quotes WHERE quote_id LIKE 'cold%'"
                            ).fetchone()[0] == [410_000, 420_000]

        # a pass right after runs nothing: every job waits for its own schedule interval
        m = Maintainer(conn, mode="stack")
        m.run_pass(now=0.0)
        assert m.run_pass(now=60.0).runs == ()
        refresh = next(j for j in jobs if j.proc == "policy_refresh_continuous_aggregate")
        assert [r.job.job_id for r in m.run_pass(now=refresh.every_s).runs] == [refresh.job_id]


def test_a_failing_job_is_an_alert_and_a_degraded_heartbeat(fresh_db: str) -> None:
    db.migrate(fresh_db)
    with psycopg.connect(store.conninfo(fresh_db), autocommit=True) as conn:
        if conn.execute("SELECT value FROM arbees_meta WHERE key = 'timescaledb'").fetchone()[0] != "on":
            # plain: no job catalog, so the sink runs no maintenance pass (only its retention DELETE)
            assert conn.execute("SELECT to_regclass('timescaledb_information.jobs')").fetchone()[0] is None
            return
        cold = datetime.now(timezone.utc) - timedelta(days=5)
        conn.execute(QUOTE, ("cold", cold, "M", 0, 410_000, 0))
        for job in policy_jobs(conn):
            conn.execute("SELECT alter_job(%s, scheduled => false)", (job.job_id,))
        # another session holds the quotes table: the jobs that must touch it time out, the others run
        with psycopg.connect(store.conninfo(fresh_db)) as holder:
            holder.execute("LOCK TABLE quotes IN ACCESS EXCLUSIVE MODE")
            conn.execute("SET lock_timeout = '300ms'")
            done = Maintainer(conn, mode="stack").run_pass(now=0.0)
            holder.rollback()
    failed = {r.job.name for r in done.failed}
    assert "compression quotes" in failed and "retention raw_feeds" not in failed
    assert all(r.error for r in done.failed) and any("lock timeout" in r.error for r in done.failed)
    beat = done.heartbeat("arbees")
    assert beat.status is HealthStatus.DEGRADED and "compression quotes" in beat.detail["failed"]
    alerts = done.alerts("arbees")
    assert len(alerts) == len(done.failed) and all(a.severity.value == "ERROR" for a in alerts)
    assert {a.dedupe_key for a in alerts} == {f"db-maintenance:arbees:{r.job.job_id}" for r in done.failed}


def test_jobs_left_to_the_stack_are_paused_for_the_scheduler_and_run_by_the_sink(fresh_db: str) -> None:
    """`arbees.maintenance = 'stack'` (set on every test database by conftest) pauses the policies at migration
    time, in the transaction that creates them; the sink's auto mode then runs them itself."""
    db.migrate(fresh_db)
    with psycopg.connect(store.conninfo(fresh_db), autocommit=True) as conn:
        assert conn.execute("SELECT current_setting('arbees.maintenance', true)").fetchone()[0] == "stack"
        if conn.execute("SELECT value FROM arbees_meta WHERE key = 'timescaledb'").fetchone()[0] != "on":
            assert conn.execute("SELECT to_regclass('timescaledb_information.jobs')").fetchone()[0] is None
            return
        scheduled = conn.execute("SELECT proc_name, scheduled FROM timescaledb_information.jobs "
                                 "WHERE proc_name LIKE 'policy\\_%' AND proc_name <> 'policy_telemetry'").fetchall()
        assert len(scheduled) == 9 and not any(s for _, s in scheduled)  # 5 retention, 1 refresh, 2 compression, history
        mode, reason = Maintainer(conn).decide()
    assert mode == "stack" and "paused" in reason
