"""`arbees board`: the web board over HTTP, thin over the pure `BoardState`.

GET /            the page (static/index.html; uPlot served from static/, no CDN)
GET /api/state   the board as JSON
GET /api/stream  the same, pushed as server-sent events whenever it moved (and every 5 s regardless)
POST /api/kill   the kill switch   } the only actions; each needs {"confirm": "KILL" | "RESET"}
POST /api/reset  breaker reset     } and is refused outright with --read-only
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ops.board.feed import Feed
from ops.board.state import BoardState

STATIC = Path(__file__).with_name("static")
#: How far back the busy event topics are read at start (the charts' history).
DEFAULT_WINDOW_H = 24.0


@dataclass
class Actions:
    """What the two buttons do; the CLI's own functions (ops.trading_cli), so a click is `arbees kill` / `arbees risk reset`."""

    accounts: list[str]
    read_only: bool = False

    def kill(self, reason: str) -> str:
        from ops.trading_cli import switch_kill_on

        return f"kill switch on ({switch_kill_on(self.accounts, reason)}) for {', '.join(self.accounts)}"

    def reset(self, reason: str) -> str:
        from ops.trading_cli import reset_risk

        reset_risk(self.accounts, reason)
        return f"breaker and kill switch reset for {', '.join(self.accounts)}"


def snapshot(feed: Feed, kill_file: Path, history: str = "") -> dict[str, Any]:
    with feed.lock:
        view = feed.state.view(int(time.time() * 1000), kill_file.exists(), str(kill_file))
    view["history"] = history
    view["feed"] = {"connected": feed.connected, "error": feed.error, "version": feed.version,
                    "last_read_age_s": round(time.time() - feed.last_read_wall, 1) if feed.last_read_wall else None}
    return view


def create_app(feed: Feed, kill_file: Path, actions: Actions, history: str = "") -> Starlette:
    async def index(_: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def state(_: Request) -> Response:
        return JSONResponse(snapshot(feed, kill_file, history))

    async def stream(request: Request) -> Response:
        async def events():  # noqa: ANN202 - an async generator of SSE frames
            sent, last_push = -1, 0.0
            while not await request.is_disconnected():
                if feed.version != sent or time.monotonic() - last_push > 5:
                    sent, last_push = feed.version, time.monotonic()
                    yield f"data: {json.dumps(snapshot(feed, kill_file, history))}\n\n"
                await asyncio.sleep(0.5)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    def action(word: str, do) -> Any:  # noqa: ANN001 - one of Actions' methods
        async def handle(request: Request) -> Response:
            if actions.read_only:
                return JSONResponse({"error": "this board is read-only (--read-only)"}, status_code=403)
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if body.get("confirm") != word:
                return JSONResponse({"error": f'confirm with {{"confirm": "{word}"}}'}, status_code=400)
            reason = str(body.get("reason") or f"board: operator {word.lower()}")[:200]
            message = await asyncio.to_thread(do, reason)
            return JSONResponse({"ok": True, "message": message})

        return handle

    return Starlette(routes=[
        Route("/", index), Route("/api/state", state), Route("/api/stream", stream),
        Route("/api/kill", action("KILL", actions.kill), methods=["POST"]),
        Route("/api/reset", action("RESET", actions.reset), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])


def load_history(state: BoardState, database_url: str, sink_consumer: str) -> tuple[dict[tuple[str, int], int], str]:
    """Fold what the sink has into `state`; the offsets the topics take over from, and a line saying where it came from.

    No database (or one the sink never wrote) is not an error: the board then reads the topics from their start.
    """
    from ops.board.feed import FROM_START
    from ops.board.history import load

    if not database_url:
        return {}, "topics only (no DATABASE_URL)"
    try:
        history = load(database_url, sink_consumer, FROM_START)
    except Exception as exc:  # noqa: BLE001 - unreachable, not migrated: the topics still have it all
        return {}, f"topics only (database: {type(exc).__name__}: {str(exc).strip()[:200]})"
    for topic, record in history.records:
        state.apply(topic, record)
    return history.next_offsets, f"{history.rows} records from {history.source}, then the topics"


def serve(bootstrap: str, host: str, port: int, window_h: float = DEFAULT_WINDOW_H, read_only: bool = False,
          database_url: str = "", sink_consumer: str = "arbees-sink") -> None:
    """Fold the sink's rows, then the topics in the background, and serve the board until interrupted."""
    import uvicorn

    from connectors.lifecycle import start_heartbeats
    from connectors.publisher import Publisher
    from ops.trading_cli import kill_file
    from streams.config_file import load as load_config

    config = load_config().trading
    state = BoardState(caps=config.risk)
    publisher = Publisher(bootstrap, service="board")  # its heartbeats on `health`, like every part's
    start, history = load_history(state, database_url, sink_consumer)
    feed = Feed(bootstrap, state, int((time.time() - window_h * 3600) * 1000), publisher.meter, start)
    feed.start()
    beater = start_heartbeats(publisher, live=False)
    app = create_app(feed, kill_file(), Actions(list(config.accounts), read_only), history)
    print(f"board     http://{host}:{port}/ (topics from {bootstrap}; {history}; pid {os.getpid()})", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        beater.stop()
        feed.stop()
        publisher.flush(5)
