"""The recorded session through the real broker and ONE Faust worker running every agent group.

The session (data/sessions/nba-2026-finals-g3: 2026 NBA Finals G3, SA @ NY, ESPN
scoreboards, Kalshi websocket frames and Polymarket books built from the recorded game)
is replayed through the connectors' own normalizers onto the real topics
(`ops.sessions.replay.replay_session`). Independently, the in-process backtest engine
(the same pure processors in one loop, `ops.backtest.inprocess`) is fed the same session
records (`load_session`). The worker's outputs must equal the engine's record for record,
byte for byte: every link, shard input, probability, signal, order, fill, position event
and ledger entry, and so the final bankroll (risk refusals: the same ones, text aside). The expected sets are asserted non-empty, so a
pipeline that never trades cannot pass.

The whole session goes onto the topics first, unphased, and the worker replays it by event
time, one record's cascade at a time (ARBEES_EVENT_TIME_ORDER, streams/event_time_order.py), as
the engine does; what is compared is read at the end. A malformed payload injected midway must
land in `deadletter` and raise an Alert while the rest flows.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from connectors.publisher import Publisher
from ops import demo
from ops.backtest.inprocess import BacktestConfig, InProcessEngine, first_ts
from ops.backtest.records import BacktestResult
from ops.sessions.lockstep import Progress
from ops.sessions.replay import ReplayClock, load_session, replay_session
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.enums import EventStatus, MarketType, SignalKind, Venue
from schemas.records import (
    Alert, DeadLetter, Fill, LedgerEntry, MarketLink, Order, OrderStatus, PositionEvent, Probability,
    RiskEvent, ShardInput, Signal,
)
from streams import event_time_order
from streams.probability.registry import model_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SESSION = Path(__file__).resolve().parents[2] / "data" / "sessions" / "nba-2026-finals-g3"
EVENT = "espn:nba:401859965"
KALSHI = {"KXNBAGAME-26JUN08SASNYK-NYK": ("a", "New York Knicks"), "KXNBAGAME-26JUN08SASNYK-SAS": ("b", "San Antonio Spurs")}
TIP_MS = 1_780_965_000_000  # the scheduled tip, 2026-06-09T00:30Z: the garbage goes in after it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    bootstrap: str
    config: BacktestConfig
    worker: demo.Child
    reader: demo.LogReader
    folder: Path
    progress: Progress
    app_id: str


@pytest.fixture
def run(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Run]:
    report = ensure_topics(kafka_bootstrap)
    assert not report.problems, report.problems
    tag = uuid.uuid4().hex[:10]
    app_id = f"e2e-{tag}"
    config = BacktestConfig(account=f"e2e-acct-{tag}", events=(EVENT,))
    start = demo.log_ends(kafka_bootstrap, demo.OUTPUTS + demo.WORKER_SOURCES)
    demo.start_group_at(kafka_bootstrap, app_id, {t: start[t] for t in demo.WORKER_SOURCES})
    worker = demo.worker(kafka_bootstrap, app_id, tmp_path, accounts=config.account, web_port=free_port(),
                         trading_events=EVENT, extra_env={**config.worker_env(), event_time_order.ENV: "1"})
    progress = Progress(EVENT, config.account)
    reader = demo.LogReader(kafka_bootstrap, start, keep=progress.keep)
    try:
        yield Run(kafka_bootstrap, config, worker, reader, tmp_path, progress, app_id)
    finally:
        worker.stop()
        reader.close()


def inject_garbage(bootstrap: str, tag: str) -> tuple[int, int]:
    """Bytes that are no Avro record of ours on `markets.quotes`; where they landed (partition, offset)."""
    where: list[tuple[int, int]] = []
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    p.produce("markets.quotes", key=f"KALSHI:e2e-garbage-{tag}".encode(), value=b"\x00\x00\x00\x00\x07not avro at all",
              on_delivery=lambda err, msg: where.append((int(msg.partition() or 0), int(msg.offset() or 0)))
              if err is None else None)
    p.flush(30)
    assert where, "the malformed payload was not delivered"
    return where[0]


def encoded(records: list[Any]) -> list[bytes]:
    codec = default_codec()
    return [codec.encode(r) for r in records]


def ours(r: demo.LogReader, topic: str, cls: type, account: str | None = None) -> list[Any]:
    """Records of the session's event (shard topics) or of the run's account (trading topics), in log order."""
    seen = sorted(r.records[topic], key=lambda s: (s.partition, s.offset))
    out: list[Any] = [s.record for s in seen if isinstance(s.record, cls)]
    if account is not None:
        return [x for x in out if x.account == account]
    return [x for x in out if x.event_id == EVENT]


def test_recorded_session_through_the_broker_and_one_worker(run: Run) -> None:
    b, r, cfg, progress = run.bootstrap, run.reader, run.config, run.progress
    inputs = load_session(SESSION)
    want: BacktestResult = InProcessEngine(cfg).run(inputs)

    # What the engine made of the session is not empty: the pipeline under test must trade.
    assert len(want.probabilities) >= 100 and len(want.signals) > 0 and len(want.orders) > 0
    assert [f for f in want.fills if isinstance(f, Fill)] and want.positions and len(want.ledger) > 1

    pub = Publisher(b, service="e2e")
    pub.publish("ledger", cfg.account, cfg.deposit(first_ts(inputs) - 1))  # the engine's own first entry
    pub.flush()

    expected_inputs = [i for i in want.shard_inputs if i.event_id == EVENT]
    garbage: list[tuple[int, int]] = []

    def midway(p: Any, _next: Any) -> None:
        if not garbage and p.at >= TIP_MS:
            garbage.append(inject_garbage(b, cfg.account))  # the rest must keep flowing

    # the whole session onto the topics, unphased; the worker replays it by event time (streams/event_time_order.py)
    stats = replay_session(SESSION, b, clock=ReplayClock(min_gap_s=0.0), service="e2e", barrier=midway)
    assert stats.published["deadletter"] == 0 and stats.published["events.state"] == 124 and garbage
    started = time.monotonic()
    run.worker.start()
    demo.wait_ready(run.worker, 90)
    if not demo.await_outputs(r, progress, want, stall_s=120, alive=run.worker.alive):
        pytest.fail(f"the worker stopped short of the engine's outputs: wrote {progress.counts()}, engine "
                    f"{demo.expected_counts(want, EVENT)}\nworker:\n{run.worker.tail()}")
    assert r.read_until(lambda rd: any(isinstance(d, DeadLetter) and (d.partition, d.offset) == garbage[0]
                                       for d in rd.of("deadletter")), timeout_s=30)
    r.poll(3.0)  # anything late (an output that should not exist) is read too
    elapsed = time.monotonic() - started

    # markets.links: both recorded Kalshi markets on the recorded game, each with its YES team.
    links = {lk.market_id: lk for lk in r.of("markets.links", MarketLink) if lk.market_id in KALSHI}
    assert {m: (lk.event_id, lk.yes_role, lk.yes_entity) for m, lk in links.items()} == {
        m: (EVENT, role, team) for m, (role, team) in KALSHI.items()}
    got_links = sorted(ours(r, "markets.links", MarketLink), key=lambda lk: lk.link_id)
    assert encoded(got_links) == encoded(sorted((lk for lk in want.links if lk.event_id == EVENT), key=lambda lk: lk.link_id))

    # shard.inputs: exactly the engine's, in order (a drop or a duplicate shows here).
    got_inputs = ours(r, "shard.inputs", ShardInput)
    assert encoded(got_inputs) == encoded(expected_inputs)
    states = [i.state for i in got_inputs if i.state is not None]
    assert sum(s.status is EventStatus.LIVE for s in states) == 122 and states[-1].status is EventStatus.FINAL

    # model.probabilities: a probability for every live state, and exactly the engine's records.
    model = model_for(MarketType.SPORT, "nba")
    for s in states:
        if s.status is EventStatus.LIVE:
            p = model.probabilities(s)  # raises if the state cannot be priced
            assert 0.0 < p["a"] < 1.0 and abs(p["a"] + p["b"] - 1.0) < 1e-9
    got_probs = ours(r, "model.probabilities", Probability)
    assert encoded(got_probs) == encoded(want.probabilities)
    assert {p.state_id for p in got_probs} <= {s.state_id for s in states}

    # signals: exactly the engine's, where model and market disagree by more than the threshold.
    got_signals = ours(r, "signals", Signal)
    assert encoded(got_signals) == encoded(want.signals)
    assert all(s.kind is SignalKind.MODEL_EDGE or s.kind is SignalKind.CROSS_VENUE_ARB for s in got_signals)
    # both kinds: the model's edges, and arbitrages of the equivalent-rule pair (Kalshi and Polymarket, one game)
    arbs = [s for s in got_signals if s.kind is SignalKind.CROSS_VENUE_ARB]
    assert arbs and any(s.kind is SignalKind.MODEL_EDGE for s in got_signals)
    assert all({leg.venue for leg in s.legs} == {Venue.KALSHI, Venue.POLYMARKET} for s in arbs)

    # orders, fills, positions, ledger: the account's records, equal to the engine's by id and content.
    def by_id(records: list[Any], key: str) -> dict[str, bytes]:
        codec = default_codec()
        return {getattr(x, key): codec.encode(x) for x in records}

    got_orders = ours(r, "orders", Order, cfg.account)
    assert by_id(got_orders, "order_id") == by_id(want.orders, "order_id")
    entries = [o for o in got_orders if not o.signal_id.startswith("x-")]  # "x-": an exit (stop-loss, take-profit)
    assert entries and {o.signal_id for o in entries} <= {s.signal_id for s in got_signals}
    got_fills = ours(r, "fills", Fill, cfg.account)
    assert by_id(got_fills, "fill_id") == by_id([f for f in want.fills if isinstance(f, Fill)], "fill_id")
    got_status = ours(r, "fills", OrderStatus, cfg.account)
    assert by_id(got_status, "status_id") == by_id([f for f in want.fills if isinstance(f, OrderStatus)], "status_id")
    got_positions = ours(r, "positions", PositionEvent, cfg.account)
    assert by_id(got_positions, "position_event_id") == by_id(want.positions, "position_event_id")
    got_ledger = ours(r, "ledger", LedgerEntry, cfg.account)
    assert by_id(got_ledger, "entry_id") == by_id(want.ledger, "entry_id")
    assert by_id(ours(r, "risk.state", RiskEvent, cfg.account), "risk_id") == by_id(want.risk, "risk_id")

    # the ledger balances, and the final bankroll is the engine's.
    ledger = sorted(got_ledger, key=lambda e: e.version)
    for prev, entry in zip(ledger, ledger[1:]):
        assert entry.balance_micros == prev.balance_micros + entry.delta_micros, entry
    assert ledger[-1].balance_micros == max(want.ledger, key=lambda e: e.version).balance_micros
    assert ledger[-1].balance_micros != cfg.bankroll_micros  # it traded

    # the malformed payload: dead-lettered with where it sat, alerted, and the run went on.
    dead = [d for d in r.of("deadletter", DeadLetter) if d.topic == "markets.quotes" and (d.partition, d.offset) == garbage[0]]
    assert dead and all(d.service == "router-markets" and d.value.endswith(b"not avro at all") for d in dead)
    mark = f"[{garbage[0][0]}@{garbage[0][1]}]"
    assert r.read_until(lambda rd: any(mark in a.message for a in rd.of("alerts", Alert)), timeout_s=30)
    assert elapsed < 800, f"the run took {elapsed:.0f}s"
