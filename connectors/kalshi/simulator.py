"""A Kalshi venue simulator on 127.0.0.1: REST + websocket over real sockets.

It serves the recorded payloads of a fixtures folder (tests/fixtures/kalshi or
../shared/fixtures/kalshi) and plays a scripted book (`ws_book_script.ndjson`:
snapshots, then deltas) over the websocket, keeping the *true* book server-side.
With `gap_at=k` the k-th delta is applied to the true book but never sent, so the
client sees a sequence gap; when it resubscribes it gets a snapshot of the true
book, exactly as Kalshi behaves. Signed endpoints and the websocket handshake
verify the KALSHI-ACCESS-* headers with the public key it was given.

Run it for a demo: `python -m connectors.kalshi.simulator FIXTURES_DIR`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from connectors.kalshi import fixedpoint as fp
from connectors.kalshi.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify

API = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"


def default_fixtures_dir() -> Path:
    """tests/fixtures/kalshi of this repository (a copy of ../shared/fixtures/kalshi plus the script)."""
    return Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "kalshi"


def _read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class ScriptedDelta:
    ticker: str
    side: str
    price_micros: int
    delta_centi: int
    ts: str | None


@dataclass
class SimBook:
    yes: dict[int, int] = field(default_factory=dict)
    no: dict[int, int] = field(default_factory=dict)

    def apply(self, d: ScriptedDelta) -> None:
        levels = self.yes if d.side == "yes" else self.no
        size = levels.get(d.price_micros, 0) + d.delta_centi
        if size < 0:
            raise ValueError(f"script drives {d.ticker} {d.side} {d.price_micros} negative")
        if size == 0:
            levels.pop(d.price_micros, None)
        else:
            levels[d.price_micros] = size

    def wire(self, side: str) -> list[list[str]]:
        levels = self.yes if side == "yes" else self.no
        return [[fp.micros_to_dollars(p), fp.centi_to_count_fp(c)] for p, c in sorted(levels.items())]


def load_script(path: Path) -> tuple[dict[str, SimBook], list[ScriptedDelta]]:
    """Initial books and the delta sequence of a recorded/scripted frame stream."""
    books: dict[str, SimBook] = {}
    deltas: list[ScriptedDelta] = []
    for frame in _read_ndjson(path):
        msg = frame["msg"]
        if frame["type"] == "orderbook_snapshot":
            book = SimBook()
            for side in ("yes", "no"):
                for p, c in msg.get(f"{side}_dollars_fp", []):
                    getattr(book, side)[fp.price_to_micros(p)] = fp.count_to_centi(c)
            books[msg["market_ticker"]] = book
        elif frame["type"] == "orderbook_delta":
            deltas.append(
                ScriptedDelta(
                    msg["market_ticker"], msg["side"], fp.price_to_micros(msg["price_dollars"]),
                    fp.count_to_centi(msg["delta_fp"], signed=True), msg.get("ts"),
                )
            )
    return books, deltas


@dataclass
class _Sub:
    sid: int
    channel: str
    tickers: tuple[str, ...]
    seq: int = 0
    live: bool = True


class KalshiSimulator:
    """Start with `await sim.start()`; `rest_url` / `ws_url` are then set. `await sim.stop()` ends it."""

    def __init__(
        self,
        fixtures_dir: Path | None = None,
        *,
        public_key_pem: bytes | None = None,
        gap_at: int | None = None,
        drop_at: int | None = None,
        delta_interval_s: float = 0.005,
        extra_frames: list[str] | None = None,
        unreadable_create_replies: int = 0,
        fill_on_create: bool = False,
        list_lag: int = 0,
        throttled: int = 0,
        retry_after_s: float = 0.3,
    ) -> None:
        self.dir = fixtures_dir or default_fixtures_dir()
        self.public_key_pem = public_key_pem
        self.gap_at = gap_at
        #: the drop_at-th delta is applied but its connection is closed instead (a dropped websocket)
        self.drop_at = drop_at
        self.drops_injected = 0
        self.delta_interval_s = delta_interval_s
        self.extra_frames = list(extra_frames or [])
        #: the next n create answers are cut short after the order is booked (a reply lost in transit)
        self.unreadable_create_replies = unreadable_create_replies
        #: orders execute in full on arrival (the recorded demo fill list then stands for their fills)
        self.fill_on_create = fill_on_create
        #: the next n order-list queries do not show the orders yet (the venue's list lagging its creates)
        self.list_lag = list_lag
        #: the next n REST requests get 429 with `Retry-After: retry_after_s` (a rate-limit storm)
        self.throttled = throttled
        self.retry_after_s = retry_after_s
        #: (monotonic arrival time, path, status answered) of every REST request, to measure bursts
        self.requests: list[tuple[float, str, int]] = []
        self.books, self.script = load_script(self.dir / "ws_book_script.ndjson")
        self.markets_pages = [
            json.loads((self.dir / name).read_text())
            for name in ("markets_list_demo_KXNFLGAME.json", "markets_list_prod_KXNFLGAME_limit1.json")
        ]
        self.series = json.loads((self.dir / "series_KXNFLGAME_constructed.json").read_text())
        self.orders: dict[str, dict[str, Any]] = {}
        self.auth_failures = 0
        self.gaps_injected = 0
        self.snapshots_sent = 0
        self.deltas_played = 0
        self.script_done = asyncio.Event()
        self._sids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._book_subs: list[tuple[web.WebSocketResponse, _Sub]] = []
        self._sub_changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._player: asyncio.Task[None] | None = None
        self.rest_url = ""
        self.ws_url = ""

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(middlewares=[self._rate_limit])
        app.router.add_get(f"{API}/series/{{series}}", self._series)
        app.router.add_get(f"{API}/markets", self._markets)
        app.router.add_get(f"{API}/markets/{{ticker}}/orderbook", self._orderbook)
        app.router.add_post(f"{API}/portfolio/orders", self._create_order)
        app.router.add_get(f"{API}/portfolio/orders", self._list_orders)
        app.router.add_delete(f"{API}/portfolio/orders/{{order_id}}", self._cancel_order)
        app.router.add_get(f"{API}/portfolio/fills", self._fixture("portfolio_fills_demo.json"))
        app.router.add_get(f"{API}/portfolio/positions", self._fixture("portfolio_positions_demo.json"))
        app.router.add_get(f"{API}/portfolio/balance", self._fixture("portfolio_balance_constructed.json"))
        app.router.add_get(WS_PATH, self._ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.rest_url = f"http://127.0.0.1:{port}{API}"
        self.ws_url = f"ws://127.0.0.1:{port}{WS_PATH}"
        self._player = asyncio.create_task(self._play())

    async def stop(self) -> None:
        if self._player is not None:
            self._player.cancel()
            try:
                await self._player
            except asyncio.CancelledError:
                pass
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> KalshiSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ rate limit

    @web.middleware
    async def _rate_limit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == WS_PATH:
            return await handler(request)
        arrived = time.monotonic()
        if self.throttled > 0:
            self.throttled -= 1
            resp: web.StreamResponse = web.json_response(
                {"error": {"code": "too_many_requests", "message": "rate limit exceeded"}}, status=429,
                headers={"Retry-After": f"{self.retry_after_s:g}"})
        else:
            resp = await handler(request)
        self.requests.append((arrived, request.path, resp.status))
        return resp

    # ------------------------------------------------------------ auth

    def _authorized(self, request: web.Request) -> bool:
        if self.public_key_pem is None:
            return True
        h = request.headers
        if not all(k in h for k in (HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP)) or not h[HEADER_TIMESTAMP].isdigit():
            self.auth_failures += 1
            return False
        ok = verify(self.public_key_pem, h[HEADER_SIGNATURE], int(h[HEADER_TIMESTAMP]), request.method, request.path)
        if not ok:
            self.auth_failures += 1
        return ok

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.json_response({"error": {"code": "authentication_error", "message": "bad signature"}}, status=401)

    # ------------------------------------------------------------ REST

    async def _series(self, request: web.Request) -> web.Response:
        if request.match_info["series"] != self.series["series"]["ticker"]:
            return web.json_response({"error": {"code": "not_found", "message": "series not found"}}, status=404)
        return web.json_response(self.series)

    async def _markets(self, request: web.Request) -> web.Response:
        """The recorded pages chained by cursor; the last page's cursor is emptied to end the list."""
        pages = copy.deepcopy(self.markets_pages)
        series = request.query.get("series_ticker")
        cursor = request.query.get("cursor", "")
        index = 0
        if cursor:
            cursors = [p["cursor"] for p in pages]
            if cursor not in cursors[:-1]:
                return web.json_response({"error": {"code": "bad_request", "message": "bad cursor"}}, status=400)
            index = cursors.index(cursor) + 1
        page = pages[index]
        if index == len(pages) - 1:
            page["cursor"] = ""
        if series:
            page["markets"] = [m for m in page["markets"] if m["event_ticker"].startswith(series + "-")]
        if request.query.get("tickers"):
            wanted = set(request.query["tickers"].split(","))
            page["markets"] = [m for m in page["markets"] if m["ticker"] in wanted]
        return web.json_response(page)

    async def _orderbook(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        book = self.books.get(request.match_info["ticker"])
        if book is None:
            return web.json_response({"error": {"code": "not_found", "message": "market not found"}}, status=404)
        return web.json_response({"orderbook_fp": {"yes_dollars": book.wire("yes"), "no_dollars": book.wire("no")}})

    def _fixture(self, name: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            if not self._authorized(request):
                return self._unauthorized()
            return web.json_response(json.loads((self.dir / name).read_text()))

        return handler

    async def _create_order(self, request: web.Request) -> web.Response:
        """The recorded create answer with the request's own fields echoed into it."""
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        order = json.loads((self.dir / "order_create_response.json").read_text())["order"]
        order_id = f"sim-{len(self.orders) + 1:04d}"
        count = int(body.get("count", 0)) or int(fp.count_to_centi(body.get("count_fp", "0")) // 100)
        order.update(
            order_id=order_id, client_order_id=body.get("client_order_id"), ticker=body["ticker"],
            side=body["side"], action=body["action"], initial_count=count, remaining_count=count, fill_count=0,
        )
        if body["side"] == "yes":
            yes = fp.price_to_micros(body["yes_price_dollars"])
        else:
            yes = fp.ONE_DOLLAR_MICROS - fp.price_to_micros(body["no_price_dollars"])
        order.update(
            yes_price=yes // 10_000, yes_price_dollars=fp.micros_to_dollars(yes),
            no_price=(fp.ONE_DOLLAR_MICROS - yes) // 10_000, no_price_dollars=fp.micros_to_dollars(fp.ONE_DOLLAR_MICROS - yes),
        )
        if self.fill_on_create:
            order.update(status="executed", fill_count=count, remaining_count=0)
        self.orders[order_id] = order
        if self.unreadable_create_replies > 0:
            self.unreadable_create_replies -= 1
            whole = json.dumps({"order": order})
            return web.Response(status=201, text=whole[: len(whole) // 2], content_type="application/json")
        return web.json_response({"order": order}, status=201)

    async def _list_orders(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        ticker = request.query.get("ticker")
        rows = [o for o in self.orders.values() if ticker in (None, o["ticker"])]
        if self.list_lag > 0:
            self.list_lag -= 1
            rows = []
        return web.json_response({"orders": rows, "cursor": ""})

    async def _cancel_order(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return web.json_response({"error": {"code": "not_found", "message": "order not found"}}, status=404)
        reduced = order["remaining_count"]
        order.update(status="canceled", remaining_count=0)
        return web.json_response({"order": order, "reduced_by": reduced})

    # ------------------------------------------------------------ websocket

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._unauthorized()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                cmd = json.loads(msg.data)
                if cmd.get("cmd") == "subscribe":
                    await self._subscribe(ws, cmd)
                elif cmd.get("cmd") == "unsubscribe":
                    await self._unsubscribe(ws, cmd)
                else:
                    await ws.send_str(json.dumps({"id": cmd.get("id"), "type": "error", "msg": {"code": 5, "msg": "Unknown command"}}))
        finally:
            async with self._lock:
                for _, sub in self._book_subs:
                    if _ is ws:
                        sub.live = False
                self._book_subs = [(w, s) for w, s in self._book_subs if w is not ws]
        return ws

    async def _subscribe(self, ws: web.WebSocketResponse, cmd: dict[str, Any]) -> None:
        params = cmd.get("params", {})
        tickers = tuple(params.get("market_tickers") or ([params["market_ticker"]] if params.get("market_ticker") else []))
        for channel in params.get("channels", []):
            sid = next(self._sids)
            await ws.send_str(json.dumps({"id": cmd.get("id"), "type": "subscribed", "msg": {"channel": channel, "sid": sid}}))
            if channel == "orderbook_delta":
                async with self._lock:
                    sub = _Sub(sid, channel, tickers)
                    for t in tickers:
                        book = self.books.get(t)
                        if book is None:
                            await ws.send_str(json.dumps({"id": cmd.get("id"), "type": "error", "msg": {"code": 16, "msg": "Market not found", "market_ticker": t}}))
                            continue
                        sub.seq += 1
                        self.snapshots_sent += 1
                        await ws.send_str(json.dumps({
                            "type": "orderbook_snapshot", "sid": sid, "seq": sub.seq,
                            "msg": {"market_ticker": t, "yes_dollars_fp": book.wire("yes"), "no_dollars_fp": book.wire("no")},
                        }))
                    self._book_subs.append((ws, sub))
                    self._sub_changed.set()
            elif channel in ("ticker", "trade"):
                name = "ws_ticker_frames.ndjson" if channel == "ticker" else "ws_trade_frames.ndjson"
                for frame in _read_ndjson(self.dir / name):
                    frame["sid"] = sid
                    await ws.send_str(json.dumps(frame))
                for text in self.extra_frames if channel == "trade" else []:
                    await ws.send_str(text)

    async def _unsubscribe(self, ws: web.WebSocketResponse, cmd: dict[str, Any]) -> None:
        sids = set(cmd.get("params", {}).get("sids", []))
        async with self._lock:
            for w, sub in self._book_subs:
                if w is ws and sub.sid in sids:
                    sub.live = False
                    await ws.send_str(json.dumps({"id": cmd.get("id"), "sid": sub.sid, "seq": sub.seq + 1, "type": "unsubscribed"}))
            self._book_subs = [(w, s) for w, s in self._book_subs if s.live]

    def _live_sub(self, ticker: str) -> tuple[web.WebSocketResponse, _Sub] | None:
        for ws, sub in self._book_subs:
            if sub.live and ticker in sub.tickers and not ws.closed:
                return ws, sub
        return None

    async def _play(self) -> None:
        """Apply each scripted delta to the true book and send it to the subscription holding its market."""
        for n, delta in enumerate(self.script, start=1):
            while True:
                async with self._lock:
                    target = self._live_sub(delta.ticker)
                    if target is not None:
                        ws, sub = target
                        self.books[delta.ticker].apply(delta)
                        self.deltas_played += 1  # counted before sending: a client seeing the last delta sees the count
                        sub.seq += 1
                        if n == self.gap_at:
                            self.gaps_injected += 1  # applied, numbered, never sent: the client must notice
                        elif n == self.drop_at:
                            self.drops_injected += 1  # applied, and the connection goes down with it
                            sub.live = False
                            await ws.close()
                        else:
                            msg: dict[str, Any] = {
                                "market_ticker": delta.ticker, "price_dollars": fp.micros_to_dollars(delta.price_micros),
                                "delta_fp": fp.centi_to_count_fp(delta.delta_centi), "side": delta.side,
                            }
                            if delta.ts:
                                msg["ts"] = delta.ts
                            await ws.send_str(json.dumps({"type": "orderbook_delta", "sid": sub.sid, "seq": sub.seq, "msg": msg}))
                        break
                    self._sub_changed.clear()
                await self._sub_changed.wait()
            await asyncio.sleep(self.delta_interval_s)
        self.script_done.set()


async def _serve(fixtures: Path) -> None:
    async with KalshiSimulator(fixtures, delta_interval_s=0.5) as sim:
        print(f"Kalshi simulator: REST {sim.rest_url}  websocket {sim.ws_url}  (unsigned; Ctrl-C stops)")
        await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover - demo entry point
    asyncio.run(_serve(Path(sys.argv[1]) if len(sys.argv) > 1 else default_fixtures_dir()))


def ladder(book: SimBook, side: str) -> list[tuple[int, int]]:
    """A true-book side as (price micros, centi-contracts), best bid first, to compare with quotes."""
    levels = book.yes if side == "yes" else book.no
    return sorted(levels.items(), reverse=True)
