"""The background Faust worker of `arbees run`: start once, find again, stop for good."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ops.kafka.process import adopt, cmdline, pid_alive, read_pid, tail, terminate

WORKER_ARGV = ("-m", "faust", "-A", "streams.app", "worker", "-l", "info")


class WorkerError(RuntimeError):
    """The worker could not be started or died while starting; the message says what to do."""


@dataclass(frozen=True)
class WorkerState:
    pid: int | None
    running: bool
    ready: bool
    log: Path


def _paths(state_dir: Path) -> tuple[Path, Path]:
    folder = state_dir / "worker"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "worker.pid", folder / "worker.log"


def _is_worker(pid: int) -> bool:
    argv = cmdline(pid)
    return "faust" in argv and "streams.app" in argv


def state(state_dir: Path) -> WorkerState:
    pid_file, log = _paths(state_dir)
    pid = read_pid(pid_file)
    running = pid is not None and pid_alive(pid) and _is_worker(pid)
    ready = running and any("Worker ready" in line for line in tail(log, 400))
    return WorkerState(pid if running else None, running, ready, log)


def start(state_dir: Path, bootstrap: str, database_url: str, timeout_s: float = 90.0) -> tuple[WorkerState, bool]:
    """Start the worker unless ours is already running; returns (state, started)."""
    current = state(state_dir)
    if current.running:
        return current, False
    pid_file, log = _paths(state_dir)
    mark = log.stat().st_size if log.exists() else 0
    env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "DATABASE_URL": database_url}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, *WORKER_ARGV],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    adopt(proc)
    pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(proc.pid):
            last = "\n".join(tail(log, 15))
            raise WorkerError(f"the Faust worker exited while starting; see {log}\n{last}")
        if any("Worker ready" in line for line in tail(log, 200, start=mark)):
            return state(state_dir), True
        time.sleep(0.5)
    raise WorkerError(f"the Faust worker did not report ready within {timeout_s:.0f}s; see {log}")


def stop(state_dir: Path, grace_s: float = 10.0) -> bool:
    """Stop our worker (SIGTERM, then SIGKILL); returns True when one was running."""
    pid_file, _ = _paths(state_dir)
    current = state(state_dir)
    if current.pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    terminate(current.pid, grace_s)
    pid_file.unlink(missing_ok=True)
    return True
