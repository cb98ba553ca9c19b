"""`arbees run`: stack, topics, migrations, then every part supervised under a live screen.

The screen is a rich Live in the terminal that ran it; when stdout is not a
terminal (a log, a test) the same screen is printed every ARBEES_SCREEN_EVERY_S
seconds instead. Every second the snapshot is written to `<stack>/run/status.json`,
which `arbees status` prints from another terminal. Ctrl-C, SIGTERM or
`arbees stack down` stop every part; the lock refuses a second copy.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from ops.run.board import SUPERVISOR, Board, PartRow, Snapshot, health_of, positions_lines
from ops.run.observer import Observer
from ops.run.parts import Part, missing_keys, plan
from ops.run.screen import render
from ops.run.supervisor import PartRun, RunLock, State, Supervisor

RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
OFFLINE_NOTE = ("{n} feed(s) cannot reach their service (no network here?); they keep retrying with backoff. "
                "`arbees run --replay {session}` shows the whole system working on recorded data.")


@dataclass(frozen=True)
class RunOptions:
    only: tuple[str, ...] = ()
    replay: str = ""
    speed: float | None = None
    #: A run of its own: consumer groups `<prefix>-<run_id>-<group>` (new state, reading the topics from their
    #: start) and paper accounts `<account>-<run_id>`; how a session already replayed here trades again.
    run_id: str = ""


def run_env(options: RunOptions, environ: Mapping[str, str] = os.environ) -> tuple[str, dict[str, str]]:
    """The app prefix of this run's groups and what it adds to the parts' environment (for `--run-id`)."""
    prefix = environ.get("ARBEES_APP_ID", "").strip() or "arbees"
    if not options.run_id:
        return prefix, {}
    if not RUN_ID.fullmatch(options.run_id):
        from ops.run.parts import PlanError

        raise PlanError(f"--run-id {options.run_id!r}: letters, digits, '.', '_' and '-' only (it names topics and groups)")
    from streams.config_file import load as load_config

    accounts = load_config(env=dict(environ)).trading.accounts
    prefix = f"{prefix}-{options.run_id}"
    return prefix, {"ARBEES_APP_ID": prefix, "ARBEES_ACCOUNTS": ",".join(f"{a}-{options.run_id}" for a in accounts)}


def run_dir(state_dir: Path) -> Path:
    return state_dir / "run"


def snapshot(sup: Supervisor, board: Board, replay: str, kill_file: Path, now_ms: int,
             fixed_notes: tuple[str, ...] = ()) -> Snapshot:
    rows = []
    now_mono = time.monotonic()
    for run in sup.runs.values():
        health, beat, age = health_of(board, run.part.name, now_ms)
        if beat is not None and age is not None and beat.interval_s > 0 and age > 3 * beat.interval_s:
            health = f"silent for {age:.0f}s"
        rows.append(PartRow(
            name=run.part.name, kind=run.part.kind.value, state=run.state.value, pid=run.pid,
            uptime_s=now_mono - run.started_mono if run.state is State.RUNNING else 0.0, restarts=run.restarts,
            last_error=run.last_error or (beat.error if beat else ""), health=health,
            in_per_s=beat.in_per_s if beat else 0.0, out_per_s=beat.out_per_s if beat else 0.0,
            records_in=beat.records_in if beat else 0, records_out=beat.records_out if beat else 0,
            lag=beat.lag if beat else 0, heartbeat_age_s=age,
            # the port the part serves on (its own pick when the planned one was taken), else the planned one
            metrics_port=int(beat.metrics_port) if beat and beat.metrics_port.isdigit() else run.part.metrics_port,
        ))
    notes = list(fixed_notes)
    unreachable = [r for r in rows if "unreachable" in r.health]
    if unreachable:
        from ops.run.replay import sessions

        notes.append(OFFLINE_NOTE.format(n=len(unreachable), session=(sessions() or ("<session>",))[0]))
    # copies: the snapshot is serialized after the observer's lock is let go, while the observer updates the rows
    # (`arbees run` died of "dictionary changed size during iteration" under the load bench)
    events = [replace(e, market_p=dict(e.market_p))
              for e in sorted(board.events.values(), key=lambda e: (e.model_p is None, not e.market_p, e.event_id))]
    return Snapshot(
        when_ms=now_ms, replay=replay, parts=rows, events=events, signals=list(board.signals),
        orders=list(board.orders), fills=list(board.fills), alerts=list(board.alerts),
        positions=positions_lines(board), balance={a: b / 1e6 for a, b in board.balance.items()},
        realized={a: sum(r.values()) / 1e6 for a, r in board.realized.items()}, breaker=dict(board.breaker),
        kill_switch=kill_file.exists(), counts=dict(board.counts), notes=notes,
    )


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _crash_reporter(bootstrap: str, **producer: Any) -> Callable[[PartRun, str], None]:
    """Tell `health` that a part died: a DOWN heartbeat in its name, which the alerts agent turns into an alert.
    `producer`: client settings over the defaults (a test's quiet client)."""
    from confluent_kafka import KafkaException

    from connectors.publisher import Publisher
    from schemas.enums import HealthStatus
    from schemas.records import Heartbeat

    publisher = Publisher(bootstrap, service="supervisor", **producer)

    def report(run: PartRun, message: str) -> None:
        ts = int(time.time() * 1000)
        hb = Heartbeat(heartbeat_id=f"hb:{run.part.name}:{SUPERVISOR}:{ts}", service=run.part.name,
                       instance=SUPERVISOR, status=HealthStatus.DOWN, ts=ts, lag=0,
                       detail={"state": "crashed", "error": message, "restarts": str(run.restarts)})
        publisher.publish("health", f"{run.part.name}:{SUPERVISOR}", hb)
        try:
            publisher.flush(1.0)
        except KafkaException as exc:
            # the broker is down (a restart, an outage): the heartbeat stays queued in the producer and goes out
            # when it answers; the supervisor must keep restarting parts meanwhile, not die of it (it once did)
            print(f"supervisor: {run.part.name}'s DOWN heartbeat is queued, not yet delivered: {exc}", file=sys.stderr)

    return report


def prepare(console: Console) -> tuple[str, str]:
    """Stack up (what KAFKA_BOOTSTRAP / DATABASE_URL do not name elsewhere), topics, migrations.

    Returns (bootstrap, database url).
    """
    from ops import db, stack
    from ops.stack import StackConfig
    from ops.topics import ensure_topics

    given_broker = os.environ.get("KAFKA_BOOTSTRAP", "").strip()
    given_db = os.environ.get("DATABASE_URL", "").strip()
    config = StackConfig.from_env()
    if not (given_broker and given_db):
        stack.up(config, with_broker=not given_broker, with_database=not given_db)
        stack.claim(config)
    bootstrap, database_url = stack.kafka_bootstrap(), stack.database_url()
    console.print(f"stack     kafka {bootstrap}, postgres {database_url}")
    report = ensure_topics(bootstrap)
    if report.problems:
        raise stack.StackError("topics are not as the registry says: " + "; ".join(report.problems))
    console.print(f"topics    {len(report.created)} created, {len(report.unchanged)} unchanged")
    db.migrate(database_url, "head")
    console.print("database  migrated to head")
    return bootstrap, database_url


def run(options: RunOptions, console: Console) -> int:
    from ops.run.replay import replay_part
    from ops.stack import StackConfig

    config = StackConfig.from_env()
    folder = run_dir(config.state_dir)
    lock = RunLock(folder)
    lock.acquire()  # AlreadyRunning propagates: the caller prints it
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        prefix, run_vars = run_env(options)
        replay: Part | None = replay_part(options.replay, options.speed, prefix) if options.replay else None
        parts = plan(options.only, replay, app_prefix=prefix)
        bootstrap, database_url = prepare(console)
        if options.replay and any(p.name == "shard" for p in parts):
            from ops.run.replay import session_dir
            from ops.run.replayed import refuse_if_replayed

            refuse_if_replayed(bootstrap, options.replay, session_dir(options.replay), prefix, config.state_dir)
        kill_file = config.state_dir / "KILL"
        env = {**os.environ, **run_vars, "KAFKA_BOOTSTRAP": bootstrap, "DATABASE_URL": database_url,
               "ARBEES_MODE": "paper", "ARBEES_KILL_FILE": str(kill_file), "PYTHONUNBUFFERED": "1",
               "APP_DATADIR": str(folder / "faust-data")}
        observer = Observer(bootstrap)
        observer.start()
        sup = Supervisor(parts, folder, env, on_crash=_crash_reporter(bootstrap))
        if not options.replay and not options.only:
            sup.notes = tuple(f"{feed} not started: set {var} to run it" for feed, var in missing_keys(os.environ).items())
        sup.start_all()
        console.print(f"started   {len(parts)} parts: {', '.join(p.name for p in parts)}; logs in {folder / 'logs'}")
        try:
            _watch(sup, observer, options.replay, kill_file, folder, console, stop)
        finally:
            console.print("stopping  every part ...")
            sup.stop_all()
            observer.stop()
            _write_atomic(folder / "status.json", _snap(sup, observer, options.replay, kill_file).to_json())
            console.print("stopped   no part is running")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.release()
    return 0


def _snap(sup: Supervisor, observer: Observer, replay: str, kill_file: Path) -> Snapshot:
    with observer.lock:
        return snapshot(sup, observer.board, replay, kill_file, int(time.time() * 1000), sup.notes)


def _watch(sup: Supervisor, observer: Observer, replay: str, kill_file: Path, folder: Path, console: Console,
           stop: threading.Event) -> None:
    every = float(os.environ.get("ARBEES_SCREEN_EVERY_S", "") or 5.0)
    live = Live(console=console, refresh_per_second=2, transient=False) if console.is_terminal else None
    next_print = 0.0
    if live is not None:
        live.start()
    try:
        while not stop.is_set():
            for line in sup.poll():
                console.print(f"[yellow]supervisor[/] {line}")
            try:
                snap = _snap(sup, observer, replay, kill_file)
                _write_atomic(folder / "status.json", snap.to_json())
            except Exception as exc:  # noqa: BLE001 - the screen failing must not stop the parts it shows
                console.print(f"[red]status screen[/] not updated: {type(exc).__name__}: {exc}")
            else:
                if live is not None:
                    live.update(render(snap))
                elif time.monotonic() >= next_print:
                    console.print(render(snap))
                    next_print = time.monotonic() + every
            stop.wait(0.5)
    finally:
        if live is not None:
            live.stop()


def status_once(state_dir: Path, console: Console) -> int:
    """`arbees status`: the running screen, printed once; 1 when nothing runs."""
    from ops.run.supervisor import holder_pid

    folder = run_dir(state_dir)
    pid = holder_pid(folder)
    path = folder / "status.json"
    if pid is None:
        console.print("arbees run is not running here; start it with `make run` (or `arbees run --replay <session>`)")
        if path.exists():
            console.print("[dim]its last screen before it stopped:[/]")
            console.print(render(Snapshot.from_json(path.read_text())))
        return 1
    console.print(f"arbees run, pid {pid}")
    if not path.exists():  # the stack, topics and migrations come before the first screen
        console.print("starting: the stack, topics and migrations come first; no status screen yet, ask again shortly")
        return 0
    console.print(render(Snapshot.from_json(path.read_text())))
    return 0


def stop_running(state_dir: Path, timeout_s: float = 90.0) -> int | None:
    """Stop a running `arbees run` of this stack (SIGTERM; it stops its parts); the pid it had, or None."""
    from ops.kafka.process import pid_alive, terminate
    from ops.run.supervisor import holder_pid, part_pids

    folder = run_dir(state_dir)
    pid = holder_pid(folder)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while holder_pid(folder) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if holder_pid(folder) is not None and pid_alive(pid):
            terminate(pid, 5.0, group=False)
    for leftover in part_pids(folder):  # a supervisor killed hard leaves its parts: sweep them
        terminate(leftover, 10.0)
    return pid

