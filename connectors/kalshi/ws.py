"""Kalshi websocket: signed connect, channel subscriptions, and the frame processor.

The connection is authenticated even for public channels (AsyncAPI `root`
channel: "include API key headers during the WebSocket handshake"); the
handshake is signed like a REST call over `GET /trade-api/ws/v2`. Commands are
`{"id", "cmd": "subscribe"|"unsubscribe", "params"}`; every subscription gets
its own `sid`. Kalshi pings every 10 s and `websockets` answers pongs itself.

`WsProcessor.step` is the pure part: one frame in, typed outputs out (a quote to
publish, a frame to dead-letter, a resubscription to perform). `KalshiWs` is the
thin socket shell that performs them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Union
from urllib.parse import urlsplit

import structlog
from websockets.asyncio.client import ClientConnection, connect

from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.book import BookChanged, BookKeeper, Ignored, Resync
from connectors.kalshi.errors import BadPayload, CredentialsMissing
from connectors.kalshi.messages import (
    BookDelta,
    BookSnapshot,
    ErrorReply,
    MarketLifecycle,
    Subscribed,
    Unsubscribed,
    WsMessage,
    parse_frame,
)
from connectors.kalshi.normalize import book_to_quote
from connectors.kalshi.rest import wall_clock_ms
from schemas.records import Quote

log = structlog.get_logger(__name__)

PROD_WS_URL = "wss://api.elections.kalshi.com/trade-api/ws/v2"
DEMO_WS_URL = "wss://demo-api.kalshi.co/trade-api/ws/v2"
MARKET_CHANNELS = ("orderbook_delta", "ticker", "trade", "market_lifecycle_v2")
#: Lifecycle events after which the market's listing must be read again (its close, result or settlement).
RELIST_EVENTS = frozenset({"deactivated", "closed", "determined", "settled"})


# ------------------------------------------------------------------ outputs


@dataclass(frozen=True)
class QuoteOut:
    quote: Quote


@dataclass(frozen=True)
class DeadOut:
    value: bytes
    error: BaseException


@dataclass(frozen=True)
class ResubscribeOut:
    sid: int
    tickers: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class RelistOut:
    """The venue says a market closed, was determined or settled: read its listing again."""

    ticker: str
    event_type: str


@dataclass(frozen=True)
class MessageOut:
    """A parsed frame with no book effect (ticker, trade, acks); kept on `raw.kalshi` only."""

    message: WsMessage


Output = Union[QuoteOut, DeadOut, ResubscribeOut, RelistOut, MessageOut]


class WsProcessor:
    """Frames → outputs for one connection. Holds the books; reads no clock and no socket."""

    def __init__(self, books: BookKeeper | None = None) -> None:
        self.books = books or BookKeeper()
        self.channels: dict[int, str] = {}  # sid -> channel

    def step(self, text: str | bytes, recv_ts: int) -> list[Output]:
        raw = text.encode() if isinstance(text, str) else text
        try:
            msg = parse_frame(text)
        except BadPayload as exc:
            return [DeadOut(raw, exc)]
        if isinstance(msg, Subscribed):
            self.channels[msg.sid] = msg.channel
            return [MessageOut(msg)]
        if isinstance(msg, Unsubscribed):
            self.channels.pop(msg.sid, None)
            return [MessageOut(msg)]
        if isinstance(msg, ErrorReply):
            return [DeadOut(raw, BadPayload("error", f"Kalshi refused command {msg.id}: code {msg.code} {msg.message}"))]
        if isinstance(msg, BookSnapshot):
            return self._book(self.books.on_snapshot(msg, recv_ts))
        if isinstance(msg, BookDelta):
            return self._book(self.books.on_delta(msg, msg.ts if msg.ts is not None else recv_ts))
        if isinstance(msg, MarketLifecycle) and msg.event_type in RELIST_EVENTS:
            return [RelistOut(msg.ticker, msg.event_type)]
        return [MessageOut(msg)]

    def _book(self, outcome: BookChanged | Resync | Ignored) -> list[Output]:
        if isinstance(outcome, BookChanged):
            book = self.books.book(outcome.ticker)
            if book is None:  # pragma: no cover - BookChanged always names a live book
                return []
            return [QuoteOut(book_to_quote(book))]
        if isinstance(outcome, Resync):
            log.warning("kalshi book resync", sid=outcome.sid, tickers=list(outcome.tickers), reason=outcome.reason)
            return [ResubscribeOut(outcome.sid, outcome.tickers, outcome.reason)]
        return []


# ------------------------------------------------------------------ socket


class KalshiWs:
    """One signed websocket connection. Construction opens nothing; use `async with`."""

    def __init__(
        self,
        url: str = PROD_WS_URL,
        *,
        signer: KalshiSigner | None,
        clock: Callable[[], int] = wall_clock_ms,
        open_timeout_s: float = 10.0,
    ) -> None:
        if signer is None:
            raise CredentialsMissing(
                "the Kalshi websocket needs signed headers even for market data: "
                "set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH"
            )
        self.url = url
        self._signer = signer
        self._clock = clock
        self._open_timeout_s = open_timeout_s
        self._conn: ClientConnection | None = None
        self._next_id = 0

    def __repr__(self) -> str:
        return f"KalshiWs(url={self.url!r}, connected={self._conn is not None})"

    async def __aenter__(self) -> KalshiWs:
        parts = urlsplit(self.url)
        headers = self._signer.headers(self._clock(), "GET", parts.path)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        self._conn = await connect(
            self.url,
            additional_headers=headers,
            open_timeout=self._open_timeout_s,
            proxy=None if local else True,
            max_size=8 * 1024 * 1024,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _require(self) -> ClientConnection:
        if self._conn is None:
            raise RuntimeError("KalshiWs is not connected; use `async with KalshiWs(...)`")
        return self._conn

    async def command(self, cmd: str, params: dict[str, Any]) -> int:
        self._next_id += 1
        await self._require().send(json.dumps({"id": self._next_id, "cmd": cmd, "params": params}))
        return self._next_id

    async def subscribe(self, channels: tuple[str, ...] | list[str], tickers: tuple[str, ...] | list[str]) -> int:
        """One subscribe command; Kalshi answers one `subscribed` (with its sid) per channel."""
        params: dict[str, Any] = {"channels": list(channels)}
        if tickers:
            params["market_tickers"] = list(tickers)
        return await self.command("subscribe", params)

    async def unsubscribe(self, sids: list[int]) -> int:
        return await self.command("unsubscribe", {"sids": sids})

    async def frames(self) -> AsyncIterator[str | bytes]:
        """Frames until the server closes the connection."""
        async for frame in self._require():
            yield frame
