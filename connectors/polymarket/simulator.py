"""A local Polymarket: Gamma + CLOB REST + market-channel websocket on 127.0.0.1 (aiohttp).

It serves recorded payloads (Gamma events pages, CLOB /book answers, prices
history) and plays a script of market-channel frames after the subscribe
snapshots. It keeps the venue's true book per token (the recorded snapshot plus
every scripted change sent so far, applied in timestamp order), so a client that
resyncs from /book gets what the venue would say at that moment, even after a
frame was delivered out of order.

Books for tokens without a recording can be derived with `mirror_book`: the CLOB
shows one order in both books of a binary market (a BUY YES at p is a SELL NO at
1−p; see the two entries of the price_change doc example), so the NO book is the
YES book mirrored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web


EVENTS_FIXTURE = "gamma_events_list_active_2026-01-04.json"
BOOK_FIXTURE = "clob_book_2026-01-04.json"
SCRIPT_FIXTURE = "scripted_eth15m_stream.ndjson"
HISTORY_FIXTURE = "prices_history_doc_example.json"


def default_fixtures_dir() -> Path:
    """tests/fixtures/polymarket of this repository (copies of ../shared/fixtures/polymarket plus the script)."""
    return Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "polymarket"


def complement_token(events: list[Any], token_id: str) -> str:
    """The other CLOB token of the binary market that lists `token_id` in a Gamma events page."""
    for event in events:
        for market in event.get("markets") or []:
            tokens = market.get("clobTokenIds")
            tokens = json.loads(tokens) if isinstance(tokens, str) else tokens
            if isinstance(tokens, list) and len(tokens) == 2 and token_id in tokens:
                return str(tokens[1] if tokens[0] == token_id else tokens[0])
    raise ValueError(f"no binary market in the events lists token {token_id}")


def _fmt(price: Decimal) -> str:
    return format(price.normalize(), "f")


def mirror_book(book: dict[str, Any], asset_id: str) -> dict[str, Any]:
    """The complementary token's book: bids at 1−ask, asks at 1−bid, same sizes."""
    one = Decimal(1)
    mirrored = dict(book)
    mirrored["asset_id"] = asset_id
    mirrored["bids"] = [{"price": _fmt(one - Decimal(a["price"])), "size": a["size"]} for a in book["asks"]]
    mirrored["asks"] = [{"price": _fmt(one - Decimal(b["price"])), "size": b["size"]} for b in book["bids"]]
    return mirrored


def summary_hash(book: dict[str, Any]) -> str:
    """SHA-1 of the compact book summary with `hash` blank (py-clob-client-v2 generate_orderbook_summary_hash)."""
    payload = {k: book.get(k) for k in ("market", "asset_id", "timestamp")}
    payload["hash"] = ""
    payload["bids"] = [{"price": lv["price"], "size": lv["size"]} for lv in book["bids"]]
    payload["asks"] = [{"price": lv["price"], "size": lv["size"]} for lv in book["asks"]]
    for k in ("min_order_size", "tick_size", "neg_risk", "last_trade_price"):
        payload[k] = book.get(k)
    return hashlib.sha1(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


@dataclass
class _TrueBook:
    base: dict[str, Any]
    changes: list[tuple[int, int, str, str, str]] = field(default_factory=list)  # (ts, order, side, price, size)
    tick: str | None = None
    ts: int = 0

    def render(self) -> dict[str, Any]:
        bids = {Decimal(lv["price"]): lv["size"] for lv in self.base["bids"]}
        asks = {Decimal(lv["price"]): lv["size"] for lv in self.base["asks"]}
        for _, _, side, price, size in sorted(self.changes):
            levels = bids if side == "BUY" else asks
            if Decimal(size) == 0:
                levels.pop(Decimal(price), None)
            else:
                levels[Decimal(price)] = size
        book = dict(self.base)
        # the recorded /book answer lists bids ascending and asks descending (worst first)
        book["bids"] = [{"price": _fmt(p), "size": s} for p, s in sorted(bids.items())]
        book["asks"] = [{"price": _fmt(p), "size": s} for p, s in sorted(asks.items(), reverse=True)]
        book["timestamp"] = str(max(self.ts, int(self.base["timestamp"])))
        if self.tick is not None:
            book["tick_size"] = self.tick
        book["hash"] = summary_hash(book)
        return book


class PolymarketSimulator:
    """Start with `await sim.start()`; base URLs are then `sim.base_url` and `sim.ws_url`."""

    def __init__(self, *, events: list[Any], books: list[dict[str, Any]], script: list[str] | None = None,
                 markets: list[Any] | None = None, prices_history: dict[str, Any] | None = None,
                 frame_interval_s: float = 0.0, throttled: int = 0, retry_after: str = "0.3") -> None:
        self._frame_interval_s = frame_interval_s
        #: the next n REST requests get 429 with `Retry-After: retry_after` (a rate-limit storm)
        self.throttled = throttled
        self.retry_after = retry_after
        #: (arrival monotonic s, path, status) of every REST request: the spacing a client kept, seen by the venue
        self.requests: list[tuple[float, str, int]] = []
        self._events = events
        self._markets = markets or []
        self._prices_history = prices_history
        self._books = {b["asset_id"]: _TrueBook(base=b) for b in books}
        self._script = script or []
        self._order = 0
        self.book_requests: Counter[str] = Counter()
        self.subscriptions: list[dict[str, Any]] = []
        self.pings = 0
        self._runner: web.AppRunner | None = None
        self._port = 0

    @classmethod
    def from_fixtures(cls, fixtures_dir: Path | None = None, *, frame_interval_s: float = 0.0) -> PolymarketSimulator:
        """The recorded world of tests/fixtures/polymarket (see its PROVENANCE.md).

        Gamma serves the recorded active-events page; the CLOB serves the recorded
        book of the ETH 15m market's YES token and its mirror as the NO token (the
        NO token id comes from the recorded event); the market channel plays the
        scripted stream for that market.
        """
        d = fixtures_dir or default_fixtures_dir()
        events = json.loads((d / EVENTS_FIXTURE).read_text())
        yes_book = json.loads((d / BOOK_FIXTURE).read_text())
        no_token = complement_token(events, yes_book["asset_id"])
        script = [ln for ln in (d / SCRIPT_FIXTURE).read_text().splitlines() if ln.strip()]
        return cls(events=events, books=[yes_book, mirror_book(yes_book, no_token)], script=script,
                   prices_history=json.loads((d / HISTORY_FIXTURE).read_text()), frame_interval_s=frame_interval_s)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/ws/market"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._throttle])
        app.router.add_get("/events", self._list_handler(lambda: self._events))
        app.router.add_get("/markets", self._markets_handler)
        app.router.add_get("/book", self._book)
        app.router.add_get("/prices-history", self._history)
        app.router.add_get("/ws/market", self._ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _throttle(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Stamp each REST request; answer 429 + Retry-After while a storm lasts."""
        if request.path.startswith("/ws/"):
            return await handler(request)
        if self.throttled > 0:
            self.throttled -= 1
            self.requests.append((time.monotonic(), request.path, 429))
            return web.json_response({"error": "Too Many Requests"}, status=429, headers={"Retry-After": self.retry_after})
        response = await handler(request)
        self.requests.append((time.monotonic(), request.path, response.status))
        return response

    def _list_handler(self, items: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            limit = int(request.query.get("limit", "100"))
            offset = int(request.query.get("offset", "0"))
            return web.json_response(items()[offset: offset + limit])
        return handler

    async def _markets_handler(self, request: web.Request) -> web.Response:
        """/markets, filtered by `condition_ids` (repeated) as gamma does."""
        wanted = set(request.query.getall("condition_ids", []))
        items = [m for m in self._markets if not wanted or m.get("conditionId") in wanted]
        return await self._list_handler(lambda: items)(request)

    async def _book(self, request: web.Request) -> web.Response:
        token = request.query.get("token_id", "")
        self.book_requests[token] += 1
        book = self._books.get(token)
        if book is None:
            return web.json_response({"error": "No orderbook exists for the requested token id"}, status=404)
        return web.json_response(book.render())

    async def _history(self, request: web.Request) -> web.Response:
        if self._prices_history is None:
            return web.json_response({"error": "no history"}, status=404)
        return web.json_response(self._prices_history)

    def _record(self, text: str) -> None:
        """Make the true books follow a frame as it is sent."""
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            return
        for item in items if isinstance(items, list) else [items]:
            if not isinstance(item, dict):
                continue
            kind = item.get("event_type")
            if kind == "price_change":
                ts = int(item["timestamp"])
                for ch in item.get("price_changes", []):
                    book = self._books.get(ch["asset_id"])
                    if book is not None:
                        self._order += 1
                        book.changes.append((ts, self._order, ch["side"], ch["price"], ch["size"]))
                        book.ts = max(book.ts, ts)
            elif kind == "tick_size_change" and item.get("asset_id") in self._books:
                book = self._books[item["asset_id"]]
                book.tick = item["new_tick_size"]
                book.ts = max(book.ts, int(item["timestamp"]))

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            if msg.data == "PING":
                self.pings += 1
                await ws.send_str("PONG")
                continue
            sub = json.loads(msg.data)
            self.subscriptions.append(sub)
            snapshots = []
            for asset in sub.get("assets_ids", []):
                if asset in self._books:
                    snap = self._books[asset].render()
                    snapshots.append({**snap, "event_type": "book"})
            await ws.send_str(json.dumps(snapshots))
            for frame in self._script:
                self._record(frame)
                await ws.send_str(frame)
                await asyncio.sleep(self._frame_interval_s)
        return ws
