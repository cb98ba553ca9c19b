"""The Kalshi feed: raw payloads to `raw.kalshi` first, then listings and quotes.

Order matters: every answer and frame is on `raw.kalshi` before it is parsed, so
replaying that topic rebuilds the catalog and the quotes. Garbage, unknown
message types and refused commands go to `deadletter` with the reason; a book
that cannot be trusted is resubscribed, never published.

Keys: `raw.kalshi` "kalshi:<endpoint>", `markets.catalog` and `markets.quotes`
"KALSHI:<ticker>" (schemas/topics.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from connectors.kalshi.errors import BadPayload, FatalKalshiError, KalshiError
from connectors.kalshi.normalize import (
    SeriesInfo,
    book_to_quote,
    listing_id,
    market_to_listing,
    parse_series,
    rest_orderbook_to_book,
    rest_quote_id,
    series_of,
)
from connectors.kalshi.rest import Fetched, KalshiRest
from connectors.kalshi.ws import MARKET_CHANNELS, DeadOut, KalshiWs, MessageOut, QuoteOut, RelistOut, ResubscribeOut, WsProcessor
from schemas.records import MarketListing, Quote, RawFeed

log = structlog.get_logger(__name__)

RAW_TOPIC = "raw.kalshi"
CATALOG_TOPIC = "markets.catalog"
QUOTES_TOPIC = "markets.quotes"
SOURCE = "kalshi"
#: Tickers per GET /markets?tickers=… when re-reading markets that left the open list.
REFRESH_BATCH = 100


class Sink(Protocol):
    """What the feed needs of `connectors.publisher.Publisher`."""

    def publish(self, topic: str, key: str, record: Any) -> None: ...

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None: ...

    def flush(self, timeout: float = 30.0) -> None: ...


def raw_from_fetched(f: Fetched) -> RawFeed:
    digest = hashlib.sha1(f"{f.method} {f.url}\n{f.body}".encode()).hexdigest()[:16]
    return RawFeed(
        raw_id=f"{SOURCE}:{f.endpoint}:{f.fetched_at}:{digest}",
        ts=f.fetched_at,
        source=SOURCE,
        endpoint=f.endpoint,
        url=f.url,
        params=dict(f.params),
        status=f.status,
        fetched_at=f.fetched_at,
        body=f.body,
    )


def raw_from_frame(url: str, text: str | bytes, recv_ts: int, seq_no: int) -> RawFeed:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    digest = hashlib.sha1(body.encode()).hexdigest()[:16]
    return RawFeed(
        raw_id=f"{SOURCE}:ws:{recv_ts}:{seq_no}:{digest}",
        ts=recv_ts,
        source=SOURCE,
        endpoint="ws",
        url=url,
        params={},
        status=101,  # the websocket upgrade
        fetched_at=recv_ts,
        body=body,
    )


@dataclass
class FeedStats:
    frames: int = 0
    quotes: int = 0
    dead: int = 0
    resyncs: int = 0
    listings: int = 0
    last_quotes: dict[str, Quote] = field(default_factory=dict)


class KalshiFeed:
    """Discovery over REST and the market-data websocket, publishing to the log."""

    def __init__(self, sink: Sink, rest: KalshiRest, *, ws_factory: Callable[[], KalshiWs], clock: Callable[[], int]) -> None:
        self.sink = sink
        self.rest = rest
        self._ws_factory = ws_factory
        self._clock = clock
        self.stats = FeedStats()
        self._processor = WsProcessor()
        self._wanted: tuple[str, ...] = ()
        self._ws: KalshiWs | None = None
        self._rest_books: dict[str, tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]] = {}
        self._series_info: dict[str, SeriesInfo | None] = {}

    def _raw(self, f: Fetched) -> None:
        self.sink.publish(RAW_TOPIC, f"{SOURCE}:{f.endpoint}", raw_from_fetched(f))

    # -------------------------------------------------------------- discovery

    async def series(self, series_ticker: str) -> SeriesInfo | None:
        try:
            f = await self.rest.get_series(series_ticker)
        except FatalKalshiError as exc:
            log.warning("kalshi series unavailable", series=series_ticker, error=str(exc))
            return None
        self._raw(f)
        try:
            return parse_series(f.json())
        except BadPayload as exc:
            self.sink.dead_letter(RAW_TOPIC, f.body.encode(), exc, f.fetched_at, key=f"{SOURCE}:{f.endpoint}")
            self.stats.dead += 1
            return None

    async def discover(self, series_tickers: list[str], *, status: str | None = None) -> list[MarketListing]:
        """Every market of the series onto `markets.catalog` (after its raw page)."""
        listings: list[MarketListing] = []
        for st in series_tickers:
            info = await self.series(st)
            self._series_info[st] = info
            listings += await self._publish_markets(self.rest.iter_markets(series_ticker=st, status=status), lambda _: info)
        return listings

    async def refresh(self, tickers: list[str]) -> list[MarketListing]:
        """These markets as the venue lists them now, whatever their status, onto `markets.catalog`.

        Discovery asks for open markets only; a market that closed, was determined or settled drops
        out of that list, and this is how its closing status, result and settlement value reach the log.
        Fees come from the series already read by discovery, so an unchanged market lists the same.
        """
        listings: list[MarketListing] = []
        for i in range(0, len(tickers), REFRESH_BATCH):
            pages = self.rest.iter_markets(tickers=tickers[i:i + REFRESH_BATCH])
            listings += await self._publish_markets(
                pages, lambda m: self._series_info.get(series_of(str(m.get("event_ticker", "")))))
        return listings

    async def _publish_markets(self, pages: AsyncIterator[Fetched],
                               info_of: Callable[[dict[str, Any]], SeriesInfo | None]) -> list[MarketListing]:
        """Each page raw, then each of its markets as a listing; bad ones to the dead-letter topic."""
        listings: list[MarketListing] = []
        async for page in pages:
            self._raw(page)
            try:
                markets = page.json().get("markets")
                if not isinstance(markets, list):
                    raise BadPayload("markets", "missing")
            except BadPayload as exc:
                self.sink.dead_letter(RAW_TOPIC, page.body.encode(), exc, page.fetched_at, key=f"{SOURCE}:{page.endpoint}")
                self.stats.dead += 1
                continue
            for m in markets:
                try:
                    listing = market_to_listing(m, page.fetched_at, info_of(m) if isinstance(m, dict) else None)
                except BadPayload as exc:
                    self.sink.dead_letter(RAW_TOPIC, json.dumps(m).encode(), exc, page.fetched_at, key=f"{SOURCE}:{page.endpoint}")
                    self.stats.dead += 1
                    continue
                self.sink.publish(CATALOG_TOPIC, listing.listing_id, listing)
                listings.append(listing)
        self.stats.listings += len(listings)
        return listings

    async def rest_quotes(self, tickers: list[str], *, only_changed: bool = False) -> list[Quote]:
        """One REST order book per market as a quote (before the websocket is up, or polling without it).

        With `only_changed`, a book identical to the last one polled for its market
        is not published again (its raw answer still is): a poller then emits what
        the websocket would, a quote per change.
        """
        quotes: list[Quote] = []
        for t in tickers:
            f = await self.rest.get_orderbook(t)
            self._raw(f)
            try:
                book = rest_orderbook_to_book(f.json(), t, f.fetched_at)
            except BadPayload as exc:
                self.sink.dead_letter(RAW_TOPIC, f.body.encode(), exc, f.fetched_at, key=f"{SOURCE}:{f.endpoint}")
                self.stats.dead += 1
                continue
            levels = (tuple(sorted(book.yes.items())), tuple(sorted(book.no.items())))
            if only_changed and self._rest_books.get(t) == levels:
                continue
            self._rest_books[t] = levels
            q = book_to_quote(book, source="kalshi.rest", qid=rest_quote_id(t, f.fetched_at))
            self.sink.publish(QUOTES_TOPIC, listing_id(t), q)
            self.stats.quotes += 1
            self.stats.last_quotes[t] = q
            quotes.append(q)
        return quotes

    # -------------------------------------------------------------- streaming

    async def stream(self, tickers: list[str], *, until: Callable[[FeedStats], bool]) -> FeedStats:
        """One connection: subscribe the market channels and publish until `until(stats)` or the server closes.

        Keeping the feed alive across disconnects is the caller's job (runner.py
        reconnects with backoff); every connection starts from fresh snapshots.
        """
        processor = self._processor = WsProcessor()
        self._wanted = tuple(tickers)
        async with self._ws_factory() as ws:
            self._ws = ws
            try:
                await ws.subscribe(MARKET_CHANNELS, self._wanted)
                async for frame in ws.frames():
                    recv = self._clock()
                    self.stats.frames += 1
                    self.sink.publish(RAW_TOPIC, f"{SOURCE}:ws", raw_from_frame(ws.url, frame, recv, self.stats.frames))
                    for out in processor.step(frame, recv):
                        await self._handle(ws, out, recv)
                    if until(self.stats):
                        break
            finally:
                self._ws = None
        return self.stats

    async def watch(self, tickers: list[str]) -> tuple[str, ...]:
        """Add markets to the streamed set; on a live connection they are subscribed at once.

        Returns the markets that were new. Markets already streamed stay subscribed
        (a closed market simply stops sending); the next connection subscribes the
        whole set again.
        """
        added = tuple(t for t in dict.fromkeys(tickers) if t not in self._wanted)
        if not added:
            return ()
        self._wanted = self._wanted + added
        if self._ws is not None:
            await self._ws.subscribe(MARKET_CHANNELS, added)
        return added

    @property
    def streamed(self) -> tuple[str, ...]:
        """Markets the current (or next) connection subscribes."""
        return self._wanted

    async def _handle(self, ws: KalshiWs, out: Any, recv: int) -> None:
        if isinstance(out, QuoteOut):
            self.sink.publish(QUOTES_TOPIC, listing_id(out.quote.market_id), out.quote)
            self.stats.quotes += 1
            self.stats.last_quotes[out.quote.market_id] = out.quote
        elif isinstance(out, DeadOut):
            self.sink.dead_letter(RAW_TOPIC, out.value, out.error, recv, key=f"{SOURCE}:ws")
            self.stats.dead += 1
        elif isinstance(out, ResubscribeOut):
            self.stats.resyncs += 1
            await ws.unsubscribe([out.sid])
            # a gap before any snapshot names no market: resubscribe every wanted one without a live book
            again = out.tickers or tuple(t for t in self._wanted if self._processor.books.book(t) is None)
            if again:
                await ws.subscribe(("orderbook_delta",), again)
        elif isinstance(out, RelistOut):
            # closed, determined or settled: its listing (status, result, settlement value) onto the catalog now
            try:
                await self.refresh([out.ticker])
            except KalshiError as exc:  # the next discovery round re-reads it anyway
                log.warning("kalshi relist failed", ticker=out.ticker, event=out.event_type, error=str(exc))
        elif isinstance(out, MessageOut):
            return
        else:  # pragma: no cover - the Output union is closed
            raise KalshiError(f"unhandled feed output {out!r}")
