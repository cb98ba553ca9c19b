"""The supervisor on small made-up parts (python one-liners): restart with backoff, finish, stop, lock.

The parts here are invented commands, not the system's; the real parts run
under the supervisor in tests/integration/test_run.py.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from connectors.lifecycle import Backoff
from ops.kafka.process import pid_alive
from ops.run.parts import Kind, Part
from ops.run.supervisor import AlreadyRunning, PartRun, RunLock, State, Supervisor, holder_pid


def _part(name: str, code: str, finite: bool = False) -> Part:
    return Part(name=name, kind=Kind.FEED, argv=(sys.executable, "-c", code), finite=finite)


def _until(sup: Supervisor, done, timeout: float = 20.0) -> list[str]:  # noqa: ANN001
    events: list[str] = []
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        events += sup.poll()
        time.sleep(0.02)
    assert done(), events
    return events


def test_a_crashed_part_is_restarted_after_backoff_and_reported(tmp_path: Path) -> None:
    crashes: list[str] = []
    sup = Supervisor((_part("flaky", "import sys; print('RuntimeError: bad state', file=sys.stderr); sys.exit(3)"),), tmp_path,
                     dict(os.environ), on_crash=lambda run, msg: crashes.append(msg),
                     backoff=Backoff(base_s=0.2, cap_s=0.4))
    sup.start_all()
    run = sup.runs["flaky"]
    events = _until(sup, lambda: run.restarts >= 2)
    assert run.exit_codes[:2] == [3, 3]
    assert any("flaky exited with code 3; restarting in" in e for e in events)
    assert run.last_error == "exited with code 3: RuntimeError: bad state"
    assert len(crashes) >= 2 and crashes[0].startswith("flaky exited with code 3")
    sup.stop_all()


def test_backoff_grows_while_a_part_keeps_dying(tmp_path: Path) -> None:
    sup = Supervisor((_part("dies", "raise SystemExit(1)"),), tmp_path, dict(os.environ),
                     backoff=Backoff(base_s=0.1, cap_s=10.0), healthy_after_s=60.0)
    sup.start_all()
    run = sup.runs["dies"]
    delays = []
    while len(delays) < 3:
        for e in _until(sup, lambda: run.state is State.BACKOFF):
            delays.append(float(e.split("restarting in ")[1].split("s")[0]))
        _until(sup, lambda: run.state is State.RUNNING)
    assert run.attempt >= 3
    # equal jitter: attempt n waits between half and all of base * 2^(n-1)
    for n, d in enumerate(delays[:3], start=1):
        assert 0.1 * 2 ** (n - 1) / 2 - 0.051 <= d <= 0.1 * 2 ** (n - 1) + 0.051
    sup.stop_all()


def test_a_finished_replay_is_done_not_restarted(tmp_path: Path) -> None:
    sup = Supervisor((_part("replay", "print('played')", finite=True),), tmp_path, dict(os.environ))
    sup.start_all()
    run = sup.runs["replay"]
    _until(sup, lambda: run.state is State.DONE)
    time.sleep(0.3)
    sup.poll()
    assert run.state is State.DONE and run.restarts == 0


def test_stop_all_leaves_no_process_not_even_a_grandchild_ignoring_sigterm(tmp_path: Path) -> None:
    code = ("import signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "child = subprocess.Popen([sys.executable, '-c', "
            "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(600)\n")
    sup = Supervisor((_part("stubborn", code),), tmp_path, dict(os.environ))
    sup.start_all()
    run: PartRun = sup.runs["stubborn"]
    log = tmp_path / "logs" / "stubborn.log"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not log.read_text().strip().splitlines()[-1].isdigit():
        time.sleep(0.05)
    grandchild = int(log.read_text().strip().splitlines()[-1])
    parent = run.pid
    assert parent is not None and pid_alive(grandchild)
    began = time.monotonic()
    sup.stop_all(grace_s=1.0)
    assert time.monotonic() - began < 15
    time.sleep(0.2)
    assert not pid_alive(parent)
    assert not pid_alive(grandchild)
    assert run.state is State.STOPPED


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    first = RunLock(tmp_path)
    first.acquire()
    try:
        assert holder_pid(tmp_path) == os.getpid()
        with pytest.raises(AlreadyRunning, match=rf"already running here \(pid {os.getpid()}\)"):
            RunLock(tmp_path).acquire()
    finally:
        first.release()
    assert holder_pid(tmp_path) is None
    again = RunLock(tmp_path)
    again.acquire()
    again.release()


def test_a_stale_pid_file_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "run.pid").write_text("999999\n")
    (tmp_path / "run.lock").touch()
    assert holder_pid(tmp_path) is None
    lock = RunLock(tmp_path)
    lock.acquire()
    lock.release()
