"""What the trading processors remember of market data: tops, links, book history, finals.

Quotes reach the trading agents as `ShardInput`s (quote + link + listing) fanned
out per account. Sizing and positions keep only a small top of book per market;
execution keeps a short history of full books per market (streams.trading.book_history,
keyed by account and market) to fill an order against the book as of its time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from schemas.enums import Action, Side
from schemas import depth
from schemas.records import MarketLink, MarketListing, Quote
from streams.fees import FeeError, FeeSchedule
from streams.keys import market_key
from streams.listings import is_open
from streams.trading.units import Micros


@dataclass(frozen=True)
class Top:
    """Best prices of one market (None: no level) and the listing facts sizing needs."""

    ts: int
    seq: int
    yes_bid: int | None
    yes_ask: int | None
    no_bid: int | None
    no_ask: int | None
    tick: int | None = None
    min_size: float | None = None
    #: The listing takes orders (streams.listings.is_open); a closed, paused or settled market does not.
    open: bool = True
    #: The market's taker fee schedule (from its listing), to price an order at the size actually sent.
    fees: FeeSchedule | None = None

    def price(self, side: Side, action: Action) -> Micros | None:
        """Where an order of `side`/`action` trades first: the ask to buy, the bid to sell."""
        if action is Action.BUY:
            v = self.yes_ask if side is Side.YES else self.no_ask
        else:
            v = self.yes_bid if side is Side.YES else self.no_bid
        return Micros(v) if v is not None else None


def _best(quote: Quote, top: int | None, side: Side, action: Action) -> int | None:
    """The quote's own top when given, else the best level of its ladder."""
    if top is not None:
        return top
    prices, c100 = depth.ladder(quote, side, action)
    prices = prices[c100 > 0]
    if not len(prices):
        return None
    return int(prices.min() if action is Action.BUY else prices.max())


def top_of(quote: Quote, listing: MarketListing | None, before: Top | None = None) -> Top | None:
    """The new top, or None when the quote is older than what is known (out of order)."""
    if before is not None and (quote.ts, quote.seq) < (before.ts, before.seq):
        return None
    return Top(
        ts=quote.ts,
        seq=quote.seq,
        yes_bid=_best(quote, quote.yes_bid_micros, Side.YES, Action.SELL),
        yes_ask=_best(quote, quote.yes_ask_micros, Side.YES, Action.BUY),
        no_bid=_best(quote, quote.no_bid_micros, Side.NO, Action.SELL),
        no_ask=_best(quote, quote.no_ask_micros, Side.NO, Action.BUY),
        tick=listing.tick_micros if listing is not None else (before.tick if before else None),
        min_size=listing.min_order_size if listing is not None else (before.min_size if before else None),
        open=is_open(listing) if listing is not None else (before.open if before else True),
        fees=_fees(listing) if listing is not None else (before.fees if before else None),
    )


def _fees(listing: MarketListing) -> FeeSchedule | None:
    try:
        return FeeSchedule.from_listing(listing)
    except FeeError:
        return None  # a venue without a fee model: sizing keeps the signal's fee


@dataclass(frozen=True)
class LinkFacts:
    """Which event a market is about and which entity its YES side backs."""

    event_id: str
    yes_role: str


def link_facts(link: MarketLink | None) -> LinkFacts | None:
    if link is None or not link.event_id:
        return None
    return LinkFacts(link.event_id, link.yes_role)


@dataclass(frozen=True)
class MarketBooks:
    """Recent full books of one market, oldest first, with its listing (fees, tick): what execution reads."""

    key: str
    history: tuple[Quote, ...] = ()
    listing: MarketListing | None = None


class _Stamped(Protocol):
    @property
    def ts(self) -> int: ...

    @property
    def seq(self) -> int: ...


S = TypeVar("S", bound=_Stamped)


def within_window(books: Sequence[S], window_ms: int) -> tuple[S, ...]:
    """Books in (ts, seq) order cut to every one of the `window_ms` before the latest, and the newest one older
    than that, so the book as of any time in the window is still known. Bounded by event time, not by count."""
    if not books:
        return ()
    cutoff = books[-1].ts - window_ms
    older = sum(1 for b in books if b.ts < cutoff)
    return tuple(books[max(older - 1, 0):])


def observe_book(books: MarketBooks | None, key: str, quote: Quote, listing: MarketListing | None,
                 window_ms: int) -> MarketBooks:
    """Add a book to the history, kept in (ts, seq) order (a replayed quote is not added twice)."""
    cur = books or MarketBooks(key)
    if any(q.quote_id == quote.quote_id for q in cur.history):
        hist = cur.history
    else:
        hist = within_window(sorted((*cur.history, quote), key=lambda q: (q.ts, q.seq)), window_ms)
    return replace(cur, history=hist, listing=listing or cur.listing)


def held_from(books: MarketBooks, window_ms: int) -> int | None:
    """The earliest time whose book the history still answers for (None: it answers for any time).

    Once books older than the window were dropped, a time before the first book held may have had
    one of them; up to then, a time before the first book simply had no book yet.
    """
    if not books.history or books.history[0].ts >= books.history[-1].ts - window_ms:
        return None
    return books.history[0].ts


__all__ = ["LinkFacts", "MarketBooks", "Top", "link_facts", "held_from", "market_key", "observe_book", "top_of", "within_window"]
