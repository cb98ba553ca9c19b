"""Both backtest engines on the same input through the real broker and a real Faust worker, unphased.

The Kafka engine produces the whole input at once and its worker releases it by event time, one cascade
at a time (streams/event_time_order.py), as the in-process engine feeds it; every output must be the same
record for record (ops/backtest/compare.py). Three inputs: tests/unit/test_backtest_inprocess.py's recorded
ESPN + Kalshi records, the recorded session (data/sessions/nba-2026-finals-g3: links discovered from the
listings, which is where quotes overtook their links before), and the bench's data (bench/backtest.py:
listings, links, state ticks and quotes of several events, many signals). Each under run-unique ids or a
run-unique account (other tests publish the same records to the shared registry topics).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from connectors.publisher import make_producer
from ops.backtest.compare import compare_runs
from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.kafka import KafkaEngine
from ops.backtest.records import INPUT_TOPICS
from ops.backtest.source import read_inputs
from ops.topics import ensure_topics
from schemas.codec import default_codec
from bench.backtest import synthetic_input
from ops.backtest.records import BacktestResult
from ops.sessions.replay import load_session
from schemas.records import EventState, Fill, Probability, Signal
from tests.unit.test_backtest_inprocess import recorded_input

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # a record's cascade at a time, on 2 shared cores

SESSION = Path(__file__).resolve().parents[2] / "data" / "sessions" / "nba-2026-finals-g3"


class OtherWorker:
    """Writes, once the run's first phase is out, what another shard worker on the broker writes for it."""

    def __init__(self, bootstrap: str, probabilities: list[Probability], signals: list[Signal]) -> None:
        self.bootstrap, self.records, self.written = bootstrap, [*probabilities, *signals], 0

    def on_progress(self, stage: str, done: int, total: int) -> None:
        if self.written:
            return
        producer, codec = make_producer(self.bootstrap), default_codec()
        for r in self.records:
            topic = "signals" if isinstance(r, Signal) else "model.probabilities"
            producer.produce(topic, key=r.event_id.encode(), value=codec.encode(r))
        assert producer.flush(30) == 0
        self.written = len(self.records)


def assert_identical(inprocess: BacktestResult, kafka: BacktestResult) -> None:
    agreement = compare_runs(inprocess, kafka)
    assert agreement.identical, agreement.differences[:20]
    assert kafka.encoded()["ledger"][-1] == inprocess.encoded()["ledger"][-1]  # the final ledger entry, balance included


def test_inprocess_and_kafka_engines_emit_identical_signals(kafka_bootstrap: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    records = recorded_input(run)
    events = tuple(sorted({r.value.event_id for r in records if isinstance(r.value, EventState)}))
    config = BacktestConfig(account=f"bt-{run}", events=events)
    inprocess = InProcessEngine(config).run(records)
    assert len(inprocess.signals) >= 10  # the recording trades: both linked games have edges on most quotes

    engine = KafkaEngine(kafka_bootstrap, config, work_dir=tmp_path, timeout_s=600)
    ensure_topics(kafka_bootstrap)
    starts = engine._ends(INPUT_TOPICS)
    # While the run's worker works, another worker of the same code on this broker (a running stack, another
    # test's worker, one left behind by a killed run) writes the very same shard outputs for these events: the
    # in-process run's. The engine must read its own worker's outputs only (it counted these twice before).
    other = OtherWorker(kafka_bootstrap, inprocess.probabilities, inprocess.signals)
    kafka = engine.run(records, progress=other.on_progress)
    assert other.written == len(inprocess.probabilities) + len(inprocess.signals)

    # the replayed input reads back from the topics as the same records, on the partitions murmur2 gave them
    keys = {r.key for r in records}
    read = [r for r in read_inputs(kafka_bootstrap, offsets=starts).records if r.key in keys]
    assert sorted((r.topic, r.partition, repr(r.value)) for r in read) == sorted(
        (r.topic, r.partition, repr(r.value)) for r in records)
    assert InProcessEngine(config).run(read).encoded() == inprocess.encoded()

    assert_identical(inprocess, kafka)
    # the Kafka run traded its own account only, starting from the same deposit
    assert kafka.ledger[0] == inprocess.ledger[0]
    assert all(r.account == config.account for r in (*kafka.risk, *kafka.orders, *kafka.fills))


def test_engines_identical_on_the_recorded_session(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Unphased, the quotes came before the links discovery makes of the listings: 127 of 3,310 shard inputs, no signal."""
    records = load_session(SESSION)
    config = BacktestConfig(account=f"bt-session-{uuid.uuid4().hex[:8]}", events=("espn:nba:401859965",))
    inprocess = InProcessEngine(config).run(records)
    assert len(inprocess.links) == 3 and len(inprocess.signals) >= 20 and len(inprocess.orders) >= 5
    assert [f for f in inprocess.fills if isinstance(f, Fill)] and inprocess.positions and len(inprocess.ledger) > 2

    kafka = KafkaEngine(kafka_bootstrap, config, work_dir=tmp_path, timeout_s=800).run(records)
    assert_identical(inprocess, kafka)


def test_engines_identical_on_the_bench_data(kafka_bootstrap: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    records = synthetic_input(4, 4, 1500, run)
    events = tuple(sorted({r.value.event_id for r in records if isinstance(r.value, EventState)}))
    config = BacktestConfig(account=f"bt-bench-{run}", events=events)
    inprocess = InProcessEngine(config).run(records)
    assert len(inprocess.signals) >= 100 and len(inprocess.orders) >= 10 and len(inprocess.risk) >= 100
    assert len([f for f in inprocess.fills if isinstance(f, Fill)]) >= 5 and len(inprocess.ledger) > 5

    kafka = KafkaEngine(kafka_bootstrap, config, work_dir=tmp_path, timeout_s=800).run(records)
    assert_identical(inprocess, kafka)
