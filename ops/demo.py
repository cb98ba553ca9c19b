"""`arbees demo`: the whole pipeline on recorded data, and the pieces the end-to-end test drives.

The recorded NFL timeline is played in order: week 13's scoreboard (fetched
2025-12-01 03:56 UTC: the Thanksgiving games final), then the Kalshi simulator
serving the recorded KXNFLGAME listings and scripted books on a replay clock that
starts a minute after that fetch, then week 14's scoreboard (8 games live). The
broker is shared, so a run records the log end offsets of what it reads before it
publishes anything and reads outputs from there on; a worker group of its own
starts at those offsets too. Nothing here talks to a venue: the Kalshi feed runs
against the simulator on 127.0.0.1, and workers run without --live (paper).
The recorded Polymarket payloads are crypto, politics and esports markets, which
no ESPN event matches, so the demo runs no Polymarket feed.
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
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ops.stack import kafka_bootstrap
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
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        c.commit(offsets=[TopicPartition(t, p, o) for t, parts in offsets.items() for p, o in parts.items()],
                 asynchronous=False)
    finally:
        c.close()


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
            msg = self.consumer.poll(0.2)
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


def kalshi_simulator_feed(bootstrap: str, log: Path, *, delta_interval_s: float = 0.2, clock_start_ms: int | None = None,
                          series: str = "KXNFLGAME") -> Child:
    """`python -m connectors.kalshi simulate`: the venue simulator on 127.0.0.1 and the market-data service on it."""
    argv = ["-m", "connectors.kalshi", "--bootstrap", bootstrap, "simulate", "--series", series,
            "--delta-interval-s", str(delta_interval_s)]
    if clock_start_ms is not None:
        argv += ["--clock-start-ms", str(clock_start_ms)]
    return Child(argv, log, env={"KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": ""})


def worker(bootstrap: str, app_id: str, folder: Path, *, accounts: str, web_port: int,
           trading_events: str = "", agents: str = "") -> Child:
    """One Faust worker (paper mode: `streams.agents.worker` without --live) under its own app id."""
    env = {
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


# ------------------------------------------------------------------ the recorded timeline

FIXTURES = REPO / "tests" / "fixtures" / "e2e"
WEEK13 = FIXTURES / "manifest_nfl_week13.json"
WEEK14 = FIXTURES / "manifest_nfl_week14.json"
#: When the week 13 scoreboard was fetched (its manifest); the Kalshi replay clock starts a minute later.
WEEK13_FETCHED_MS = 1_764_561_360_000
KALSHI_CLOCK_START_MS = WEEK13_FETCHED_MS + 60_000


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
    ends = log_ends(bootstrap, [topic])[topic]
    c = _consumer(bootstrap, "arbees-latest")
    codec = default_codec()
    latest: dict[str, Any] = {}
    try:
        todo = {p: end for p, end in ends.items() if end > 0}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            part, off = int(msg.partition() or 0), int(msg.offset() or 0)
            try:
                key = key_of(codec.decode(msg.value()))
            except Exception:  # noqa: BLE001 - an undecodable value is nobody's latest record
                key = None
            if key is not None:
                latest[key] = codec.decode(msg.value())
            if part in todo and off + 1 >= todo[part]:
                del todo[part]
    finally:
        c.close()
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

console = Console()


def _money(micros: int | None) -> str:
    from ops.trading_cli import _money as money

    return money(micros)


def _counts_table(reader: LogReader, phase: str, started: float) -> Table:
    table = Table(title=f"{phase}  ({time.monotonic() - started:.0f}s)", show_header=True)
    table.add_column("topic")
    table.add_column("records since start", justify="right")
    for t, n in reader.counts().items():
        table.add_row(t, str(n))
    return table


def _report(reader: LogReader, account: str, probs: dict[str, Any], links: dict[str, Any]) -> None:
    from schemas.records import EventState, Fill, Order, OrderStatus, Probability, Signal
    from ops import trading_cli

    states: dict[str, EventState] = {}
    for st in reader.of("events.state", EventState):
        states[st.event_id] = st
    links = {**links, **linked_markets(reader)}
    table = Table("venue market", "event", "status", "YES entity", "confidence", "method", title="markets.links")
    for key, lk in sorted(links.items()):
        st = states.get(lk.event_id)
        table.add_row(key, f"{lk.event_id} {st.name if st else ''}", st.status.value if st else "?", lk.yes_entity,
                      f"{lk.confidence:.2f}", lk.method)
    console.print(table)

    fresh = [pr for pr in reader.of("model.probabilities", Probability) if pr.event_id in states]
    for pr in fresh:
        probs[pr.event_id] = pr
    console.print(f"model probabilities: {len(fresh)} emitted during this run; {len(probs)} of the {len(states)} "
                  "replayed events have one on the log (a state priced by an earlier run is not priced again: "
                  "the shard emits a probability only when it moves)")
    table = Table("event", "game", "status", "score", "P(a)", "P(b)", "model", title="model.probabilities (latest per event)")
    linked_events = {lk.event_id for lk in links.values()}
    for eid, pr in sorted(probs.items(), key=lambda kv: (kv[0] not in linked_events, kv[0])):
        st = states.get(eid)
        game = f"{st.entity_a_abbr} v {st.entity_b_abbr}" if st else ""
        score = f"{st.score_a}-{st.score_b} Q{st.period}" if st else ""
        mark = " (linked)" if eid in linked_events else ""
        table.add_row(eid + mark, game, st.status.value if st else "?", score, f"{pr.outcomes.get('a', float('nan')):.3f}",
                      f"{pr.outcomes.get('b', float('nan')):.3f}", f"{pr.model}@{pr.version}")
    console.print(table)

    signals = [s for s in reader.of("signals", Signal) if s.event_id in states]
    table = Table("event", "kind", "legs", "model p", "edge", "EV/contract", "size", title="signals (recorded events)")
    for sg in signals:
        legs = ", ".join(f"{lg.side.value} {lg.market_id} @ {_money(lg.price_micros)}" for lg in sg.legs)
        table.add_row(sg.event_id, sg.kind.value, legs, "-" if sg.model_p is None else f"{sg.model_p:.3f}",
                      f"{sg.edge:+.3f}", _money(sg.ev_micros), f"{sg.size:g}")
    console.print(table)
    if not signals:
        ended = sorted(e for e in linked_events if e in states and states[e].status.value in ("FINAL", "CANCELED"))
        console.print(f"no signal: every linked event is over ({', '.join(ended) or 'none'}), and no live game of the "
                      "recordings has a recorded venue market; the shard never signals on a finished event")

    orders = [o for o in reader.of("orders", Order) if o.account == account]
    outcome = {s.order_id: s for s in reader.of("fills", OrderStatus) if s.account == account}
    fills = [f for f in reader.of("fills", Fill) if f.account == account]
    table = Table("order", "market", "side", "count", "limit", "state", "filled", "avg", title=f"paper orders of {account}")
    for o in orders:
        s = outcome.get(o.order_id)
        table.add_row(o.order_id, o.market_id, o.side.value, f"{o.count:g}", _money(o.limit_price_micros),
                      s.state.value if s else "pending", f"{s.filled_count:g}" if s else "-",
                      _money(s.avg_price_micros) if s else "-")
    console.print(table)
    console.print(f"fills: {len(fills)}, fees {_money(sum(f.fee_micros for f in fills))}")
    trading_cli.positions(account=account, all_=True)
    trading_cli.pnl(account=account)


def _ensure_worker(bootstrap: str) -> None:
    """The `arbees run` worker, started the way `arbees run` starts it when none is running."""
    from ops import worker
    from ops.stack import StackConfig

    st = worker.state(StackConfig.from_env().state_dir)
    if st.running:
        console.print(f"worker    running, pid {st.pid}")
        return
    console.print("no worker is running: starting the stack and the worker as `arbees run` does")
    from ops.cli import run

    run()


def demo(
    seconds: float = typer.Option(30.0, help="how long the Kalshi simulator feed runs"),
    account: str = typer.Option(None, help="paper account to report (default: the first of ARBEES_ACCOUNTS)"),
    bankroll: float = typer.Option(1000.0, help="USD deposited when the account has no ledger yet"),
) -> None:
    """Replay the recorded ESPN NFL scoreboards and the Kalshi simulator through the running pipeline (paper only)."""
    from ops import trading_cli
    from ops.topics import ensure_topics
    from schemas.records import EventState, LedgerEntry, MarketLink
    from streams.config_file import load as load_config

    if os.environ.get("ARBEES_MODE", "paper").lower() != "paper":
        console.print("[red]error:[/red] the demo runs in paper mode only; unset ARBEES_MODE")
        raise typer.Exit(1)
    bootstrap = kafka_bootstrap()
    _ensure_worker(bootstrap)
    report = ensure_topics(bootstrap)
    if report.problems:
        console.print(f"[red]error:[/red] topics: {report.problems}")
        raise typer.Exit(1)
    account = account or load_config().trading.accounts[0]
    if not [e for e in trading_cli.read_topic(bootstrap, "ledger", account) if isinstance(e, LedgerEntry)]:
        trading_cli.deposit(account, bankroll)

    start = log_ends(bootstrap, OUTPUTS)
    reader = LogReader(bootstrap, start)
    from ops.stack import StackConfig

    folder = StackConfig.from_env().state_dir / "demo"
    feed = kalshi_simulator_feed(bootstrap, folder / "kalshi-simulator.log", delta_interval_s=0.5,
                                 clock_start_ms=KALSHI_CLOCK_START_MS)
    started = time.monotonic()
    try:
        with Live(_counts_table(reader, "starting", started), console=console, refresh_per_second=4) as live:
            def show(phase: str) -> Callable[[LogReader], None]:
                return lambda r: live.update(_counts_table(r, phase, started))

            week13 = replay_espn(bootstrap, WEEK13, service="arbees-demo")
            wait_for(reader, lambda r: len(r.records["events.state"]) >= week13.states, 30, show("ESPN week 13 replayed"))
            feed.start()
            wait_for(reader, lambda r: len(r.of("markets.links", MarketLink)) >= 5, seconds / 2,
                     show("Kalshi simulator feed: listings and books"), feed.alive)
            week14 = replay_espn(bootstrap, WEEK14, service="arbees-demo")
            wait_for(reader, lambda r: False, max(0.0, seconds - (time.monotonic() - started)),
                     show(f"ESPN week 14 replayed ({week14.states} states); feed running"), feed.alive)
            feed.stop()
            wait_for(reader, lambda r: False, 5, show("feed stopped; reading the last outputs"))
        if feed.proc is not None and feed.proc.returncode not in (0, None):
            console.print(f"[yellow]the Kalshi feed exited with {feed.proc.returncode}; see {feed.log}[/yellow]")
        replayed = {st.event_id for st in reader.of("events.state", EventState)}
        _report(reader, account, latest_probabilities(bootstrap, replayed), latest_links(bootstrap, replayed))
    finally:
        feed.stop()
        reader.close()
