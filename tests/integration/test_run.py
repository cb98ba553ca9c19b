"""`arbees run` on the real broker and database: offline feeds, one copy only, status, stop leaves nothing.

The run gets a state folder of its own (its lock, logs and status.json) and the
session's broker and database through KAFKA_BOOTSTRAP / DATABASE_URL, and its
own consumer groups (ARBEES_APP_ID), so it disturbs no other test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.kafka.process import pid_alive

REPO = Path(__file__).resolve().parents[2]
FEEDS = ("espn", "kalshi", "polymarket")
OTHERS = ("sink", "discovery", "router", "shard", "trading", "alerts")


def arbees(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_env(kafka_bootstrap: str, database_url: str, state_dir: Path) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap, "DATABASE_URL": database_url,
            "ARBEES_STACK_DIR": str(state_dir), "ARBEES_APP_ID": f"run-{uuid.uuid4().hex[:8]}",
            "ARBEES_HEARTBEAT_S": "1", "ARBEES_SCREEN_EVERY_S": "2"}


class Running:
    """One `arbees run` in the background, its screen in a file."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], state_dir: Path) -> None:
        self.state_dir = state_dir
        self.screen = state_dir / "screen.txt"
        with self.screen.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", "run", *args], cwd=REPO, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def status(self) -> dict:
        try:
            return json.loads((self.state_dir / "run" / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_for(self, what: str, done: Callable[[dict], bool], timeout: float = 150.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"arbees run exited:\n{self.screen.read_text()[-3000:]}"
            snap = self.status()
            if snap and done(snap):
                return snap
            time.sleep(0.5)
        pytest.fail(f"{what} not reached in {timeout:.0f}s; last status {json.dumps(self.status())[:3000]}\n"
                    f"screen tail:\n{self.screen.read_text()[-3000:]}")

    def pids(self) -> list[int]:
        return [p["pid"] for p in self.status().get("parts", []) if p.get("pid")]

    def interrupt(self, timeout: float = 90.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)


def parts(snap: dict) -> dict[str, dict]:
    return {p["name"]: p for p in snap.get("parts", [])}


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_offline_feeds_retry_everything_else_runs_one_copy_and_stack_down_stops_all(
    kafka_bootstrap: str, database_url: str, run_dir: Path
) -> None:
    env = run_env(kafka_bootstrap, database_url, run_dir)
    run = Running((), env, run_dir)
    try:
        def steady(snap: dict) -> bool:
            p = parts(snap)
            return (all(p.get(f, {}).get("health") == "unreachable, retrying" for f in FEEDS)
                    and all(p.get(o, {}).get("health") == "running" for o in OTHERS))

        snap = run.wait_for("every feed unreachable and every other part healthy", steady)
        for name, p in parts(snap).items():
            assert p["state"] == "running" and p["restarts"] == 0, p
        assert any("arbees run --replay" in n for n in snap["notes"])
        pids = run.pids()
        assert len(pids) == len(FEEDS) + len(OTHERS)
        time.sleep(4)  # steady means steady: nobody crashes or restarts a few heartbeats later
        later = parts(run.status())
        assert all(p["restarts"] == 0 and p["state"] == "running" for p in later.values()), later

        screen = run.screen.read_text()
        assert "unreachable, retrying" in screen and "arbees run --replay" in screen

        status = arbees("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        for name in (*FEEDS, *OTHERS):
            assert name in status.stdout
        assert "unreachable, retrying" in status.stdout

        second = arbees("run", env=env)
        assert second.returncode == 1
        assert f"already running here (pid {run.proc.pid})" in second.stdout

        down = arbees("stack", "down", env=env, timeout=150)
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"arbees run stopped (pid {run.proc.pid})" in down.stdout
        assert run.proc.wait(30) == 0
        for pid in pids:
            assert not pid_alive(pid), f"part pid {pid} outlived `arbees stack down`"
        assert arbees("status", env=env).returncode == 1
    finally:
        if run.proc.poll() is None:
            run.interrupt()
