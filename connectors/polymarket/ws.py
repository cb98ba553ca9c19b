"""CLOB market-channel websocket client (wss://ws-subscriptions-clob.polymarket.com/ws/market).

Subscribe with {"assets_ids": [...], "type": "market", "custom_feature_enabled": true}
(the flag adds best_bid_ask, new_market and market_resolved events) and keep the
connection alive with a text "PING" every 10 s, answered by "PONG"
(docs.polymarket.com/market-data/websocket/market-channel). The stream never
ends on its own: it reconnects and resubscribes after every drop. Frames are yielded
raw so the caller can put them on `raw.polymarket` before parsing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from connectors.lifecycle import Backoff
from connectors.polymarket.http import wall_clock_ms

log = structlog.get_logger(__name__)

WS_MARKET_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
PING_INTERVAL_S = 10.0


@dataclass(frozen=True)
class Frame:
    text: str
    received_at: int
    connection: int  # increments on every (re)connect: books must be rebuilt after one


def subscription(asset_ids: Sequence[str], custom_features: bool = True) -> str:
    return json.dumps({"assets_ids": list(asset_ids), "type": "market", "custom_feature_enabled": custom_features})


#: Faults after which a new connection may work (a refused handshake included: the channel is public).
RECONNECTABLE: tuple[type[BaseException], ...] = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError)


class MarketStream:
    """Frames of the market channel, reconnecting with jittered exponential backoff.

    Every connection subscribes `asset_ids` afresh (the venue then sends a `book`
    snapshot per asset); `Frame.connection` tells the consumer its books from the
    previous connection are void. A connection that stayed up `healthy_after_s`
    resets the backoff; one dropped sooner (a venue accepting then closing) does
    not, so it is never hammered. `sleep`, `rng` and `monotonic` are injected so
    the reconnect schedule is testable.
    """

    def __init__(self, asset_ids: Sequence[str], url: str = WS_MARKET_URL, *,
                 clock: Callable[[], int] = wall_clock_ms, ping_interval_s: float = PING_INTERVAL_S,
                 max_backoff_s: float = 30.0, max_reconnects: int | None = None,
                 backoff: Backoff | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None, open_timeout_s: float = 10.0,
                 healthy_after_s: float = 30.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.asset_ids = list(asset_ids)
        self.url = url
        self._clock = clock
        self._ping_interval_s = ping_interval_s
        self._backoff = backoff or Backoff(base_s=0.5, cap_s=max_backoff_s)
        self._max_reconnects = max_reconnects
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._open_timeout_s = open_timeout_s
        self._healthy_after_s = healthy_after_s
        self._monotonic = monotonic
        self.connections = 0  # successful connections so far
        self.delays: list[float] = []  # every reconnect pause, in order

    async def _pinger(self, ws: websockets.ClientConnection) -> None:
        while True:
            await asyncio.sleep(self._ping_interval_s)
            await ws.send("PING")

    async def frames(self) -> AsyncGenerator[Frame, None]:
        attempt = 0
        reconnects = 0
        while True:
            up_since: float | None = None
            try:
                async with websockets.connect(self.url, ping_interval=None, max_size=2**24,
                                              open_timeout=self._open_timeout_s) as ws:
                    self.connections += 1
                    up_since = self._monotonic()
                    await ws.send(subscription(self.asset_ids))
                    pinger = asyncio.create_task(self._pinger(ws))
                    try:
                        async for message in ws:
                            text = message if isinstance(message, str) else message.decode()
                            if text == "PONG":
                                continue
                            yield Frame(text, self._clock(), self.connections)
                    finally:
                        pinger.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await pinger
                reason = "server closed the connection"
            except RECONNECTABLE as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if self._max_reconnects is not None and reconnects >= self._max_reconnects:
                return
            reconnects += 1
            healthy = up_since is not None and self._monotonic() - up_since >= self._healthy_after_s
            attempt = 1 if healthy else attempt + 1
            delay = self._backoff.delay(attempt, self._rng)
            self.delays.append(delay)
            log.warning("polymarket market channel down; reconnecting", reason=reason, attempt=attempt,
                        delay_s=round(delay, 2), connection=self.connections)
            await self._sleep(delay)
