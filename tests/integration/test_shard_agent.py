"""The shard agent in a real Faust worker on the real broker: recorded ESPN state + venue books in,
the exact Probability and Signal records out; a replay by a second worker gives identical signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from ops.kafka.groups import commit_offsets
from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from connectors.publisher import Publisher
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.enums import SignalKind, Venue
from schemas.records import Probability, ShardInput, Signal
from schemas.topics import spec
from streams.shard.config import ShardConfig
from streams.shard.processor import ShardProcessor, registry_lookup
from streams.shard.state import ShardState

from tests.unit.shard.books import FIXTURES, GAME_TS, kalshi_book, listing, polymarket_book, quote_input, state_input

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]


def inputs(run: str) -> list[ShardInput]:
    """MIN 14–0 WSH (recorded, live) under a run-unique event id; Kalshi and Polymarket books on MIN."""
    payload = json.loads((FIXTURES / "nfl_scoreboard_2025-12-07_live.json").read_text())
    st = next(s for s in scoreboard_states(league("nfl"), payload, GAME_TS).states if s.event_id == "espn:nfl:401772899")
    eid = f"{st.event_id}:{run}"
    st = replace(st, event_id=eid, state_id=f"{st.state_id}:{run}")
    k_yes, k_no = kalshi_book()
    pm_yes, pm_no = polymarket_book()
    return [
        state_input(st, input_id=f"st-{run}"),
        quote_input(eid, Venue.KALSHI, f"KXNFLGAME-{run}-MIN", k_yes, k_no, GAME_TS + 1_000, role="a", rate=0.07),
        quote_input(
            eid, Venue.POLYMARKET, f"0x{run}", pm_yes, pm_no, GAME_TS + 2_000, role="a",
            lst=listing(Venue.POLYMARKET, f"0x{run}", 0.03),
        ),
    ]


def expected(records: list[ShardInput]) -> list[Probability | Signal]:
    proc = ShardProcessor(ShardConfig(), lookup=registry_lookup)
    st, outs = ShardState(records[0].event_id), []
    for rec in records:
        st, o = proc.step(st, rec)
        outs.extend(o)
    return outs


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 30.0) -> dict[int, int]:
    """High watermarks, waiting for leaders of just-created topics."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                return {
                    p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(spec(topic).partitions)
                }
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        c.close()


def position_group(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Start a new consumer group at given offsets instead of replaying the whole shared topic."""
    commit_offsets(bootstrap, group, [TopicPartition(topic, p, o) for p, o in offsets.items()])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Worker:
    def __init__(self, bootstrap: str, app_id: str, log: Path) -> None:
        env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "ARBEES_APP_ID": app_id, "ARBEES_AGENTS": "shard", "ARBEES_WEB_PORT": str(free_port())}
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "streams.app", "worker", "-l", "info", "--without-web"],
            cwd=log.parent, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def collect(bootstrap: str, starts: dict[str, dict[int, int]], key: str, want: set[bytes], timeout_s: float, worker: Worker) -> dict[bytes, str]:
    """Read outputs for `key` until every wanted value has arrived; value -> topic.

    Any other worker of the same code consuming `shard.inputs` (e.g. a running stack
    under another app id) emits the same deterministic records, so the test waits for
    its expected values instead of taking the first N messages with the key.
    """
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"it-read-{uuid.uuid4().hex}", "enable.auto.commit": False})
    c.assign([TopicPartition(t, p, o) for t, offs in starts.items() for p, o in offs.items()])
    got: dict[bytes, str] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while not want <= got.keys() and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                if worker.proc.poll() is not None:
                    break
                continue
            if msg.key() == key.encode():
                got[msg.value()] = msg.topic()
    finally:
        c.close()
    missing = len(want - got.keys())
    assert not missing, f"{missing} of {len(want)} expected outputs missing; worker log:\n{worker.log.read_text()[-4000:]}"
    return got


def test_shard_worker_emits_exact_records_and_replays_identically(kafka_bootstrap: str, workers: list[Worker], tmp_path: Path) -> None:
    ensure_topics(kafka_bootstrap)
    run = uuid.uuid4().hex[:10]
    records = inputs(run)
    want = expected(records)
    kinds = sorted(type(o).__name__ + (":" + o.kind.value if isinstance(o, Signal) else "") for o in want)
    # MIN at p≈0.81: YES edges on both venues, and Kalshi YES 0.44 + Polymarket NO 0.51 lock a profit
    assert kinds == ["Probability", "Signal:CROSS_VENUE_ARB", "Signal:MODEL_EDGE", "Signal:MODEL_EDGE"]

    in_start = end_offsets(kafka_bootstrap, "shard.inputs")
    out_start = {t: end_offsets(kafka_bootstrap, t) for t in ("model.probabilities", "signals")}
    codec = default_codec()

    app1 = f"it-shard-{run}-a"
    position_group(kafka_bootstrap, app1, "shard.inputs", in_start)
    workers.append(Worker(kafka_bootstrap, app1, tmp_path / "worker-a.log"))
    pub = Publisher(kafka_bootstrap, service="it-shard")
    for rec in records:
        pub.publish("shard.inputs", rec.event_id, rec)
    pub.flush()

    want_bytes = {codec.encode(o): ("signals" if isinstance(o, Signal) else "model.probabilities") for o in want}
    first = collect(kafka_bootstrap, out_start, records[0].event_id, set(want_bytes), 180, workers[0])
    assert {v: first[v] for v in want_bytes} == want_bytes  # each record on its topic
    arb = next(o for o in want if isinstance(o, Signal) and o.kind is SignalKind.CROSS_VENUE_ARB)
    assert [leg.venue for leg in arb.legs] == [Venue.KALSHI, Venue.POLYMARKET] and arb.ev_micros == 24_856
    workers[0].stop()

    # Replay: a second worker (new consumer group) reads the same input offsets again.
    out_again = {t: end_offsets(kafka_bootstrap, t) for t in ("model.probabilities", "signals")}
    app2 = f"it-shard-{run}-b"
    position_group(kafka_bootstrap, app2, "shard.inputs", in_start)
    workers.append(Worker(kafka_bootstrap, app2, tmp_path / "worker-b.log"))
    signal_bytes = {v for v, t in want_bytes.items() if t == "signals"}
    assert len(signal_bytes) == 3
    second = collect(kafka_bootstrap, out_again, records[0].event_id, signal_bytes, 180, workers[1])
    assert {v for v, t in second.items() if t == "signals"} >= signal_bytes  # byte-identical on replay
