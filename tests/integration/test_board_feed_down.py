"""The board shows a feed that cannot reach its venue, then one that stopped, and keeps serving.

Real broker, the real Kalshi connector process (this machine and CI have no internet: it beats
"unreachable, retrying") and `arbees board` as a process, both beating every second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from ops.topics import ensure_topics
from schemas.topics import BY_NAME
from tests.integration.test_board_history import Board

REPO = Path(__file__).resolve().parents[2]


def test_a_feed_that_cannot_reach_its_venue_then_stops_shows_as_such(kafka_bootstrap: str, tmp_path: Path) -> None:
    ensure_topics(kafka_bootstrap, tuple(BY_NAME[t] for t in ("health", "markets.catalog", "markets.quotes", "raw.kalshi")))
    name = f"kalshi-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap, "ARBEES_HEARTBEAT_S": "1", "ARBEES_PART": name}
    with (tmp_path / "feed.log").open("wb") as out:
        feed = subprocess.Popen([sys.executable, "-m", "connectors.kalshi", "live", "--series", "KXNBAGAME"], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    board = Board(kafka_bootstrap, "", "none", tmp_path / "board.log")
    try:
        def row(state: dict) -> dict:
            return next((h for h in state.get("health", []) if h["service"] == name), {})

        state = board.state_when(lambda s: row(s).get("shown") == "unreachable, retrying", timeout=120)
        assert row(state)["ok"] is False and row(state)["status"] == "DEGRADED" and row(state)["error"]
        os.killpg(feed.pid, signal.SIGKILL)
        feed.wait(10)
        state = board.state_when(lambda s: row(s).get("shown", "").startswith("silent for "), timeout=60)
        assert row(state)["ok"] is False
        assert state["feed"]["connected"] and not state["feed"]["error"]  # the board itself reads on
    finally:
        if feed.poll() is None:
            os.killpg(feed.pid, signal.SIGKILL)
            feed.wait(10)
        board.stop()
