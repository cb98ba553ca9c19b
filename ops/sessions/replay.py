"""Replay a recorded session (`data/sessions/<name>/feed.ndjson`) through the connectors' own normalizers.

Entry points (what `arbees run --replay`, `arbees demo` and the end-to-end test call):

    load_payloads(path: Path) -> list[Payload]
        the session's raw payloads (ESPN scoreboards, Kalshi REST/websocket, Polymarket Gamma/market
        channel) in feed order; `path` is the session folder or its feed.ndjson.
    normalize(path: Path) -> list[Published]
        every record the connectors publish for them (raw.*, events.state, events.plays,
        markets.catalog, markets.quotes, deadletter), in publish order, without a broker.
    load_session(path: Path) -> list[InputRecord]
        the backtest inputs among those (events.state, markets.catalog, markets.quotes) in the
        backtest engines' replay order; feed `InProcessEngine.run` with it.
    replay_session(path: Path, bootstrap: str, *, clock: ReplayClock = ReplayClock(), service: str = "session-replay",
                   barrier: Callable[[Payload, Payload | None], None] | None = None) -> ReplayStats
        the same records published onto the real topics, payload by payload on `clock`.
        `barrier(payload, next_payload)` runs after each payload, its records flushed (next is
        None after the last): a caller that waits there until the workers have caught up with
        `payload.at` makes them see the streams in event-time order, as the in-process engine
        does (`Payload.stream` tells where the next payload switches stream).

Every payload's receive time is its event time, so a replay writes the same records
(same ids, same bytes) whenever it runs. Payload times are distinct across markets
(ops/sessions/build.py), so the broker's arrival order and the engines' event-time
order are one order.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from connectors.espn.client import Fetched as EspnFetched
from connectors.espn.leagues import LEAGUES
from connectors.espn.pipeline import EspnPipeline
from connectors.kalshi.errors import BadPayload as KalshiBadPayload
from connectors.kalshi.feed import raw_from_fetched, raw_from_frame
from connectors.kalshi.normalize import listing_id, market_to_listing
from connectors.kalshi.rest import Fetched as KalshiFetched
from connectors.kalshi.ws import DeadOut, QuoteOut, ResubscribeOut, WsProcessor
from connectors.polymarket.errors import PolymarketError
from connectors.polymarket.feed import PolymarketFeed
from connectors.polymarket.feed import raw_feed as polymarket_raw
from connectors.polymarket.gamma import event_of_market, parse_gamma_market
from connectors.polymarket.http import RawResponse
from connectors.polymarket.normalize import listing_from_gamma
from connectors.polymarket.ws import Frame
from ops.backtest.records import INPUT_TOPICS, InputRecord, as_inputs, replay_order
from schemas.deadletters import dead_letter
from schemas.records import DeadLetter

FEED = "feed.ndjson"


@dataclass(frozen=True)
class Payload:
    """One raw payload of the session as the outside service sent it, at its receive time (epoch ms)."""

    at: int
    source: str  # espn | kalshi | polymarket
    endpoint: str  # scoreboard | markets | ws | ws/market
    url: str
    body: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> tuple[str, str]:
        """What the payload updates: records of one stream stay in order on one partition."""
        if self.source == "kalshi" and self.endpoint == "ws":
            return ("kalshi", str(json.loads(self.body).get("msg", {}).get("market_ticker", "")))
        return (self.source, self.endpoint)


def feed_path(path: Path) -> Path:
    return path / FEED if path.is_dir() else path


def load_payloads(path: Path) -> list[Payload]:
    out = []
    for n, line in enumerate(feed_path(path).read_text().splitlines(), 1):
        d = json.loads(line)
        out.append(Payload(int(d["at"]), d["source"], d["endpoint"], d["url"], d["body"], dict(d.get("params") or {})))
        if len(out) > 1 and out[-1].at < out[-2].at:
            raise ValueError(f"{feed_path(path)}:{n}: payload at {out[-1].at} is before the one above it")
    return out


class Sink(Protocol):
    """`connectors.publisher.Publisher`, or a list for a run without a broker."""

    def publish(self, topic: str, key: str, record: Any) -> None: ...

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None: ...


@dataclass(frozen=True)
class Published:
    topic: str
    key: str
    record: Any


class Collect:
    """A sink that keeps what it is given, in order."""

    def __init__(self, service: str = "session-replay") -> None:
        self.service = service
        self.records: list[Published] = []

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.records.append(Published(topic, key, record))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        rec = dead_letter(topic=topic, value=value, error=error, service=self.service, ts=ts,
                          key=key.encode() if key else None)
        self.records.append(Published("deadletter", topic, rec))


class SessionConnectors:
    """The three connectors' normalizers, fed payloads instead of sockets; state lives here between payloads."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.espn = EspnPipeline(sink)
        self.kalshi_ws = WsProcessor()
        self.kalshi_frames = 0
        self.polymarket = PolymarketFeed(sink, gamma=None, clob=None)  # type: ignore[arg-type]  # no resync in a replay
        self.counts: Counter[str] = Counter()

    def on_payload(self, p: Payload) -> None:
        handler = {
            ("espn", "scoreboard"): self._espn,
            ("espn", "summary"): self._espn,
            ("kalshi", "markets"): self._kalshi_markets,
            ("kalshi", "ws"): self._kalshi_frame,
            ("polymarket", "markets"): self._polymarket_markets,
            ("polymarket", "ws/market"): self._polymarket_frame,
        }.get((p.source, p.endpoint))
        if handler is None:
            raise ValueError(f"no connector reads {p.source} {p.endpoint} payloads")
        self.counts[f"{p.source}:{p.endpoint}"] += 1
        handler(p)

    def _espn(self, p: Payload) -> None:
        league = next(lg.key for lg in LEAGUES.values() if f"/{lg.api_path}/" in p.url)
        self.espn.on_raw(EspnFetched(p.endpoint, league, p.url, p.params, 200, p.at, p.body).raw_feed())

    def _kalshi_markets(self, p: Payload) -> None:
        f = KalshiFetched("markets", "GET", p.url, p.params, 200, p.at, p.body)
        self.sink.publish("raw.kalshi", "kalshi:markets", raw_from_fetched(f))
        for m in f.json().get("markets") or []:
            try:
                listing = market_to_listing(m, p.at)
            except KalshiBadPayload as exc:
                self.sink.dead_letter("raw.kalshi", json.dumps(m).encode(), exc, p.at, key="kalshi:markets")
                continue
            self.sink.publish("markets.catalog", listing.listing_id, listing)

    def _kalshi_frame(self, p: Payload) -> None:
        self.kalshi_frames += 1
        self.sink.publish("raw.kalshi", "kalshi:ws", raw_from_frame(p.url, p.body, p.at, self.kalshi_frames))
        for out in self.kalshi_ws.step(p.body, p.at):
            if isinstance(out, QuoteOut):
                self.sink.publish("markets.quotes", listing_id(out.quote.market_id), out.quote)
            elif isinstance(out, DeadOut):
                self.sink.dead_letter("raw.kalshi", out.value, out.error, p.at, key="kalshi:ws")
            elif isinstance(out, ResubscribeOut):
                # a recording cannot be asked for fresh snapshots: the dropped books stay dropped, and say so
                self.sink.dead_letter("raw.kalshi", p.body.encode(), f"book resync needed: {out.reason}", p.at,
                                      key="kalshi:ws")

    def _polymarket_markets(self, p: Payload) -> None:
        raw = RawResponse(p.endpoint, p.url, dict(p.params), 200, p.body, p.at)
        self.sink.publish("raw.polymarket", f"polymarket:{p.endpoint}", polymarket_raw(raw))
        for m in json.loads(p.body):
            try:
                listing = listing_from_gamma(parse_gamma_market(m), event_of_market(m), p.at)
            except PolymarketError as exc:
                self.sink.dead_letter("raw.polymarket", json.dumps(m).encode(), exc, p.at, key="polymarket:markets")
                continue
            self.sink.publish("markets.catalog", listing.listing_id, listing)
            if listing.market_id not in self.polymarket.tracked_markets and listing.status == "open":
                self.polymarket.track(listing)

    def _polymarket_frame(self, p: Payload) -> None:
        asyncio.run(self.polymarket.on_frame(Frame(p.body, p.at, 1), p.url))


def normalize(path: Path) -> list[Published]:
    sink = Collect()
    connectors = SessionConnectors(sink)
    for p in load_payloads(path):
        connectors.on_payload(p)
    return sink.records


def load_session(path: Path) -> list[InputRecord]:
    """The backtest inputs the connectors make of the session, in replay order."""
    records = [(r.topic, r.record) for r in normalize(path) if r.topic in INPUT_TOPICS]
    return replay_order(as_inputs(records))


def dead_letters(path: Path) -> list[DeadLetter]:
    return [r.record for r in normalize(path) if r.topic == "deadletter"]


# ------------------------------------------------------------------ onto the broker


@dataclass(frozen=True)
class ReplayClock:
    """How fast a replay runs: `speed`× the recorded time between payloads, never more than `max_gap_s`
    and, between payloads of different streams, never less than `min_gap_s` (so the workers see
    them in that order). `speed=None` is as fast as `min_gap_s` allows."""

    speed: float | None = None
    min_gap_s: float = 0.02
    max_gap_s: float = 1.0

    def gap_s(self, prev: Payload, nxt: Payload) -> float:
        scaled = 0.0 if self.speed is None else (nxt.at - prev.at) / 1000 / self.speed
        floor = self.min_gap_s if prev.stream != nxt.stream else 0.0
        return min(max(scaled, floor), max(self.max_gap_s, floor))


@dataclass
class ReplayStats:
    payloads: int = 0
    published: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class _Counting:
    def __init__(self, inner: Any, stats: ReplayStats) -> None:
        self.inner, self.stats = inner, stats

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.stats.published[topic] += 1
        self.inner.publish(topic, key, record)

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        self.stats.published["deadletter"] += 1
        self.inner.dead_letter(topic, value, error, ts, key)


def replay_session(path: Path, bootstrap: str, *, clock: ReplayClock = ReplayClock(), service: str = "session-replay",
                   barrier: Callable[[Payload, Payload | None], None] | None = None) -> ReplayStats:
    """Publish the session through the connectors onto `bootstrap`'s topics, in feed order, on `clock`."""
    from connectors.publisher import Publisher

    stats = ReplayStats()
    publisher = Publisher(bootstrap, service=service)
    connectors = SessionConnectors(_Counting(publisher, stats))
    began = time.monotonic()
    payloads = load_payloads(path)
    for i, p in enumerate(payloads):
        connectors.on_payload(p)
        stats.payloads += 1
        nxt = payloads[i + 1] if i + 1 < len(payloads) else None
        if barrier is not None:
            publisher.flush()
            barrier(p, nxt)
        if nxt is not None:
            wait = clock.gap_s(p, nxt)
            if wait > 0:
                publisher.flush()
                time.sleep(wait)
    publisher.flush()
    stats.seconds = time.monotonic() - began
    return stats
