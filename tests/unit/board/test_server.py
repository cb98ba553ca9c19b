"""The web layer: the page and its state, and the only two actions behind their confirmation."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from ops.board.feed import Feed
from ops.board.server import Actions, create_app
from ops.board.state import BoardState
from tests.unit.sink.samples import every_type


class Recorded(Actions):
    """The two actions, recorded instead of published (the real ones write risk.state: integration)."""

    def __init__(self, read_only: bool = False) -> None:
        super().__init__(["paper"], read_only)
        self.done: list[tuple[str, str]] = []

    def kill(self, reason: str) -> str:
        self.done.append(("kill", reason))
        return "killed"

    def reset(self, reason: str) -> str:
        self.done.append(("reset", reason))
        return "reset"


def client(tmp_path: Path, actions: Actions) -> TestClient:
    state = BoardState()
    for rec in every_type("srv"):
        state.apply("x", rec)
    feed = Feed("127.0.0.1:1", state, 0)  # never started: the page serves what the state holds
    return TestClient(create_app(feed, tmp_path / "KILL", actions))


def test_page_assets_and_state(tmp_path: Path) -> None:
    c = client(tmp_path, Recorded())
    page = c.get("/")
    assert page.status_code == 200 and "/static/uplot/uPlot.iife.min.js" in page.text and "kill-btn" in page.text
    assert c.get("/static/uplot/uPlot.iife.min.js").status_code == 200 and c.get("/static/board.js").status_code == 200
    state = c.get("/api/state").json()
    assert state["accounts"]["paper-srv"]["bankroll"] == 999.93 and state["kill_switch"] is False
    (tmp_path / "KILL").write_text("x")
    assert c.get("/api/state").json()["kill_switch"] is True


def test_actions_need_their_word_and_are_refused_read_only(tmp_path: Path) -> None:
    actions = Recorded()
    c = client(tmp_path, actions)
    assert c.post("/api/kill", json={}).status_code == 400
    assert c.post("/api/kill", json={"confirm": "RESET"}).status_code == 400
    assert c.get("/api/kill").status_code == 405
    assert c.post("/api/kill", json={"confirm": "KILL", "reason": "runaway"}).json() == {"ok": True, "message": "killed"}
    assert c.post("/api/reset", json={"confirm": "RESET"}).json()["ok"]
    assert actions.done == [("kill", "runaway"), ("reset", "board: operator reset")]
    ro = Recorded(read_only=True)
    assert client(tmp_path, ro).post("/api/kill", json={"confirm": "KILL"}).status_code == 403 and not ro.done
