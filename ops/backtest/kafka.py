"""The Kafka replay backtest: the input replayed into the registry topics, a real Faust worker, outputs read back.

A run gets a fresh app id (`backtest-<tag>`: its own consumer group, tables,
changelogs and internal topics) and its own paper account. The group's offsets
are committed at the current log ends before the worker starts, so it reads only
what this run produces; the account's bankroll deposit goes to `ledger` first.
The worker is `python -m streams.agents.worker` with ARBEES_AGENTS naming the
groups (discovery, router, shard, trading by default) and ARBEES_TRADING_EVENTS
restricting the account to the input's events. The agents read fixed registry
topic names, so a run cannot use run-scoped copies of them; outputs are picked
from the shared output topics by the worker that wrote them (every worker stamps
its app id in the `arbees-app` header, schemas.topics.ORIGIN_HEADER: another
worker on the broker reading the same inputs writes the same records), then by
the run's events (shard outputs) and account (trading outputs).

The whole input is produced before the worker starts, and the worker runs with
ARBEES_EVENT_TIME_ORDER (streams/event_time_order.py): it releases the input one
record at a time in the in-process engine's replay order, each record's cascade
through every agent finished before the next. That is what the in-process engine
does, so both engines emit the same records (tests/integration/test_backtest_kafka.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from ops.kafka.groups import commit_offsets
from connectors.publisher import make_producer
from ops.backtest.inprocess import BacktestConfig, first_ts
from ops.backtest.records import BacktestError, BacktestResult, InputRecord, replay_order
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.errors import DecodeError
from schemas.topics import ORIGIN_HEADER, TOPICS, spec
from streams import event_time_order
from streams.generations import live_names
from streams.internal_topics import await_leaders

REPO = Path(__file__).resolve().parents[2]
DEFAULT_AGENTS = "discovery,router,shard,trading"
#: Output topics read back, and the result list each record type lands in.
OUTPUT_TOPICS = ("markets.links", "shard.inputs", "model.probabilities", "signals", "orders", "fills", "positions",
                 "ledger", "risk.state")
ACCOUNT_TOPICS = ("orders", "fills", "positions", "ledger", "risk.state")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class KafkaRunInfo:
    """Where a Kafka run lived; kept so an operator can look at its topics and worker log."""

    app_id: str
    log: Path
    produced: int
    produce_seconds: float


@dataclass
class _Produced:
    coords: set[tuple[str, int, int]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err}")
        else:
            self.coords.add((msg.topic(), msg.partition(), msg.offset()))


class _Producer:
    """confluent-kafka with the murmur2 partitioner (connectors.publisher), remembering where each record landed."""

    def __init__(self, bootstrap: str, produced: _Produced) -> None:
        self._producer = make_producer(bootstrap, **{"linger.ms": 20})
        self._codec = default_codec()
        self._produced = produced

    def publish(self, topic: str, key: str, value: Any) -> None:
        spec(topic)
        data = self._codec.encode(value)
        while True:
            try:
                self._producer.produce(topic, key=key.encode(), value=data, on_delivery=self._produced.on_delivery)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float) -> None:
        if self._producer.flush(timeout):
            raise BacktestError(f"records still undelivered after {timeout:.0f}s")
        if self._produced.errors:
            raise BacktestError("producing the input failed: " + "; ".join(self._produced.errors[:5]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KafkaEngine:
    """Runs a backtest through the real broker and a real worker subprocess."""

    def __init__(self, bootstrap: str, config: BacktestConfig | None = None, agents: str = DEFAULT_AGENTS,
                 work_dir: Path | None = None, idle_check_s: float = 1.0, timeout_s: float = 600.0) -> None:
        self.bootstrap = bootstrap
        self.config = config or BacktestConfig()
        self.agents = agents
        self.work_dir = work_dir
        self.idle_check_s = idle_check_s
        self.timeout_s = timeout_s
        self.info: KafkaRunInfo | None = None
        self._admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        self._live: dict[str, str] = {}

    # ------------------------------------------------------------------ the run

    def run(self, records: Sequence[InputRecord], progress: Progress | None = None) -> BacktestResult:
        ordered = replay_order(list(records))
        start_ts = first_ts(ordered)
        report = ensure_topics(self.bootstrap)
        if report.problems:
            raise BacktestError(f"registry topics are not right on {self.bootstrap}: {'; '.join(report.problems)}")
        tag = uuid.uuid4().hex[:10]
        app_id = f"backtest-{tag}"
        folder = Path(self.work_dir or tempfile.mkdtemp(prefix="arbees-backtest-")) / app_id
        folder.mkdir(parents=True, exist_ok=True)
        # the topics as the worker will name them: a scaled family's live generation (streams/generations.py)
        self._live = live_names(self.bootstrap, tuple(t.name for t in TOPICS if not t.name.startswith("raw.")))
        starts = self._ends(tuple(self._live.values()))
        self._commit(app_id, starts)
        produced = _Produced()
        pub = _Producer(self.bootstrap, produced)
        began, wall_start_ms = time.perf_counter(), int(time.time() * 1000)
        # the whole input is on the broker before the worker reads it: the worker releases it by event time
        # (streams.event_time_order), which needs every source record there to know which comes first
        pub.publish("ledger", self.config.account, self.config.deposit(start_ts - 1))
        for sent, rec in enumerate(ordered, 1):
            pub.publish(rec.topic, rec.key, rec.value)
            if progress is not None and sent % 500 == 0:
                progress("produce", sent, len(ordered))
        pub.flush(120)
        if progress is not None:
            progress("produce", len(ordered), len(ordered))
        produce_s = time.perf_counter() - began
        worker = self._start_worker(app_id, folder)
        try:
            self._wait_ready(worker, folder / "worker.log")
            self._wait_idle(app_id, worker, folder / "worker.log")
            ends = self._ends(tuple(self._live[t] for t in OUTPUT_TOPICS))
        finally:
            _stop(worker)
        result, last_ms = self._collect(ordered, starts, ends, produced, app_id)
        result.inputs = len(ordered)
        result.seconds = max(last_ms - wall_start_ms, 1) / 1000
        self.info = KafkaRunInfo(app_id, folder / "worker.log", len(ordered), produce_s)
        return result

    # ------------------------------------------------------------------ worker

    def worker_env(self, app_id: str, folder: Path) -> dict[str, str]:
        """The worker's environment: the broker, the run's app id and the settings file both engines read."""
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "ARBEES_APP_ID": app_id,
            "ARBEES_AGENTS": self.agents,
            "ARBEES_WEB_PORT": str(_free_port()),
            "ARBEES_KILL_FILE": str(folder / "KILL"),
            "ARBEES_SHARD_BATCH": str(self.config.shard_batch),
            event_time_order.ENV: "1",
            "ARBEES_PRODUCER_LINGER_S": "0",  # one record in flight at a time: nothing to coalesce
            "PYTHONPATH": str(REPO),
            **self.config.worker_env(),
        }

    def _start_worker(self, app_id: str, folder: Path) -> subprocess.Popen[bytes]:
        env = self.worker_env(app_id, folder)
        log = (folder / "worker.log").open("wb")
        # run in its own folder: the Faust data dir lands there, not in the repository
        return subprocess.Popen([sys.executable, "-m", "streams.agents.worker", "worker", "-l", "info", "--without-web"],
                                cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_ready(self, worker: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + min(self.timeout_s, 120)
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise BacktestError(f"the worker exited ({worker.returncode}) while starting:\n{_tail(log)}")
            if "Ready" in log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise BacktestError(f"the worker was not ready within {min(self.timeout_s, 120):.0f}s:\n{_tail(log)}")

    def _group_lag(self, app_id: str) -> tuple[int, int]:
        """(records not yet committed on the partitions the group's members consume, their total log end)."""
        behind = self.partition_lag(app_id)
        if behind is None:
            return -1, -1  # rebalancing or not joined yet: not idle
        return sum(end - committed for _, _, committed, end in behind), sum(end for *_, end in behind)

    def partition_lag(self, app_id: str) -> list[tuple[str, int, int, int]] | None:
        """(topic, partition, committed, log end) of each partition the group's members consume; None before it has any.

        Table changelogs are assigned too (for recovery) but never committed: they are left out.
        """
        from confluent_kafka import ConsumerGroupTopicPartitions

        described = self._admin.describe_consumer_groups([app_id])[app_id].result(timeout=10)
        assigned = sorted({(tp.topic, tp.partition) for m in described.members if m.assignment is not None
                           for tp in m.assignment.topic_partitions if not tp.topic.endswith("-changelog")})
        if not assigned:
            return None
        fut = self._admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(app_id)])
        committed = {(tp.topic, tp.partition): tp.offset for tp in fut[app_id].result(timeout=10).topic_partitions}
        ends = self._ends(tuple(sorted({t for t, _ in assigned})))
        return [(t, p, min(max(committed.get((t, p), 0), 0), ends[t][p]), ends[t][p]) for t, p in assigned if t in ends]

    def _wait_idle(self, app_id: str, worker: subprocess.Popen[bytes], log: Path) -> None:
        """Until the group has committed every record it reads and no log grew, twice in a row."""
        deadline = time.monotonic() + self.timeout_s
        quiet, last_total = 0, -1
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise BacktestError(f"the worker exited ({worker.returncode}):\n{_tail(log)}")
            lag, total = self._group_lag(app_id)
            quiet = quiet + 1 if lag == 0 and total == last_total else 0
            if quiet >= 2:
                return
            last_total = total
            time.sleep(self.idle_check_s)
        raise BacktestError(f"the worker did not go idle within {self.timeout_s:.0f}s:\n{_tail(log)}")

    # ------------------------------------------------------------------ offsets

    def _ends(self, topics: tuple[str, ...]) -> dict[str, dict[int, int]]:
        """Each partition's log end, once its leader serves it (a fresh or restarted broker names a leader
        seconds before that broker answers for the partition: NOT_LEADER_FOR_PARTITION in between)."""
        meta = self._admin.list_topics(timeout=10).topics
        present = [t for t in topics if t in meta]
        unserved = await_leaders(self._admin, present, min(self.timeout_s, 60))
        if unserved:
            raise BacktestError("; ".join(unserved))
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"probe-{uuid.uuid4().hex}", "log_level": 0})
        try:
            out: dict[str, dict[int, int]] = {}
            meta = c.list_topics(timeout=10).topics
            for t in topics:
                if t not in meta:
                    continue
                out[t] = {p: c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1] for p in meta[t].partitions}
            return out
        finally:
            c.close()

    def _commit(self, group: str, ends: dict[str, dict[int, int]]) -> None:
        """The worker group starts at the current log ends: it reads only this run's records."""
        commit_offsets(self.bootstrap, group, [TopicPartition(t, p, o) for t, parts in ends.items() for p, o in parts.items()])

    # ------------------------------------------------------------------ outputs

    def _collect(self, inputs: Sequence[InputRecord], starts: dict[str, dict[int, int]], ends: dict[str, dict[int, int]],
                 produced: _Produced, app_id: str) -> tuple[BacktestResult, int]:
        """Read the run's outputs back: records this run's worker wrote (their `ORIGIN_HEADER` is the run's app id),
        shard outputs by the run's events, trading outputs by its account.

        Events and account alone are not enough: any other worker on the broker consuming the same topics
        (a running stack, another test's worker, a worker left behind by a killed run) writes the same
        deterministic outputs for this run's inputs, and they would count twice.
        """
        codec = default_codec()
        markets = {r.key for r in inputs if r.topic != "events.state"}
        events = {r.value.event_id for r in inputs if r.topic in ("events.state", "markets.links")}  # type: ignore[union-attr]
        account, origin = self.config.account, app_id.encode()
        raw: dict[str, list[Any]] = {t: [] for t in OUTPUT_TOPICS}
        last_ms = 0
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"backtest-read-{uuid.uuid4().hex}",
                      "enable.auto.commit": False, "log_level": 0})
        try:
            base_of = {self._live[t]: t for t in OUTPUT_TOPICS}
            assign = [TopicPartition(t, p, starts[t][p]) for t in base_of for p in ends[t] if ends[t][p] > starts[t][p]]
            remaining = {(tp.topic, tp.partition): ends[tp.topic][tp.partition] for tp in assign}
            if assign:
                c.assign(assign)
            deadline = time.monotonic() + 120
            while remaining and time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                live, part, off = str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0)
                if off + 1 >= remaining.get((live, part), 0):
                    remaining.pop((live, part), None)
                topic = base_of[live]
                if (live, part, off) in produced.coords:
                    continue  # our own input (links) or deposit, not an output
                if dict(msg.headers() or ()).get(ORIGIN_HEADER) != origin:
                    continue  # another worker's output (or another producer's record), not this run's worker's
                try:
                    rec = codec.decode(msg.value())
                except DecodeError:
                    continue  # another producer's bad record on a shared topic: not this run's
                key = (msg.key() or b"").decode(errors="replace")
                mine = (getattr(rec, "account", None) == account if topic in ACCOUNT_TOPICS
                        else key in markets if topic == "markets.links" else key in events)
                if mine:
                    raw[topic].append(rec)
                    last_ms = max(last_ms, msg.timestamp()[1])
            if remaining:
                raise BacktestError(f"could not read the outputs back: {sorted(remaining)} unread")
        finally:
            c.close()
        result = BacktestResult.from_topics(raw)
        deposit = self.config.deposit(first_ts(inputs) - 1)
        result.ledger.insert(0, deposit)  # skipped above as our own record; the in-process run books it too
        return result, last_ms


def _stop(p: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the worker's process group, SIGKILL after the grace period (a crashed Faust agent ignores TERM)."""
    if p.poll() is not None:
        return
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
