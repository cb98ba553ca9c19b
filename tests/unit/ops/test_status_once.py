"""`arbees status` from another terminal while `arbees run` is still bringing the stack up."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rich.console import Console

from ops.run.board import Snapshot
from ops.run.main import run_dir, snapshot, status_once


def test_status_while_the_run_starts_says_so_instead_of_a_traceback(tmp_path: Path) -> None:
    folder = run_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "run.pid").write_text(f"{os.getpid()}\n")
    with (folder / "run.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running `arbees run` holds
        console = Console(record=True, width=200)
        assert status_once(tmp_path, console) == 0  # was: FileNotFoundError on run/status.json
    text = console.export_text()
    assert f"arbees run, pid {os.getpid()}" in text and "no status screen yet" in text


def test_the_snapshot_shares_nothing_the_observer_goes_on_updating(tmp_path: Path) -> None:
    """The snapshot is serialized outside the observer's lock; its rows must be its own (a shared `market_p` dict
    updated meanwhile killed `arbees run` under load: "dictionary changed size during iteration")."""
    from ops.run.board import Board, EventRow
    from ops.run.parts import Kind, Part
    from ops.run.supervisor import Supervisor

    board = Board()
    board.events["e1"] = EventRow("e1", market_p={"KALSHI": 0.61})
    sup = Supervisor((Part("shard", Kind.AGENTS, ("true",)),), tmp_path, {})
    snap = snapshot(sup, board, "", tmp_path / "kill", 0)
    board.events["e1"].market_p["POLYMARKET"] = 0.6  # the observer, after the lock is let go
    assert snap.events[0].market_p == {"KALSHI": 0.61}
    assert Snapshot.from_json(snap.to_json()).events[0].market_p == {"KALSHI": 0.61}
