"""Both backtest engines on the same recorded input through the real broker and a real Faust worker.

The input is tests/unit/test_backtest_inprocess.py's recorded ESPN + Kalshi records under run-unique event
ids and tickers (other tests publish the same recordings to the shared registry topics). The Kafka replay
goes out in three phases — listings and links, then states, then quotes — so no record of the input races
another upstream of the shard (ops/backtest/compare.py says why that is what makes the engines comparable).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from connectors.publisher import make_producer
from ops.backtest.compare import by_event, check_shard_stage, compare_runs
from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.kafka import KafkaEngine
from ops.backtest.records import INPUT_TOPICS
from ops.backtest.source import read_inputs
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.records import EventState, Probability, Signal
from tests.unit.test_backtest_inprocess import GAME_TS, recorded_input

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


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


def test_inprocess_and_kafka_engines_emit_identical_signals(kafka_bootstrap: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    records = recorded_input(run)
    events = tuple(sorted({r.value.event_id for r in records if isinstance(r.value, EventState)}))
    config = BacktestConfig(account=f"bt-{run}", events=events)
    inprocess = InProcessEngine(config).run(records)
    assert len(inprocess.signals) >= 10  # the recording trades: both linked games have edges on most quotes

    engine = KafkaEngine(kafka_bootstrap, config, work_dir=tmp_path, timeout_s=120)
    ensure_topics(kafka_bootstrap)
    starts = engine._ends(INPUT_TOPICS)
    # While the run's worker works, another worker of the same code on this broker (a running stack, another
    # test's worker, one left behind by a killed run) writes the very same shard outputs for these events: the
    # in-process run's. The engine must read its own worker's outputs only (it counted these twice before).
    other = OtherWorker(kafka_bootstrap, inprocess.probabilities, inprocess.signals)
    kafka = engine.run(records, phases=(GAME_TS, GAME_TS + 1), progress=other.on_progress)
    assert other.written == len(inprocess.probabilities) + len(inprocess.signals)

    # the replayed input reads back from the topics as the same records, on the partitions murmur2 gave them
    keys = {r.key for r in records}
    read = [r for r in read_inputs(kafka_bootstrap, offsets=starts).records if r.key in keys]
    assert sorted((r.topic, r.partition, repr(r.value)) for r in read) == sorted(
        (r.topic, r.partition, repr(r.value)) for r in records)
    assert InProcessEngine(config).run(read).encoded() == inprocess.encoded()

    # (1) the worker's shard did with its own shard.inputs exactly what the in-process shard does
    stage = check_shard_stage(InProcessEngine(config), kafka)
    assert stage.signals_and_probabilities, stage.differences
    # (2) both engines routed the same per-event inputs, so the signals are the same bytes in the same order
    agreement = compare_runs(inprocess, kafka)
    assert agreement.shard_inputs, agreement.differences
    assert agreement.signals and agreement.probabilities, agreement.differences
    assert by_event(kafka.signals) == by_event(inprocess.signals)
    assert {s.signal_id for s in kafka.signals} == {s.signal_id for s in inprocess.signals}
    # the Kafka run traded its own account only, starting from the same deposit
    assert kafka.ledger[0] == inprocess.ledger[0]
    assert all(r.account == config.account for r in (*kafka.risk, *kafka.orders, *kafka.fills))
