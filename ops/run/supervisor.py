"""One process per part, restarted with backoff when it dies, all stopped together.

Every part runs in its own session (process group), so stopping a part stops
whatever it started too. A part that exits on its own, or is killed, is started
again after an exponential backoff with jitter (connectors.lifecycle.Backoff);
one that stayed up `healthy_after_s` starts the backoff over. The callback
`on_crash` tells the rest of the system (a DOWN heartbeat on `health`, which the
alerts agent turns into an alert). A finished finite part (a replay) is not restarted.
"""

from __future__ import annotations

import fcntl
import os
import random
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

from connectors.lifecycle import Backoff
from ops.kafka.process import pid_alive, tail, terminate
from ops.run.parts import Part, log_path

REPO = Path(__file__).resolve().parents[2]


class State(str, Enum):
    RUNNING = "running"
    BACKOFF = "restarting"  # died; waiting out the backoff
    DONE = "done"  # a finite part that finished
    STOPPED = "stopped"


@dataclass
class PartRun:
    """What the supervisor knows of one part."""

    part: Part
    state: State = State.STOPPED
    proc: subprocess.Popen[bytes] | None = None
    started_wall: float = 0.0
    started_mono: float = 0.0
    restarts: int = 0
    attempt: int = 0
    restart_at: float = 0.0
    last_error: str = ""
    exit_codes: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.state is State.RUNNING else None


class AlreadyRunning(RuntimeError):
    """Another `arbees run` holds the lock of this stack folder."""


class RunLock:
    """An exclusive lock on `<run_dir>/run.lock`, with the holder's pid in `run.pid`.

    The kernel drops the lock when the holder dies, however it dies: a stale pid
    file never blocks a new run.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._handle: IO[str] | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "run.pid"

    def acquire(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.run_dir / "run.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunning(
                f"arbees run is already running here (pid {holder_pid(self.run_dir) or '?'}); "
                "watch it with `arbees status`, stop it with Ctrl-C there or `arbees stack down`"
            ) from None
        self._handle = handle
        self.pid_file.write_text(f"{os.getpid()}\n")

    def release(self) -> None:
        if self._handle is not None:
            self.pid_file.unlink(missing_ok=True)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def holder_pid(run_dir: Path) -> int | None:
    """The pid of the running `arbees run` of this folder, or None (checked against the lock)."""
    lock = run_dir / "run.lock"
    if not lock.exists():
        return None
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int((run_dir / "run.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return None
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


CrashHook = Callable[[PartRun, str], None]


class Supervisor:
    def __init__(
        self,
        parts: tuple[Part, ...],
        run_dir: Path,
        env: Mapping[str, str],
        *,
        on_crash: CrashHook | None = None,
        backoff: Backoff = Backoff(base_s=1.0, cap_s=30.0),
        healthy_after_s: float = 60.0,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runs = {p.name: PartRun(p) for p in parts}
        self.notes: tuple[str, ...] = ()  # what the screen should always say about this run (e.g. a feed left out)
        self.run_dir = run_dir
        self.env = dict(env)
        self.on_crash = on_crash
        self.backoff = backoff
        self.healthy_after_s = healthy_after_s
        self._rng = rng or random.Random()
        self._now = monotonic

    def start_all(self) -> None:
        for run in self.runs.values():
            self._spawn(run)

    def _spawn(self, run: PartRun) -> None:
        log = log_path(self.run_dir, run.part)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(f"\n--- start {time.strftime('%Y-%m-%d %H:%M:%S')} restarts={run.restarts}\n".encode())
            out.flush()
            run.proc = subprocess.Popen(
                list(run.part.argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**self.env, **run.part.env}, cwd=REPO, start_new_session=True,
            )
        run.state = State.RUNNING
        run.started_wall = time.time()
        run.started_mono = self._now()

    def poll(self) -> list[str]:
        """Notice exits, schedule and perform restarts; returns one line per thing that happened."""
        events: list[str] = []
        now = self._now()
        for run in self.runs.values():
            if run.state is State.RUNNING and run.proc is not None and run.proc.poll() is not None:
                code = run.proc.returncode
                run.exit_codes.append(code)
                if run.part.finite and code == 0:
                    run.state = State.DONE
                    events.append(f"{run.part.name} finished")
                    continue
                how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                cause = "" if code < 0 else _cause(log_path(self.run_dir, run.part))
                run.attempt = 1 if now - run.started_mono >= self.healthy_after_s else run.attempt + 1
                delay = self.backoff.delay(run.attempt, self._rng)
                run.last_error = f"{how}: {cause.strip()[:200]}" if cause else how
                run.state = State.BACKOFF
                run.restart_at = now + delay
                message = f"{run.part.name} {how}; restarting in {delay:.1f}s (restart {run.restarts + 1})"
                events.append(message)
                if self.on_crash is not None:
                    self.on_crash(run, message)
            elif run.state is State.BACKOFF and now >= run.restart_at:
                run.restarts += 1
                self._spawn(run)
                events.append(f"{run.part.name} restarted (pid {run.pid})")
        return events

    def stop_all(self, grace_s: float = 20.0) -> None:
        """SIGTERM every part's process group at once, then SIGKILL what outlives `grace_s`."""
        live = [r for r in self.runs.values() if r.proc is not None and r.proc.poll() is None]
        for run in live:
            assert run.proc is not None
            try:
                os.killpg(run.proc.pid, 15)
            except ProcessLookupError:
                pass
        deadline = self._now() + grace_s
        for run in live:
            assert run.proc is not None
            try:
                run.proc.wait(timeout=max(0.1, deadline - self._now()))
            except subprocess.TimeoutExpired:
                terminate(run.proc.pid, 0.0)
                run.proc.wait(timeout=10)
            _reap_group(run.proc.pid)
        for run in self.runs.values():
            run.state = State.DONE if run.state is State.DONE else State.STOPPED


_FAILURE = re.compile(r"Error|Exception|FATAL|Traceback|error:")


def _cause(log: Path) -> str:
    """The last line of the part's log that reads like its failure, or nothing."""
    lines = [x for x in tail(log, 60) if x.strip()]
    return next((x for x in reversed(lines) if _FAILURE.search(x)), "")


def _reap_group(pgid: int) -> None:
    """Kill what is left of a part's process group (a grandchild that ignored SIGTERM)."""
    try:
        os.killpg(pgid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def part_pids(run_dir: Path) -> list[int]:
    """Pids recorded by the last status snapshot, for `arbees stack down`'s sweep."""
    import json

    try:
        data = json.loads((run_dir / "status.json").read_text())
    except (OSError, ValueError):
        return []
    return [int(p["pid"]) for p in data.get("parts", []) if p.get("pid") and pid_alive(int(p["pid"]))]
