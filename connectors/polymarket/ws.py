"""CLOB market-channel websocket client (wss://ws-subscriptions-clob.polymarket.com/ws/market).

Subscribe with {"assets_ids": [...], "type": "market", "custom_feature_enabled": true}
(the flag adds best_bid_ask, new_market and market_resolved events) and keep the
connection alive with a text "PING" every 10 s, answered by "PONG"
(docs.polymarket.com/market-data/websocket/market-channel). Frames are yielded
raw so the caller can put them on `raw.polymarket` before parsing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import structlog
import websockets
from websockets.exceptions import ConnectionClosed

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


class MarketStream:
    """Frames of the market channel, reconnecting with bounded exponential backoff."""

    def __init__(self, asset_ids: Sequence[str], url: str = WS_MARKET_URL, *,
                 clock: Callable[[], int] = wall_clock_ms, ping_interval_s: float = PING_INTERVAL_S,
                 max_backoff_s: float = 30.0, max_reconnects: int | None = None) -> None:
        self.asset_ids = list(asset_ids)
        self.url = url
        self._clock = clock
        self._ping_interval_s = ping_interval_s
        self._max_backoff_s = max_backoff_s
        self._max_reconnects = max_reconnects

    async def _pinger(self, ws: websockets.ClientConnection) -> None:
        while True:
            await asyncio.sleep(self._ping_interval_s)
            await ws.send("PING")

    async def frames(self) -> AsyncIterator[Frame]:
        connection = 0
        backoff = 0.5
        while True:
            try:
                async with websockets.connect(self.url, ping_interval=None, max_size=2**24) as ws:
                    connection += 1
                    backoff = 0.5
                    await ws.send(subscription(self.asset_ids))
                    pinger = asyncio.create_task(self._pinger(ws))
                    try:
                        async for message in ws:
                            text = message if isinstance(message, str) else message.decode()
                            if text == "PONG":
                                continue
                            yield Frame(text, self._clock(), connection)
                    finally:
                        pinger.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await pinger
            except (ConnectionClosed, OSError) as exc:
                log.warning("polymarket market channel dropped", error=str(exc), connection=connection)
            if self._max_reconnects is not None and connection > self._max_reconnects:
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
