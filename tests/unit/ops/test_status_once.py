"""`arbees status` from another terminal while `arbees run` is still bringing the stack up."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rich.console import Console

from ops.run.main import run_dir, status_once


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
