"""`arbees run --replay` twice on one stack: the second is refused, saying why and how; `--run-id` replays it again.

The recorded session is played once (compressed, the parts that make probabilities: discovery,
router, shard). Played again under the same groups it would change nothing: every record comes
back with its id and event time, and the shard's state already holds the game's end, so it made
no probability at all (0 probabilities, 0 signals, 0 orders the second time, as a user saw). The
second `arbees run --replay` now stops before starting any part, with the reason and the two
ways out; the third, with `--run-id`, runs under groups of its own and its shard makes
probabilities again.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.test_run import Running, parts, run_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SESSION = "nba-2026-finals-g3"
ONLY = ("--only", "replay,discovery,router,shard")


def played_and_priced(snap: dict) -> bool:
    p = parts(snap)
    return (p.get("replay", {}).get("state") == "done" and p["shard"]["records_out"] > 0 and p["shard"]["lag"] == 0
            and p["router"]["lag"] == 0)


def test_a_second_replay_on_the_same_stack_is_refused_and_a_run_id_replays_it(
        kafka_bootstrap: str, database_url: str, tmp_path: Path) -> None:
    env = {**run_env(kafka_bootstrap, database_url, tmp_path), "ARBEES_REPLAY_SETTLE_S": "0"}
    first = Running(("--replay", SESSION, "--speed", "2000", *ONLY), env, tmp_path)
    try:
        first.wait_for("the session played and priced", played_and_priced, timeout=420)
    finally:
        assert first.interrupt() == 0

    second = Running(("--replay", SESSION, *ONLY), env, tmp_path)
    try:
        code = second.proc.wait(240)
    except subprocess.TimeoutExpired:
        second.interrupt()  # it started the parts: stop them before failing
        pytest.fail(f"the second replay was not refused:\n{second.screen.read_text()[-3000:]}")
    said = second.screen.read_text()
    assert code == 1, said
    assert f"session {SESSION} was already replayed on this stack" in said, said
    assert "no probabilities" in said and "--run-id" in said and "arbees stack down" in said, said
    assert "started " not in said, said  # refused before any part started

    (tmp_path / "run" / "status.json").unlink()  # the first run's last screen: not this one's
    again = Running(("--replay", SESSION, "--speed", "2000", "--run-id", "again", *ONLY), env, tmp_path)
    try:
        snap = again.wait_for("the session played and priced again, as a run of its own", played_and_priced, timeout=420)
    finally:
        assert again.interrupt() == 0
    assert parts(snap)["shard"]["records_out"] > 0
