"""From one raw CoinGecko answer to records on topics: raw first, then spot states.

The live poller and replay share it, so replaying `raw.coingecko` rebuilds the
states. A spot at or before the last one published for its coin is not
republished (history overlaps between polls). An answer that cannot be read
goes to `deadletter` with the reason; the connector keeps going.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog

from connectors.coingecko.errors import BadPayload
from connectors.coingecko.normalize import Price, chart_prices, parse_body, simple_prices, spot_state
from connectors.publisher import Sink
from schemas.records import EventState, RawFeed

log = structlog.get_logger(__name__)

RAW_TOPIC = "raw.coingecko"
STATE_TOPIC = "events.state"


@dataclass(frozen=True)
class Outcome:
    raw_id: str
    states: tuple[EventState, ...] = ()
    dead_letters: int = 0


def raw_key(raw: RawFeed) -> str:
    return f"{raw.source}:{raw.endpoint}"


def prices_of(raw: RawFeed) -> list[Price]:
    payload = parse_body(raw.body)
    if raw.endpoint == "simple_price":
        return simple_prices(payload, raw.fetched_at)
    if raw.endpoint == "market_chart":
        parts = urlsplit(raw.url).path.rstrip("/").split("/")
        if len(parts) < 3 or parts[-1] != "market_chart" or parts[-3] != "coins":
            raise BadPayload("url", f"not a /coins/{{id}}/market_chart URL: {raw.url!r}")
        vs = raw.params.get("vs_currency", "")
        if not vs:
            raise BadPayload("params.vs_currency", "missing")
        return chart_prices(payload, parts[-2], vs)
    raise BadPayload("endpoint", f"unknown CoinGecko endpoint {raw.endpoint!r}")


class CoinGeckoPipeline:
    def __init__(self, sink: Sink, *, publish_raw: bool = True) -> None:
        self.sink = sink
        self.publish_raw = publish_raw
        self._last_ts: dict[str, int] = {}

    def on_raw(self, raw: RawFeed) -> Outcome:
        if self.publish_raw:
            self.sink.publish(RAW_TOPIC, raw_key(raw), raw)
        if raw.status != 200:
            return Outcome(raw.raw_id)  # kept on raw.coingecko; nothing to normalize
        try:
            prices = prices_of(raw)
        except BadPayload as exc:
            self.sink.dead_letter(RAW_TOPIC, raw.body.encode(), BadPayload(f"{raw.raw_id}#{exc.where}", exc.detail), ts=raw.fetched_at, key=raw_key(raw))
            return Outcome(raw.raw_id, dead_letters=1)
        published = []
        for p in prices:
            state = spot_state(p)
            if state.ts <= self._last_ts.get(state.event_id, -1):
                continue
            self._last_ts[state.event_id] = state.ts
            self.sink.publish(STATE_TOPIC, state.event_id, state)
            published.append(state)
        return Outcome(raw.raw_id, tuple(published))
