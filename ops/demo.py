"""`arbees demo`: a recorded real session through the whole pipeline, and the pieces the end-to-end test drives.

The session (default data/sessions/nba-2026-finals-g3: 2026 NBA Finals G3, real scores and
venue prices) is replayed through the connectors' normalizers onto the real topics, with a
Faust worker of its own (fresh app id and paper account; every agent group) reading them.
The broker is shared, so a run records the log end offsets of what it reads before it
publishes anything and reads outputs from there on; the worker's group starts at those
offsets too. The whole session goes onto the topics first and the worker replays it in
event time, one record's cascade at a time (streams/event_time_order.py), as the in-process
backtest engine runs the same session; the report says whether the two agree. Nothing here talks to a venue: workers
run without --live (paper).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ops.kafka.groups import commit_offsets
from schemas.codec import default_codec

REPO = Path(__file__).resolve().parents[1]
Offsets = dict[str, dict[int, int]]

#: Topics the agents of one worker consume: a new group is positioned at their ends before it starts.
WORKER_SOURCES = (
    "markets.catalog", "events.state", "markets.quotes", "markets.links", "shard.inputs", "signals",
    "orders", "fills", "positions", "ledger", "risk.state", "deadletter", "health",
)
#: Topics a run reads back.
OUTPUTS = (
    "events.state", "markets.catalog", "markets.quotes", "markets.links", "shard.inputs", "model.probabilities",
    "signals", "orders", "fills", "positions", "ledger", "risk.state", "deadletter", "alerts",
)


def _consumer(bootstrap: str, prefix: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "log_level": 0})


def log_ends(bootstrap: str, topics: Iterable[str]) -> Offsets:
    """The high watermark of every partition of `topics`, now."""
    c = _consumer(bootstrap, "arbees-ends")
    try:
        out: Offsets = {}
        for t in dict.fromkeys(topics):
            parts = c.list_topics(t, timeout=10).topics[t].partitions
            out[t] = {p: c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1] for p in sorted(parts)}
        return out
    finally:
        c.close()


def start_group_at(bootstrap: str, group: str, offsets: Offsets) -> None:
    """Commit a consumer group's offsets so its first worker starts there, not at the log's beginning."""
    commit_offsets(bootstrap, group, [TopicPartition(t, p, o) for t, parts in offsets.items() for p, o in parts.items()])


@dataclass(frozen=True)
class Seen:
    """One record read back: where it sat and what it said (the raw bytes when it does not decode)."""

    topic: str
    partition: int
    offset: int
    key: str
    record: Any


@dataclass
class LogReader:
    """Reads `OUTPUTS` from given start offsets onward; `keep` filters what is stored."""

    bootstrap: str
    start: Offsets
    keep: Callable[[Seen], bool] = lambda _s: True
    topics: tuple[str, ...] = OUTPUTS
    records: dict[str, list[Seen]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.codec = default_codec()
        self.records = {t: [] for t in self.topics}
        self.consumer = _consumer(self.bootstrap, "arbees-reader")
        self.consumer.assign([TopicPartition(t, p, o) for t in self.topics for p, o in self.start[t].items()])

    def poll(self, seconds: float) -> int:
        """Read for `seconds`; returns how many records were stored."""
        stored = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.consumer.poll(min(0.2, max(0.001, deadline - time.monotonic())))
            if msg is None or msg.error() is not None:
                continue
            try:
                rec: Any = self.codec.decode(msg.value())
            except Exception as exc:  # noqa: BLE001 - a bad value is itself a fact worth keeping
                rec = exc
            seen = Seen(str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0),
                        (msg.key() or b"").decode(errors="replace"), rec)
            if self.keep(seen):
                self.records[seen.topic].append(seen)
                stored += 1
        return stored

    def read_until(self, done: Callable[[LogReader], bool], timeout_s: float) -> bool:
        """Read until `done(self)` holds (checked after every fetch) or `timeout_s` passes; whether it held."""
        deadline = time.monotonic() + timeout_s
        while not done(self):
            if time.monotonic() > deadline:
                return False
            self.poll(0.01)
        return True

    def of(self, topic: str, cls: type | tuple[type, ...] = object) -> list[Any]:
        return [s.record for s in self.records[topic] if isinstance(s.record, cls)]

    def counts(self) -> dict[str, int]:
        return {t: len(v) for t, v in self.records.items()}

    def close(self) -> None:
        self.consumer.close()


@dataclass(frozen=True)
class EspnReplay:
    responses: int
    states: int
    dead_letters: int


def replay_espn(bootstrap: str, manifest: Path, service: str = "espn-replay") -> EspnReplay:
    """Publish the recorded ESPN responses of `manifest` (raw.espn, events.state, events.plays), in order."""
    from connectors.espn.pipeline import EspnPipeline
    from connectors.espn.replay import FileReplay, replay
    from connectors.publisher import Publisher

    publisher = Publisher(bootstrap, service=service)
    outcomes = replay(FileReplay(manifest), EspnPipeline(publisher))
    publisher.flush()
    return EspnReplay(len(outcomes), sum(o.published_states for o in outcomes), sum(o.dead_letters for o in outcomes))


def terminate(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> int | None:
    """SIGTERM the process group, SIGKILL it after `grace_s`; the exit code."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass
    return proc.returncode


@dataclass
class Child:
    """A subprocess in its own session, its output in `log`; `stop()` is SIGTERM then SIGKILL."""

    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, *self.argv], cwd=self.cwd, env={**os.environ, **self.env},
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 10.0) -> int | None:
        return terminate(self.proc, grace_s) if self.proc is not None else None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def worker(bootstrap: str, app_id: str, folder: Path, *, accounts: str, web_port: int,
           trading_events: str = "", agents: str = "", extra_env: dict[str, str] | None = None) -> Child:
    """One Faust worker (paper mode: `streams.agents.worker` without --live) under its own app id."""
    env = {**(extra_env or {}),
        "KAFKA_BOOTSTRAP": bootstrap, "ARBEES_APP_ID": app_id, "ARBEES_AGENTS": agents, "ARBEES_ACCOUNTS": accounts,
        "ARBEES_TRADING_EVENTS": trading_events, "ARBEES_MODE": "paper", "ARBEES_KILL_FILE": str(folder / "KILL"),
        "APP_DATADIR": str(folder / "data"), "ARBEES_WEB_PORT": str(web_port),
    }
    argv = ["-m", "streams.agents.worker", "worker", "-l", "info", "--without-web"]
    return Child(argv, folder / "worker.log", env=env, cwd=folder)


def wait_ready(child: Child, timeout_s: float = 90.0) -> None:
    """Until the worker's log says it is ready; raises with the log's tail when it died or took too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"the worker exited while starting:\n{child.tail()}")
        if "Worker ready" in child.tail(200_000):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the worker was not ready after {timeout_s:.0f}s:\n{child.tail()}")


# ------------------------------------------------------------------ recorded NFL scoreboards (tests)

FIXTURES = REPO / "tests" / "fixtures" / "e2e"
WEEK13 = FIXTURES / "manifest_nfl_week13.json"
WEEK14 = FIXTURES / "manifest_nfl_week14.json"
#: When the week 13 scoreboard was fetched (its manifest).
WEEK13_FETCHED_MS = 1_764_561_360_000


def wait_for(reader: LogReader, done: Callable[[LogReader], bool], timeout_s: float,
             tick: Callable[[LogReader], None] = lambda _r: None, alive: Callable[[], bool] = lambda: True) -> bool:
    """Read until `done(reader)`, `timeout_s` passes or `alive()` turns false; whether `done` held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        reader.poll(0.5)
        tick(reader)
        if done(reader):
            return True
    return done(reader)


def latest_on_log(bootstrap: str, topic: str, key_of: Callable[[Any], str | None], timeout_s: float = 60.0) -> dict[str, Any]:
    """The latest record per `key_of(record)` (None: skipped) on the whole of `topic`, as it ends now."""
    from ops.log_range import LogRange

    codec = default_codec()
    latest: dict[str, Any] = {}
    for msg in LogRange(bootstrap, topic, timeout_s=timeout_s, purpose="latest"):
        try:
            rec = codec.decode(msg.value)
            key = key_of(rec)
        except Exception:  # noqa: BLE001 - an undecodable value is nobody's latest record
            key = None
        if key is not None:
            latest[key] = rec
    return latest


def latest_probabilities(bootstrap: str, event_ids: set[str]) -> dict[str, Any]:
    """The latest Probability of each of `event_ids` on the whole `model.probabilities` log.

    A run's reader sees only what the run produced, and the shard emits a probability only when it
    moves: replaying recordings a worker has priced before (a second `arbees demo`, or states already
    replayed by another run) produces none, although every state has one. The report reads them here.
    """
    from schemas.records import Probability

    return latest_on_log(bootstrap, "model.probabilities",
                         lambda r: r.event_id if isinstance(r, Probability) and r.event_id in event_ids else None)


def latest_links(bootstrap: str, event_ids: set[str]) -> dict[str, Any]:
    """The latest MarketLink of each market linked to one of `event_ids` (discovery re-emits an unchanged link never)."""
    from schemas.records import MarketLink

    return latest_on_log(bootstrap, "markets.links", lambda r: f"{r.venue.value}:{r.market_id}"
                         if isinstance(r, MarketLink) and r.event_id in event_ids else None)


def linked_markets(reader: LogReader) -> dict[str, Any]:
    """Latest MarketLink per venue market read so far."""
    from schemas.records import MarketLink

    return {f"{lk.venue.value}:{lk.market_id}": lk for lk in reader.of("markets.links", MarketLink)}


# ------------------------------------------------------------------ `arbees demo`

SESSIONS = REPO / "data" / "sessions"
DEFAULT_SESSION = SESSIONS / "nba-2026-finals-g3"
SESSION_EVENT = "espn:nba:401859965"

console = Console()


def _money(micros: int | None) -> str:
    from ops.trading_cli import _money as money

    return money(micros)


def _progress_table(progress: Any, want: Any, phase: str, started: float) -> Table:
    table = Table(title=f"{phase}  ({time.monotonic() - started:.0f}s)")
    table.add_column("topic")
    table.add_column("pipeline", justify="right")
    table.add_column("in-process engine", justify="right")
    engine = {"inbox": len(want.shard_inputs), "markets.links": len(want.links),
              "shard.inputs": len(want.shard_inputs), "model.probabilities": len(want.probabilities),
              "signals": len(want.signals), "orders": len(want.orders), "fills": len(want.fills),
              "positions": len(want.positions), "ledger": len(want.ledger), "risk.state": len(want.risk)}
    for topic, n in progress.counts().items():
        table.add_row(topic if topic != "inbox" else "trading inbox", str(n), str(engine.get(topic, "")))
    return table


@dataclass(frozen=True)
class DemoRun:
    """What one `arbees demo` run read back: the session's event and the demo account only."""

    account: str
    bankroll_micros: int
    states: list[Any]
    probabilities: list[Any]
    signals: list[Any]
    orders: list[Any]
    fills: list[Any]
    statuses: list[Any]
    positions: list[Any]
    ledger: list[Any]

    @property
    def final_balance_micros(self) -> int:
        return max(self.ledger, key=lambda e: e.version).balance_micros if self.ledger else self.bankroll_micros

    @property
    def pnl_micros(self) -> int:
        return self.final_balance_micros - self.bankroll_micros


def collect(reader: LogReader, account: str, bankroll_micros: int, event_id: str = SESSION_EVENT) -> DemoRun:
    from schemas.records import EventState, Fill, LedgerEntry, Order, OrderStatus, PositionEvent, Probability, Signal

    def unique(records: list[Any], key: str) -> list[Any]:
        return list({getattr(r, key): r for r in records}.values())

    def mine(topic: str, cls: type) -> list[Any]:
        return [x for x in reader.of(topic, cls) if x.account == account]

    return DemoRun(
        account=account, bankroll_micros=bankroll_micros,
        states=unique([s for s in reader.of("events.state", EventState) if s.event_id == event_id], "state_id"),
        probabilities=unique([p for p in reader.of("model.probabilities", Probability) if p.event_id == event_id], "prob_id"),
        signals=unique([s for s in reader.of("signals", Signal) if s.event_id == event_id], "signal_id"),
        orders=mine("orders", Order), fills=mine("fills", Fill), statuses=mine("fills", OrderStatus),
        positions=mine("positions", PositionEvent), ledger=mine("ledger", LedgerEntry),
    )


def _report(run: DemoRun, want: Any) -> None:
    from schemas.enums import EventStatus

    live = [s for s in run.states if s.status is EventStatus.LIVE]
    final = next((s for s in run.states if s.status is EventStatus.FINAL), None)
    summary = Table("", "count", title="the recorded session through the pipeline")
    summary.add_row("states (live)", f"{len(run.states)} ({len(live)})")
    summary.add_row("model probabilities", str(len(run.probabilities)))
    summary.add_row("signals", str(len(run.signals)))
    summary.add_row("paper orders", str(len(run.orders)))
    summary.add_row("fills", f"{len(run.fills)} ({sum(f.count for f in run.fills):g} contracts)")
    summary.add_row("position events", str(len(run.positions)))
    summary.add_row("ledger entries", str(len(run.ledger)))
    summary.add_row("final P&L", f"{_money(run.pnl_micros)} on {_money(run.bankroll_micros)} "
                                 f"(balance {_money(run.final_balance_micros)})")
    console.print(summary)
    if final is not None:
        console.print(f"final: {final.entity_b} {final.score_b} at {final.entity_a} {final.score_a}")

    table = Table("time (UTC)", "kind", "legs", "model p", "edge", title="signals")
    for sg in sorted(run.signals, key=lambda s: s.ts):
        legs = ", ".join(f"{lg.action.value} {lg.side.value} {lg.market_id} @ {_money(lg.price_micros)}" for lg in sg.legs)
        table.add_row(_utc(sg.ts), sg.kind.value, legs, "-" if sg.model_p is None else f"{sg.model_p:.3f}", f"{sg.edge:+.3f}")
    console.print(table)

    outcome = {s.order_id: s for s in run.statuses}
    table = Table("time (UTC)", "market", "action", "count", "limit", "state", "filled", "avg", "why",
                  title=f"paper orders of {run.account}")
    for o in sorted(run.orders, key=lambda o: o.ts):
        s = outcome.get(o.order_id)
        table.add_row(_utc(o.ts), o.market_id, f"{o.action.value} {o.side.value}", f"{o.count:g}", _money(o.limit_price_micros),
                      s.state.value if s else "pending", f"{s.filled_count:g}" if s else "-",
                      _money(s.avg_price_micros) if s else "-", o.reason.split(":", 1)[0])
    console.print(table)
    same = (sorted(p.prob_id for p in run.probabilities) == sorted(p.prob_id for p in want.probabilities)
            and sorted(s.signal_id for s in run.signals) == sorted(s.signal_id for s in want.signals)
            and sorted(o.order_id for o in run.orders) == sorted(o.order_id for o in want.orders)
            and run.final_balance_micros == max(want.ledger, key=lambda e: e.version).balance_micros)
    console.print("the in-process backtest engine on the same session: " + (
        "[green]the same probabilities, signals, orders and final bankroll[/green]" if same else
        "[yellow]different results (see the counts above)[/yellow]"))


def _utc(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}"


def demo(
    session: Path = typer.Option(DEFAULT_SESSION, help="the recorded session folder (data/sessions/<name>)"),
    bankroll: float = typer.Option(1000.0, help="USD deposited in the run's fresh paper account"),
    timeout: float = typer.Option(60.0, help="seconds the pipeline may go without a new output before the demo stops waiting"),
) -> None:
    """Replay a recorded real session (default: 2026 NBA Finals G3) through the pipeline, paper only, and show it trade.

    The broker comes up if it is not running; the replay gets a worker of its own (fresh app id
    and paper account), so every run starts from the same empty state and trades the same way.
    """
    from ops import stack_cli
    from ops.backtest.inprocess import BacktestConfig, InProcessEngine, first_ts
    from ops.sessions.lockstep import Progress
    from ops.sessions.replay import ReplayClock, load_session, replay_session
    from streams import event_time_order
    from ops.stack import StackConfig, kafka_bootstrap
    from ops.topics import ensure_topics
    from connectors.publisher import Publisher

    if os.environ.get("ARBEES_MODE", "paper").lower() != "paper":
        console.print("[red]error:[/red] the demo runs in paper mode only; unset ARBEES_MODE")
        raise typer.Exit(1)
    stack_cli.up(broker=True, database=False)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or kafka_bootstrap()
    report = ensure_topics(bootstrap)
    if report.problems:
        console.print(f"[red]error:[/red] topics: {report.problems}")
        raise typer.Exit(1)

    tag = uuid.uuid4().hex[:8]
    config = BacktestConfig(account=f"demo-{tag}", bankroll_micros=int(round(bankroll * 1_000_000)), events=(SESSION_EVENT,))
    inputs = load_session(session)
    want = InProcessEngine(config).run(inputs)
    console.print(f"session {session.name}: {len(inputs)} input records; paper account {config.account}")

    folder = StackConfig.from_env().state_dir / "demo" / tag
    app_id = f"demo-{tag}"
    start = log_ends(bootstrap, OUTPUTS + WORKER_SOURCES)
    start_group_at(bootstrap, app_id, {t: start[t] for t in WORKER_SOURCES})
    progress = Progress(SESSION_EVENT, config.account)
    reader = LogReader(bootstrap, start, keep=progress.keep)
    child = worker(bootstrap, app_id, folder, accounts=config.account, web_port=_free_port(),
                   trading_events=SESSION_EVENT, extra_env={**config.worker_env(), event_time_order.ENV: "1"})
    started = time.monotonic()
    try:
        pub = Publisher(bootstrap, service="arbees-demo")
        pub.publish("ledger", config.account, config.deposit(first_ts(inputs) - 1))
        pub.flush()
        # the whole session onto the topics, then the worker replays it by event time (streams/event_time_order.py)
        replay_session(session, bootstrap, clock=ReplayClock(min_gap_s=0.0), service="arbees-demo")
        child.start()
        console.print(f"worker {app_id} starting (log {child.log})")
        wait_ready(child, 120)
        with Live(_progress_table(progress, want, "replaying", started), console=console, refresh_per_second=4) as live:
            if not await_outputs(reader, progress, want, timeout, alive=child.alive,
                                 tick=lambda: live.update(_progress_table(progress, want, "replaying", started))):
                console.print(f"[yellow]the pipeline stopped short of the engine's outputs for {timeout:.0f}s; "
                              f"see {child.log}[/yellow]")
            reader.poll(2.0)
            live.update(_progress_table(progress, want, "replayed", started))
        _report(collect(reader, config.account, config.bankroll_micros), want)
    finally:
        child.stop()
        reader.close()


def expected_counts(want: Any, event_id: str) -> dict[str, int]:
    """What the in-process engine wrote of `event_id` (shard topics) and of its account (trading topics), per topic."""
    return {"shard.inputs": sum(i.event_id == event_id for i in want.shard_inputs),
            "model.probabilities": sum(p.event_id == event_id for p in want.probabilities),
            "signals": sum(s.event_id == event_id for s in want.signals), "orders": len(want.orders),
            "fills": len(want.fills), "positions": len(want.positions), "ledger": len(want.ledger), "risk.state": len(want.risk)}


def await_outputs(reader: LogReader, progress: Any, want: Any, stall_s: float, alive: Callable[[], bool] = lambda: True,
                  tick: Callable[[], None] = lambda: None) -> bool:
    """Read until the workers wrote as many records per topic as the engine (True), or nothing new came for `stall_s`
    or `alive()` turned false (False)."""
    targets = expected_counts(want, progress.event_id)
    last, moved = progress.counts(), time.monotonic()
    while time.monotonic() - moved < stall_s:
        if reader.read_until(lambda _r: all(progress.count(t) >= n for t, n in targets.items()), 1.0):
            tick()
            return True
        tick()
        if not alive():
            return False
        if (now := progress.counts()) != last:
            last, moved = now, time.monotonic()
    return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
