"""The Polymarket feed: Gamma discovery → markets.catalog, market channel → markets.quotes.

Every answer goes to `raw.polymarket` first (key "polymarket:<endpoint>"), then
its normalized records; a payload that cannot be parsed goes to the dead-letter
topic with the reason and the feed keeps running. A book in doubt is resynced
from REST /book before any further quote is published for its market.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from connectors.polymarket.book import LocalBook
from connectors.polymarket.clob import ClobClient, parse_book_answer
from connectors.polymarket.errors import BadPayload, BookNotReady, LegacyPriceChange, ResyncRequired
from connectors.polymarket.gamma import GammaClient, GammaPage, event_of_market, parse_gamma_event, parse_gamma_market
from connectors.polymarket.http import RawResponse, wall_clock_ms
from connectors.polymarket.messages import (
    BestBidAskMsg,
    BookMsg,
    LastTradeMsg,
    PriceChangeMsg,
    TickSizeChangeMsg,
    parse_ws_message,
    split_frame,
)
from connectors.polymarket.normalize import listing_from_gamma, listing_key, quote_from_books
from connectors.polymarket.ws import Frame, MarketStream
from schemas.records import MarketListing, RawFeed

log = structlog.get_logger(__name__)

RAW_TOPIC = "raw.polymarket"
CATALOG_TOPIC = "markets.catalog"
QUOTES_TOPIC = "markets.quotes"
#: Condition ids per gamma /markets request when re-reading tracked markets that left discovery.
REFRESH_BATCH = 50


class Sink(Protocol):
    """What the feed writes to: connectors.publisher.Publisher in production."""

    def publish(self, topic: str, key: str, record: Any) -> None: ...

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int,
                    key: str | None = None) -> None: ...


def raw_feed(raw: RawResponse) -> RawFeed:
    digest = hashlib.sha1(f"{raw.url}|{sorted(raw.params.items())}|{raw.fetched_at}|".encode() + raw.body.encode())
    return RawFeed(
        raw_id=f"polymarket:{raw.endpoint}:{digest.hexdigest()[:20]}",
        ts=raw.fetched_at,
        source="polymarket",
        endpoint=raw.endpoint,
        url=raw.url,
        params=dict(raw.params),
        status=raw.status,
        fetched_at=raw.fetched_at,
        body=raw.body,
    )


@dataclass
class FeedStats:
    frames: int = 0
    quotes: int = 0
    listings: int = 0
    dead_letters: int = 0
    resyncs: int = 0
    resync_reasons: list[str] = field(default_factory=list)


class PolymarketFeed:
    def __init__(self, sink: Sink, gamma: GammaClient, clob: ClobClient,
                 clock: Callable[[], int] = wall_clock_ms) -> None:
        self._sink = sink
        self._gamma = gamma
        self._clob = clob
        self._clock = clock
        self.stats = FeedStats()
        self.books: dict[str, LocalBook] = {}
        self._markets: dict[str, tuple[str, str]] = {}  # condition id → (yes token, no token)
        self._token_market: dict[str, str] = {}
        self._streamed = False  # frames of some connection have been applied to the books

    def _raw(self, raw: RawResponse) -> None:
        self._sink.publish(RAW_TOPIC, f"polymarket:{raw.endpoint}", raw_feed(raw))

    def _dead(self, value: bytes, error: BaseException | str, ts: int, key: str) -> None:
        self.stats.dead_letters += 1
        self._sink.dead_letter(RAW_TOPIC, value, error, ts, key=key)

    # -------------------------------------------------------------- discovery

    def _page(self, page: GammaPage) -> bool:
        """Publish a gamma page raw; an unreadable one is dead-lettered too (False: nothing to list)."""
        self._raw(page.raw)
        if page.error is not None:
            self._dead(page.raw.body.encode(), page.error, page.raw.fetched_at, f"polymarket:{page.raw.endpoint}")
            return False
        return True

    async def discover(self, **filters: Any) -> list[MarketListing]:
        """Page through active events; publish raw pages, then one listing per binary market."""
        listings: list[MarketListing] = []
        async for page in self._gamma.events(**filters):
            if not self._page(page):
                continue
            for item in page.items:
                try:
                    event = parse_gamma_event(item)
                except BadPayload as exc:
                    self._dead(repr(item).encode(), exc, page.raw.fetched_at, "polymarket:events")
                    continue
                for rejected in event.rejected:
                    self._dead(rejected.payload, rejected.error, page.raw.fetched_at, "polymarket:events")
                for market in event.markets:
                    listing = listing_from_gamma(market, event, page.raw.fetched_at)
                    self._sink.publish(CATALOG_TOPIC, listing.listing_id, listing)
                    self.stats.listings += 1
                    listings.append(listing)
        return listings

    async def refresh(self, condition_ids: list[str]) -> list[MarketListing]:
        """These markets as gamma lists them now (closed or not), raw pages first, onto `markets.catalog`.

        Discovery pages through active, unclosed events; a market that closes or resolves drops out of
        them, and this is how its close, UMA resolution and outcome prices reach the log.
        """
        listings: list[MarketListing] = []
        for i in range(0, len(condition_ids), REFRESH_BATCH):
            async for page in self._gamma.markets(condition_ids=condition_ids[i:i + REFRESH_BATCH]):
                if not self._page(page):
                    continue
                for item in page.items:
                    try:
                        listing = listing_from_gamma(parse_gamma_market(item), event_of_market(item), page.raw.fetched_at)
                    except BadPayload as exc:
                        self._dead(repr(item).encode(), exc, page.raw.fetched_at, "polymarket:markets")
                        continue
                    self._sink.publish(CATALOG_TOPIC, listing.listing_id, listing)
                    self.stats.listings += 1
                    listings.append(listing)
        return listings

    # ----------------------------------------------------------------- quotes

    def track(self, listing: MarketListing) -> None:
        """Keep books for both tokens of a listing (seeded with its tick)."""
        if not listing.token_yes or not listing.token_no:
            raise BadPayload(f"{listing.listing_id} has no CLOB tokens")
        self._markets[listing.market_id] = (listing.token_yes, listing.token_no)
        for token in (listing.token_yes, listing.token_no):
            self.books[token] = LocalBook(token, listing.market_id, listing.tick_micros)
            self._token_market[token] = listing.market_id

    @property
    def asset_ids(self) -> list[str]:
        return list(self.books)

    async def resync(self, asset_id: str, reason: str) -> None:
        self.stats.resyncs += 1
        self.stats.resync_reasons.append(reason)
        log.info("polymarket book resync", asset=asset_id[:12], reason=reason)
        raw = await self._clob.book_answer(asset_id)
        self._raw(raw)
        book = self.books[asset_id]
        try:
            snap = parse_book_answer(raw)
            if snap.asset_id != asset_id:
                raise BadPayload(f"book answer for token {asset_id[:12]}… is the book of {snap.asset_id[:12]}…")
            book.apply_snapshot(snap, from_rest=True)
        except (BadPayload, ResyncRequired) as exc:
            # the book stays failed (no quote) until a snapshot it can trust arrives on the stream
            book.fail(f"REST book refused: {exc}")
            self._dead(raw.body.encode(), exc, raw.fetched_at, f"polymarket:{raw.endpoint}")

    def _publish_quote(self, market: str) -> None:
        yes_token, no_token = self._markets[market]
        try:
            yes, no = self.books[yes_token].view(), self.books[no_token].view()
        except BookNotReady:
            return  # a side has no trustworthy snapshot yet
        quote = quote_from_books(market, yes, no, max(yes.ts, no.ts))
        self._sink.publish(QUOTES_TOPIC, listing_key(market), quote)
        self.stats.quotes += 1

    def _apply(self, msg: BookMsg | PriceChangeMsg | LastTradeMsg | TickSizeChangeMsg | BestBidAskMsg,
               ) -> tuple[set[str], set[str]]:
        """Apply one message; returns (markets whose book changed, assets needing a resync)."""
        changed: set[str] = set()
        resync: set[str] = set()

        def book_of(asset: str) -> LocalBook | None:
            return self.books.get(asset)

        match msg:
            case BookMsg():
                book = book_of(msg.asset_id)
                if book is not None:
                    try:
                        book.apply_snapshot(msg, from_rest=False)
                        changed.add(book.market)
                    except ResyncRequired:
                        resync.add(msg.asset_id)
            case PriceChangeMsg():
                for change in msg.changes:
                    book = book_of(change.asset_id)
                    if book is None or change.asset_id in resync:
                        continue
                    try:
                        if book.apply_change(change, msg.ts):
                            changed.add(book.market)
                    except ResyncRequired:
                        resync.add(change.asset_id)
            case TickSizeChangeMsg():
                book = book_of(msg.asset_id)
                if book is not None:
                    try:
                        book.apply_tick_size(msg)
                        changed.add(book.market)
                    except ResyncRequired:
                        resync.add(msg.asset_id)
            case BestBidAskMsg():
                book = book_of(msg.asset_id)
                if book is not None:
                    try:
                        book.apply_best_bid_ask(msg)
                    except ResyncRequired:
                        resync.add(msg.asset_id)
            case LastTradeMsg():
                book = book_of(msg.asset_id)
                if book is not None:
                    try:
                        book.apply_last_trade(msg)
                    except ResyncRequired:
                        resync.add(msg.asset_id)
        return changed, resync

    async def on_frame(self, frame: Frame, url: str) -> None:
        """Raw first; then each message of the frame, resyncs, and one quote per changed market."""
        self.stats.frames += 1
        self._raw(RawResponse("ws/market", url, {}, 101, frame.text, frame.received_at))
        try:
            items = split_frame(frame.text)
        except BadPayload as exc:
            self._dead(frame.text.encode(), exc, frame.received_at, "polymarket:ws/market")
            return
        changed: set[str] = set()
        for item in items:
            try:
                msg = parse_ws_message(item)
            except LegacyPriceChange as exc:
                self._dead(repr(item).encode(), exc, frame.received_at, "polymarket:ws/market")
                asset = item.get("asset_id") if isinstance(item, dict) else None
                if isinstance(asset, str) and asset in self.books:
                    # a change we refused may have moved the book: never keep a possibly wrong one
                    err = self.books[asset].fail("legacy price_change refused")
                    await self.resync(asset, err.reason)
                    changed.add(self.books[asset].market)
                continue
            except BadPayload as exc:
                self._dead(repr(item).encode(), exc, frame.received_at, "polymarket:ws/market")
                continue
            moved, resync = self._apply(msg)
            changed |= moved
            for asset in sorted(resync):
                await self.resync(asset, self.books[asset].last_failure)
                changed.add(self.books[asset].market)
        for market in sorted(changed):
            self._publish_quote(market)

    def invalidate(self, reason: str) -> None:
        """Void every book (a new stream is coming): no quote until each side has a fresh snapshot."""
        for book in self.books.values():
            book.fail(reason)

    @property
    def tracked_markets(self) -> tuple[str, ...]:
        return tuple(self._markets)

    async def run(self, stream: MarketStream, stop: Callable[[FeedStats], bool]) -> FeedStats:
        """Consume the market channel until `stop(stats)` says so (tests) or forever (service).

        Books of an earlier connection (of this stream or of an earlier one) are
        voided when frames of a new one arrive: the venue re-sends snapshots on subscribe.
        """
        connection = 0
        async with contextlib.aclosing(stream.frames()) as frames:
            async for frame in frames:
                if frame.connection != connection:
                    if self._streamed:
                        self.invalidate("websocket reconnected")
                    connection = frame.connection
                    self._streamed = True
                await self.on_frame(frame, stream.url)
                if stop(self.stats):
                    break
        return self.stats
