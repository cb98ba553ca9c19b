"""The recorded session flows while the system grows from 12 to 24 shard partitions and from 1 to 3 workers (issue 18).

The session (data/sessions/nba-2026-finals-g3) is replayed in lockstep (ops/sessions/lockstep.py)
through real Faust workers on a real broker, as in tests/e2e/test_pipeline.py. A third of the way
in, the worker is stopped, `arbees scale --partitions 24` starts generation 1 of the shard family
(shard.inputs.g1, the shard state rebuilt into `<app>-shard-state-g1-changelog`) and the worker is
started again; two thirds in, two more workers join the group. Afterwards the per-event outputs must
equal the in-process engine's (which tests/e2e/test_pipeline.py shows equal to a run at a fixed 12
partitions) record for record, every signal must have exactly one order and every order one terminal
status, and the event's shard state must have crossed the generation change.

Runs on a private broker: a generation is a fact of the whole broker, and the session broker's other
tests read `shard.inputs`.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from connectors.publisher import Publisher
from ops import demo
from ops.backtest.inprocess import BacktestConfig, InProcessEngine, first_ts
from ops.kafka import broker
from ops.kafka.broker import BrokerConfig
from ops.scale.migrate import ScaleReport, partition_for_bytes, scale
from ops.sessions.lockstep import Lockstep, LockstepTimeout, Progress
from ops.sessions.replay import ReplayClock, load_payloads, load_session, replay_session
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.enums import OrderState
from schemas.records import Fill, LedgerEntry, Order, OrderStatus, PositionEvent, Probability, ShardInput, Signal
from streams.generations import read_from_broker
from schemas.topics import Family

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

SESSION = Path(__file__).resolve().parents[2] / "data" / "sessions" / "nba-2026-finals-g3"
EVENT = "espn:nba:401859965"
G1 = "shard.inputs.g1"
TERMINAL = {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_pair() -> int:
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port pair")


@pytest.fixture
def private_bootstrap() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="arbees-scale-"))
    port = free_pair()
    config = BrokerConfig(state_dir=folder / "kafka", port=port, controller_port=port + 1)
    broker.start(config)
    try:
        yield config.bootstrap
    finally:
        broker.stop(config)
        shutil.rmtree(folder, ignore_errors=True)


def encoded(records: list[Any]) -> list[bytes]:
    codec = default_codec()
    return [codec.encode(r) for r in records]


def test_session_flows_while_partitions_and_workers_grow(private_bootstrap: str, tmp_path: Path) -> None:
    b = private_bootstrap
    assert not ensure_topics(b).problems
    tag = uuid.uuid4().hex[:8]
    app_id = f"scale-{tag}"
    cfg = BacktestConfig(account=f"scale-acct-{tag}", events=(EVENT,), shard_batch=1)
    inputs = load_session(SESSION)
    want = InProcessEngine(cfg).run(inputs)
    assert len(want.signals) > 0 and len(want.orders) > 0 and len(want.probabilities) >= 100

    start = demo.log_ends(b, demo.OUTPUTS)  # before the deposit: the reader counts it
    pub = Publisher(b, service="e2e-scale")
    pub.publish("ledger", cfg.account, cfg.deposit(first_ts(inputs) - 1))
    pub.flush()

    workers: list[demo.Child] = []

    def start_worker() -> demo.Child:
        folder = tmp_path / f"w{len(workers)}"
        folder.mkdir()
        w = demo.worker(b, app_id, folder, accounts=cfg.account, web_port=free_port(), trading_events=EVENT,
                        extra_env=cfg.worker_env())
        workers.append(w)
        w.start()
        return w

    progress = Progress(EVENT, cfg.account)

    def keep(seen: demo.Seen) -> bool:  # a generation's shard.inputs counts as shard.inputs
        return progress.keep(replace(seen, topic="shard.inputs") if seen.topic == G1 else seen)

    reader = demo.LogReader(b, start, keep=keep)
    inbox = f"{app_id}-trading-inbox"
    extra: list[demo.LogReader] = []
    reports: list[ScaleReport] = []
    try:
        demo.wait_ready(start_worker(), 120)
        extra.append(demo.LogReader(b, {inbox: dict.fromkeys(demo.log_ends(b, [inbox])[inbox], 0)}, keep=keep,
                                    topics=(inbox,)))

        def wait(targets: dict[str, int]) -> bool:
            def done(_r: demo.LogReader) -> bool:
                for x in extra:
                    x.poll(0.002)
                return all(progress.count(t) >= n for t, n in targets.items())

            return reader.read_until(done, timeout_s=180)

        payloads = load_payloads(SESSION)
        step = Lockstep(want, payloads, EVENT, cfg.settings().trading.paper.latency_ms)
        inner = step.barrier(wait)
        # act where the next payload starts another stream: the barrier has then waited for every shard input
        cuts = [k for k in range(len(payloads) - 1) if payloads[k + 1].stream != payloads[k].stream]
        at_scale = min(cuts, key=lambda k: abs(k - len(payloads) // 3))
        at_join = min(cuts, key=lambda k: abs(k - 2 * len(payloads) // 3))
        seen = [0]

        def barrier(p: Any, nxt: Any) -> None:
            inner(p, nxt)
            k, seen[0] = seen[0], seen[0] + 1
            if k == at_scale:
                wait(step.after(k))
                workers[0].stop(60)  # a clean stop commits what the worker processed
                reports.append(scale(b, 24, wait_s=90))
                extra.append(demo.LogReader(b, {G1: dict.fromkeys(range(24), 0)}, keep=keep, topics=(G1,)))
                demo.wait_ready(start_worker(), 180)
            elif k == at_join:
                joined = [start_worker(), start_worker()]
                for w in joined:
                    demo.wait_ready(w, 180)

        try:
            replay_session(SESSION, b, clock=ReplayClock(min_gap_s=0.0), service="e2e-scale", barrier=barrier)
        except LockstepTimeout as exc:
            pytest.fail(f"{exc}; written {progress.counts()}\n" + "\n".join(w.tail() for w in workers[-3:]))
        reader.poll(3.0)
        for x in extra:
            x.poll(1.0)

        # the generation change happened, and moved the run's group and its shard state
        assert read_from_broker(b)[Family.SHARD].partitions == 24
        (report,) = reports
        assert report.old.partitions == 12 and report.new.number == 1 and app_id in report.groups
        assert report.states[f"{app_id}-shard-state-g1-changelog"] >= 1  # the event's state crossed over
        live = [w for w in workers if w.alive()]
        assert len(live) == 3, "a worker died:\n" + "\n".join(w.tail() for w in workers)
        admin = AdminClient({"bootstrap.servers": b, "log_level": 0})
        group = admin.describe_consumer_groups([app_id])[app_id].result()
        owners = [m for m in group.members if any(tp.topic == G1 for tp in m.assignment.topic_partitions)]
        assert len(owners) == 3 and sum(len([tp for tp in m.assignment.topic_partitions if tp.topic == G1])
                                        for m in owners) == 24

        # shard.inputs: generation 0, then generation 1 past the copied tail, exactly the engine's and in order
        q = partition_for_bytes(EVENT.encode(), 24)
        copied = report.tail.get(G1, {}).get(q, 0)
        g0 = sorted((s for s in reader.records["shard.inputs"] if isinstance(s.record, ShardInput)
                     and s.record.event_id == EVENT), key=lambda s: s.offset)
        g1 = sorted((s for s in extra[1].records[G1] if isinstance(s.record, ShardInput)
                     and s.record.event_id == EVENT), key=lambda s: s.offset)
        assert g0 and g1 and {s.partition for s in g1} == {q}
        assert encoded([s.record for s in g0] + [s.record for s in g1 if s.offset >= copied]) == encoded(
            [i for i in want.shard_inputs if i.event_id == EVENT])

        def ours(topic: str, cls: type, account: bool = False) -> list[Any]:
            seen_ = sorted(reader.records[topic], key=lambda s: (s.partition, s.offset))
            out = [s.record for s in seen_ if isinstance(s.record, cls)]
            return [x for x in out if (x.account == cfg.account if account else x.event_id == EVENT)]

        assert encoded(ours("model.probabilities", Probability)) == encoded(want.probabilities)
        got_signals = ours("signals", Signal)
        assert encoded(got_signals) == encoded(want.signals)

        codec = default_codec()

        def by_id(records: list[Any], key: str) -> dict[str, bytes]:
            return {getattr(x, key): codec.encode(x) for x in records}

        orders = ours("orders", Order, account=True)
        assert by_id(orders, "order_id") == by_id(want.orders, "order_id")
        per_signal = Counter(o.signal_id for o in orders if not o.signal_id.startswith("x-"))
        assert per_signal and set(per_signal.values()) == {1}  # one order record per signal, never two
        assert set(per_signal) == {o.signal_id for o in want.orders if not o.signal_id.startswith("x-")}
        statuses = ours("fills", OrderStatus, account=True)
        terminal = Counter(s.order_id for s in statuses if s.state in TERMINAL)
        want_terminal = Counter(s.order_id for s in want.fills if isinstance(s, OrderStatus) and s.state in TERMINAL)
        assert terminal == want_terminal and set(terminal) == {o.order_id for o in orders}
        assert set(terminal.values()) == {1}
        assert by_id(ours("fills", Fill, account=True), "fill_id") == by_id(
            [f for f in want.fills if isinstance(f, Fill)], "fill_id")
        assert by_id(ours("positions", PositionEvent, account=True), "position_event_id") == by_id(
            want.positions, "position_event_id")
        ledger = ours("ledger", LedgerEntry, account=True)
        assert by_id(ledger, "entry_id") == by_id(want.ledger, "entry_id")
        assert len(ledger) == len({e.entry_id for e in ledger})  # no entry written twice

        # a backtest on the grown broker (issue 18: backtests keep working across a generation change): the Kafka
        # engine's worker reads and writes generation 1's topics and gives the in-process engine's outputs
        for w in workers:
            w.stop()
        from ops.backtest.kafka import KafkaEngine
        from tests.integration.test_backtest_kafka import assert_identical

        bt = BacktestConfig(account=f"bt-after-scale-{tag}", events=(EVENT,))
        engine = KafkaEngine(b, bt, work_dir=tmp_path / "backtest", timeout_s=800)
        kafka = engine.run(inputs)
        assert engine._live["shard.inputs"] == G1  # the worker was named generation 1's topics
        assert_identical(InProcessEngine(bt).run(inputs), kafka)
        assert kafka.signals and kafka.orders
    finally:
        for w in workers:
            w.stop()
        reader.close()
        for x in extra:
            x.close()
