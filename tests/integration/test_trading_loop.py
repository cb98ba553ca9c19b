"""Signals → orders → fills → positions → settlement through the real broker, on a recorded game.

The Faust worker runs as a subprocess (`python -m faust -A streams.app worker`) with
only the trading agents, a unique app id (consumer group, changelog and inbox topics)
and a unique account. The group's offsets are committed at the current log ends
before it starts, so records other tests left on the shared registry topics are
not traded again. Records are produced with connectors.publisher.Publisher after
ensure_topics; the bankroll is read back from the `ledger` topic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from ops.kafka.groups import commit_offsets
from connectors.publisher import Publisher
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.enums import OrderState, PositionStatus
from schemas.records import Fill, LedgerEntry, Order, OrderStatus, PositionEvent, RiskEvent
from streams.trading import ledger as ledger_rule
from tests.unit.trading import recorded_game as game

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
WORKER_TOPICS = ("signals", "shard.inputs", "orders", "fills", "positions", "ledger", "risk.state")
READ_TOPICS = ("orders", "fills", "positions", "ledger", "risk.state", "alerts")


def log_ends(bootstrap: str, topics: tuple[str, ...]) -> dict[str, list[TopicPartition]]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}", "enable.auto.commit": False})
    try:
        out: dict[str, list[TopicPartition]] = {}
        for t in topics:
            parts = c.list_topics(t, timeout=10).topics[t].partitions
            out[t] = [TopicPartition(t, p, c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]) for p in parts]
        return out
    finally:
        c.close()


def start_group_at_end(bootstrap: str, group: str, ends: dict[str, list[TopicPartition]]) -> None:
    """Commit the worker group's offsets at the log ends: it starts after what is already there."""
    commit_offsets(bootstrap, group, [tp for tps in ends.values() for tp in tps])


@dataclass
class Worker:
    """One trading worker subprocess; `kill()` is SIGKILL, `stop()` SIGTERM then SIGKILL.

    It trades only `event_id` (ARBEES_TRADING_EVENTS): other tests publish the same recorded game
    to the shared registry topics, and their quotes or final states must not reach this run.
    """

    bootstrap: str
    app_id: str
    account: str
    log_dir: Path
    event_id: str
    extra_env: dict[str, str] = field(default_factory=dict)
    worker_flags: tuple[str, ...] = ()  # streams.agents.worker's own switches (--live)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "ARBEES_APP_ID": self.app_id,
            "ARBEES_AGENTS": "trading",
            "ARBEES_ACCOUNTS": self.account,
            "ARBEES_TRADING_EVENTS": self.event_id,
            "ARBEES_KILL_FILE": str(self.log_dir / "KILL"),
            "APP_DATADIR": str(self.log_dir / "data"),
            "PYTHONUNBUFFERED": "1",  # a SIGKILLed worker's last lines are in its log, not lost in a buffer
            **self.extra_env,
        }
        self.starts += 1
        log = open(self.log_dir / f"worker-{self.starts}.log", "wb")
        # streams.agents.worker is `faust -A streams.app` plus the --live switch (absent here: paper mode)
        self.proc = subprocess.Popen([sys.executable, "-m", "streams.agents.worker", *self.worker_flags, "worker", "-l", "info",
                                      "--without-web"],
                                     cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self) -> str:
        logs = sorted(self.log_dir.glob("worker-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""


class TopicReader:
    """Reads the account's records from the trading topics, from the offsets the test started at."""

    def __init__(self, bootstrap: str, account: str, starts: dict[str, list[TopicPartition]]) -> None:
        self.account = account
        self.codec = default_codec()
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                                  "enable.auto.commit": False})
        self.consumer.assign([tp for t in READ_TOPICS for tp in starts[t]])
        self.records: dict[str, list[Any]] = {t: [] for t in READ_TOPICS}

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            rec = self.codec.decode(msg.value())
            if getattr(rec, "account", None) == self.account or msg.topic() == "alerts":
                self.records[msg.topic()].append(rec)

    def until(self, cond: Callable[["TopicReader"], bool], timeout: float, worker: Worker | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if cond(self):
                return
            if worker is not None and worker.proc is not None and not worker.alive():
                raise AssertionError(f"the worker exited ({worker.proc.returncode}):\n{worker.tail()}")
        tail = worker.tail() if worker else ""
        raise AssertionError(f"timed out; have { {k: len(v) for k, v in self.records.items()} }\nworker log:\n{tail}")

    def of(self, topic: str, cls: type) -> list[Any]:
        return [r for r in self.records[topic] if isinstance(r, cls)]

    def close(self) -> None:
        self.consumer.close()


def ledger_balance(entries: list[LedgerEntry]) -> tuple[ledger_rule.LedgerState, int]:
    """Apply the optimistic-version rule to the log as every reader does; count refused entries."""
    state = ledger_rule.LedgerState()
    refused = 0
    for e in entries:
        state, verdict = ledger_rule.apply(state, e)
        refused += verdict is not ledger_rule.Verdict.ACCEPTED
    return state, refused


@pytest.fixture
def trading_env(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[Worker, TopicReader, Publisher]]:
    report = ensure_topics(kafka_bootstrap)
    assert not report.problems, report.problems
    tag = uuid.uuid4().hex[:10]
    app_id, account = f"it-trading-{tag}", f"acct-{tag}"
    ends = log_ends(kafka_bootstrap, tuple(dict.fromkeys(WORKER_TOPICS + READ_TOPICS)))
    start_group_at_end(kafka_bootstrap, app_id, ends)
    worker = Worker(kafka_bootstrap, app_id, account, tmp_path, event_id=f"{game.EVENT_ID}:run-{tag}")
    reader = TopicReader(kafka_bootstrap, account, ends)
    publisher = Publisher(kafka_bootstrap, service="test.trading")
    try:
        yield worker, reader, publisher
    finally:
        worker.stop()
        reader.close()


def test_recorded_game_signals_to_settlement_final_bankroll_to_the_cent(trading_env) -> None:
    worker, reader, pub = trading_env
    acct, ev = worker.account, worker.event_id
    t = game.KICKOFF_MS + 3_600_000  # during the game
    pub.publish("ledger", acct, game.deposit(acct))
    for ticker in (game.GB, game.DET):
        pub.publish("shard.inputs", ev, game.quote_input(ticker, t, ev))
    pub.flush()
    worker.start()
    pub.publish("signals", ev, game.gb_signal(t + 1_000, ev))
    pub.publish("signals", ev, game.det_signal(t + 2_000, ev))
    # Market data keeps flowing live: a paper order fills once data past its time + latency is read.
    for ticker in (game.GB, game.DET):
        pub.publish("shard.inputs", ev, game.quote_input(ticker, t + 3_000, ev))
    pub.flush()

    # Sizing stamps an order with the latest market time it has read, and the routers fill the inbox from two
    # topics: when the t + 3 s quotes are read before a signal, its order is later than every quote so far and
    # fills on the next one. A live feed keeps quoting (the same book, once a second of event time).
    feed_ts, deadline = t + 4_000, time.monotonic() + 150

    def both_filled(r: TopicReader) -> bool:
        return len([s for s in r.of("fills", OrderStatus) if s.state is OrderState.FILLED]) >= 2

    while not both_filled(reader) and time.monotonic() < deadline:
        for ticker in (game.GB, game.DET):
            pub.publish("shard.inputs", ev, game.quote_input(ticker, feed_ts, ev))
        pub.flush()
        feed_ts += 1_000
        reader.poll(1.0)
    reader.until(both_filled, 1.0, worker)  # says what it has, with the worker's log, if not both
    pub.publish("shard.inputs", ev, game.final_input(event_id=ev))
    pub.flush()
    reader.until(lambda r: len([p for p in r.of("positions", PositionEvent) if p.status is PositionStatus.SETTLED]) >= 2,
                 60, worker)
    reader.until(lambda r: ledger_balance(r.of("ledger", LedgerEntry))[0].version >= 5, 30, worker)
    reader.poll(2.0)  # anything that would come late (a duplicate order, a second fill set) is read too

    orders = {o.order_id: o for o in reader.of("orders", Order)}
    assert sorted((o.market_id, o.count, o.limit_price_micros) for o in orders.values()) == [
        (game.DET, 13.0, 580_000), (game.GB, 17.0, 440_000)]
    fills = {f.fill_id: f for f in reader.of("fills", Fill)}
    assert sorted((f.market_id, f.count, f.price_micros, f.fee_micros) for f in fills.values()) == [
        (game.DET, 13.0, 580_000, 230_000), (game.GB, 17.0, 440_000, 300_000)]
    settled = {p.market_id: p for p in reader.of("positions", PositionEvent) if p.status is PositionStatus.SETTLED}
    assert settled[game.GB].realized_pnl_micros == 9_520_000 and settled[game.DET].realized_pnl_micros == -7_540_000
    state, _ = ledger_balance(reader.of("ledger", LedgerEntry))
    assert state.balance.value == game.FINAL_BANKROLL_MICROS == 1_001_450_000  # $1,001.45
    assert state.version == 5


def test_cli_reads_the_bankroll_and_flips_the_kill_switch(trading_env, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from ops.trading_cli import risk_app, trading_app

    root = typer.Typer()  # mounted as ops/cli.py is asked to: `arbees pnl`, `arbees kill`, `arbees risk reset`
    root.add_typer(trading_app)
    root.add_typer(risk_app, name="risk")

    worker, reader, pub = trading_env
    acct = worker.account
    monkeypatch.setenv("KAFKA_BOOTSTRAP", worker.bootstrap)
    monkeypatch.setenv("ARBEES_KILL_FILE", str(worker.log_dir / "KILL"))
    runner = CliRunner()
    assert runner.invoke(root, ["deposit", acct, "250.5"]).exit_code == 0
    assert runner.invoke(root, ["deposit", "--", acct, "-0.5"]).exit_code == 0
    res = runner.invoke(root, ["pnl", "--account", acct], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "$250.00" in res.output, res.output
    res = runner.invoke(root, ["kill", "--account", acct])
    assert res.exit_code == 0 and (worker.log_dir / "KILL").exists()
    reader.until(lambda r: any(isinstance(e, RiskEvent) and e.rule == "operator.kill" for e in r.records["risk.state"]), 20)
    assert runner.invoke(root, ["risk", "reset", "--account", acct]).exit_code == 0
    assert not (worker.log_dir / "KILL").exists()
