"""The board starts from what the sink wrote into PostgreSQL, then reads the topics from where the sink stopped.

Real broker, real database (both paths), the real sink and `arbees board` as a process. The account records
come from `every_type` (built on recorded Kalshi/Polymarket/ESPN payloads); the later trading records
(a mark move and a realized gain) are made up and named so. The topics' records the sink has are then deleted
(what retention does), so the board can only know the first part of the history from the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from connectors.publisher import Publisher
from ops import db
from ops.board.feed import FROM_START
from ops.run.parts import free_port
from ops.sink.runner import Sink, SinkConfig
from ops.sink.store import connect, load_offsets
from ops.topics import ensure_topics
from schemas.records import LedgerEntry, MarketLink, PositionEvent, RiskEvent
from schemas.topics import BY_NAME
from tests.unit.sink.samples import GAME_TS, every_type

REPO = Path(__file__).resolve().parents[2]
#: Topics retention may empty (markets.links and risk.state are compacted or kept: not deleted here).
RETAINED = ("ledger", "positions", "orders", "fills")


def _key(record: object) -> str:
    if isinstance(record, MarketLink):
        return f"{record.venue.value}:{record.market_id}"
    return str(getattr(record, "account"))


def _publish(bootstrap: str, records: list[tuple[str, object]]) -> None:
    pub = Publisher(bootstrap, service="board-history-test")
    for topic, rec in records:
        pub.publish(topic, _key(rec), rec)
    pub.flush(30)


def _log_ends(bootstrap: str, topic: str, partitions: list[int]) -> dict[int, int]:
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}", "enable.auto.commit": False})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        c.close()


def _topic_of(record: object) -> str:
    return next(t for t in FROM_START if type(record) in BY_NAME[t].value_types)


class Board:
    """`arbees board` on a free port against the test broker and a database."""

    def __init__(self, bootstrap: str, database_url: str, sink: str, log: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "DATABASE_URL": database_url, "ARBEES_HEARTBEAT_S": "1"}
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", "board", "--port", str(self.port),
                                          "--read-only", "--sink", sink], cwd=REPO, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def state_when(self, done, timeout: float = 90.0) -> dict:  # noqa: ANN001 - a predicate on the state
        deadline, last = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                last = httpx.get(f"http://127.0.0.1:{self.port}/api/state", timeout=5).json()
                if done(last):
                    return last
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"board state not reached: {str(last)[:2000]}\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture()
def migrated(fresh_db: str) -> Iterator[str]:
    db.migrate(fresh_db)
    yield fresh_db


def test_board_starts_from_the_sinks_rows_then_the_topics_and_again_after_a_restart(
        kafka_bootstrap: str, migrated: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:10]
    acct, sink = f"paper-{run}", f"board-sink-{run}"
    ensure_topics(kafka_bootstrap, tuple(BY_NAME[t] for t in (*FROM_START, "health")))
    first = [r for r in every_type(run) if any(type(r) in BY_NAME[t].value_types for t in FROM_START)]
    assert {_topic_of(r) for r in first} == set(FROM_START)
    # this sink starts where the topics end now: other tests' records on the shared broker would otherwise
    # fill the board's recent lists (50 rows each) ahead of this test's
    probe = AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})
    parts = {t: list(probe.list_topics(t, timeout=10).topics[t].partitions) for t in FROM_START}
    ends = [(t, p, n) for t, ps in parts.items() for p, n in _log_ends(kafka_bootstrap, t, ps).items()]
    with connect(migrated) as conn:
        for t, p, n in ends:
            conn.execute("INSERT INTO sink_offsets (consumer, topic, partition, next_offset) VALUES (%s, %s, %s, %s)",
                         (sink, t, p, n))
        conn.commit()
    _publish(kafka_bootstrap, [(_topic_of(r), r) for r in first])

    # the real sink writes them, with their offsets, into the database
    with Sink(SinkConfig(kafka_bootstrap, migrated, consumer=sink, topics=FROM_START, batch_wait_s=0.2,
                         retention_every_s=0, maintenance_every_s=0)) as s:
        s.run(until_caught_up=True)
    with connect(migrated) as conn:
        stored = load_offsets(conn, sink)
        assert conn.execute("SELECT count(*) FROM ledger_entries WHERE account = %s", (acct,)).fetchone()[0] == 2

    # retention: the topics no longer hold what the sink has
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})
    gone = [TopicPartition(t, p, n) for (t, p), n in stored.items() if t in RETAINED and n > 0]
    for fut in admin.delete_records(gone, request_timeout=30).values():
        fut.result()

    # made up: after the sink stopped, the position's mark falls $2, then a realized gain of $5 is booked
    pos = next(r for r in first if isinstance(r, PositionEvent))
    fee = next(r for r in first if isinstance(r, LedgerEntry) and r.version == 2)
    marked = replace(pos, position_event_id=f"pe2-{run}", ts=GAME_TS + 100, unrealized_pnl_micros=-2_000_000)
    gain = LedgerEntry(entry_id=f"le3-{run}", account=acct, ts=GAME_TS + 200, delta_micros=5_000_000,
                       balance_micros=fee.balance_micros + 5_000_000, version=3, reason="realized: test gain", ref="x")
    _publish(kafka_bootstrap, [("positions", marked), ("ledger", gain)])

    def complete(state: dict) -> bool:
        """Both later records folded: the ledger gain and the mark move come on different topics, and on a
        broker holding other tests' records either can be read first."""
        a = state.get("accounts", {}).get(acct)
        return bool(a) and a["version"] == 3 and a["unrealized"] == -2.0

    for attempt in ("first start", "restart"):
        board = Board(kafka_bootstrap, migrated, sink, tmp_path / "board.log")
        try:
            state = board.state_when(complete)
        finally:
            board.stop()
        a = state["accounts"][acct]
        # every entry counted once: deposit and fee from the database, the gain from the topic
        assert (a["bankroll"], a["deposits"], a["fees"], a["realized"], a["refused_entries"]) == (
            1004.93, 1000.0, -0.07, 5.0, 0), attempt
        assert a["unrealized"] == -2.0 and a["open_positions"] == 1
        # the equity curve starts with the deposit and the fee, which only the database still holds (the later
        # points depend on which topic the consumer fetched first), and its drawdown counts the fee's dip
        assert a["equity"][:2] == [[GAME_TS - 1_000, 1000.0], [GAME_TS + 5, 999.93]]
        assert a["max_drawdown"] >= 0.07 - 1e-9
        mine = [p for p in state["positions"] if p["account"] == acct]
        assert [(p["position_id"], p["unrealized"]) for p in mine] == [(pos.position_id, -2.0)]
        assert any(f["order_id"] == f"o-{run}" and f["count"] == 10.0 for f in state["fills"])
        assert any(o["order_id"] == f"o-{run}" and o["state"] == "FILLED" for o in state["orders"])
        risk = next(r for r in first if isinstance(r, RiskEvent))
        assert any(e["account"] == acct and e["rule"] == risk.rule for e in state["risk_events"])
        assert " records from database " in state["history"] and f"sink {sink}, then the topics" in state["history"]
