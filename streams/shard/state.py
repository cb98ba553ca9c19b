"""Per-event shard state: the latest event state, model output and every linked market's book.

Books are held column-wise so the edge computation reads them without a loop:
`p4[m, side, level]` / `c100[m, side, level]` are the ask ladders (side 0 = YES,
1 = NO) in $0.0001 and 0.01-contract units, padded with zero size. A quote
replaces one market's rows copy-on-write, so a state value is never mutated
after it is built and `step` stays a pure function. The contract records the
arrays were built from are kept too: they are what a snapshot stores, and the
arrays are rebuilt from them on recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from schemas.enums import Venue
from schemas.records import EventState, Level, MarketLink, MarketListing, Quote
from streams.fees import FeeSchedule
from streams.fees.fixed import PRICE_QUANTUM_MICROS, FeeError

YES, NO = 0, 1
#: Deeper levels than this are dropped: no edge survives that far and arrays stay small.
MAX_LEVELS = 32


class BadShardInput(ValueError):
    """A record the shard cannot use (malformed book, missing link/listing): dead-letter it."""


@dataclass(frozen=True)
class MarketEntry:
    """The contract records behind one market's rows."""

    link: MarketLink
    listing: MarketListing
    quote: Quote | None
    fee: FeeSchedule


def market_key(venue: Venue, market_id: str) -> str:
    return f"{venue.value}:{market_id}"


def settle_time(listing: MarketListing) -> int | None:
    """When the market's outcome is fixed: settle time if published, else close time."""
    return listing.settle_ts if listing.settle_ts is not None else listing.close_ts


def _ladder(levels: Sequence[Level], best_price: int | None, best_size: float) -> list[Level]:
    if levels:
        return list(levels)
    if best_price is not None and best_size > 0:
        return [Level(best_price, best_size)]
    return []


def ladder_arrays(levels: Sequence[Level], max_levels: int = MAX_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """Ask ladder → (p4, c100) int64 arrays, validated: executable prices only, ascending."""
    kept = [lv for lv in levels[:max_levels] if lv.size > 0]
    p4 = np.fromiter((lv.price_micros for lv in kept), dtype=np.int64, count=len(kept))
    c100 = np.fromiter((round(lv.size * 100) for lv in kept), dtype=np.int64, count=len(kept))
    if len(kept):
        if np.any(p4 % PRICE_QUANTUM_MICROS) or np.any(p4 <= 0) or np.any(p4 >= 1_000_000):
            raise BadShardInput(f"ask prices {p4.tolist()} are not multiples of $0.0001 inside (0, 1)")
        if np.any(np.diff(p4) <= 0):
            raise BadShardInput(f"ask prices {p4.tolist()} are not strictly ascending")
    return p4 // PRICE_QUANTUM_MICROS, c100


def quote_ladders(quote: Quote) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    yes = ladder_arrays(_ladder(quote.yes_asks, quote.yes_ask_micros, quote.yes_ask_size))
    no = ladder_arrays(_ladder(quote.no_asks, quote.no_ask_micros, quote.no_ask_size))
    return yes, no


@dataclass(frozen=True)
class Books:
    """Column-wise market table of one event (M markets, L levels)."""

    keys: tuple[str, ...] = ()
    entries: tuple[MarketEntry, ...] = ()
    venue: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rate_ppm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exponent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quote_ts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    p4: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 1), np.int64))
    c100: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 1), np.int64))
    #: Cross-venue arbitrage candidates: buy YES on pair_yes[k], NO on pair_no[k].
    pair_yes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_no: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def index(self, key: str) -> int | None:
        try:
            return self.keys.index(key)
        except ValueError:
            return None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(e.link.yes_role for e in self.entries)

    def upsert(self, entry: MarketEntry, settle_tolerance_ms: int) -> "Books":
        """Add or replace one market (link, listing and quote); rebuild pairs when the set changes."""
        key = market_key(entry.link.venue, entry.link.market_id)
        m = self.index(key)
        quote = entry.quote
        if quote is None:
            raise BadShardInput(f"{key}: no quote")
        (yp, yc), (np_, nc) = quote_ladders(quote)
        width = max(self.p4.shape[2], len(yp), len(np_), 1)
        p4, c100 = _widen(self.p4, width), _widen(self.c100, width)
        fee = entry.fee
        if m is None:
            m = len(self.keys)
            p4 = np.concatenate([p4, np.zeros((1, 2, width), np.int64)])
            c100 = np.concatenate([c100, np.zeros((1, 2, width), np.int64)])
            keys, entries = self.keys + (key,), self.entries + (entry,)
            venue = np.append(self.venue, fee.venue_code)
            rate = np.append(self.rate_ppm, fee.rate_ppm)
            expo = np.append(self.exponent, fee.exponent)
            qts = np.append(self.quote_ts, quote.ts)
            rebuilt = True
        else:
            p4, c100 = p4.copy() if p4 is self.p4 else p4, c100.copy() if c100 is self.c100 else c100
            old = self.entries[m]
            keys, entries = self.keys, self.entries[:m] + (entry,) + self.entries[m + 1 :]
            rebuilt = old.link != entry.link or old.listing != entry.listing
            venue, rate, expo, qts = self.venue, self.rate_ppm, self.exponent, self.quote_ts.copy()
            qts[m] = quote.ts
            if rebuilt:
                venue, rate, expo = venue.copy(), rate.copy(), expo.copy()
                venue[m], rate[m], expo[m] = fee.venue_code, fee.rate_ppm, fee.exponent
        p4[m] = 0
        c100[m] = 0
        p4[m, YES, : len(yp)], c100[m, YES, : len(yc)] = yp, yc
        p4[m, NO, : len(np_)], c100[m, NO, : len(nc)] = np_, nc
        books = replace(self, keys=keys, entries=entries, venue=venue, rate_ppm=rate, exponent=expo, quote_ts=qts, p4=p4, c100=c100)
        return _with_pairs(books, settle_tolerance_ms) if rebuilt else books


def _widen(a: np.ndarray, width: int) -> np.ndarray:
    if a.shape[2] >= width:
        return a
    out = np.zeros((a.shape[0], 2, width), np.int64)
    out[:, :, : a.shape[2]] = a
    return out


def equivalent_rules(a: MarketListing, b: MarketListing, tolerance_ms: int) -> bool:
    """Same resolution source and same settle time: only then do YES here and NO there lock $1."""
    src_a, src_b = a.resolution_source.strip().casefold(), b.resolution_source.strip().casefold()
    ta, tb = settle_time(a), settle_time(b)
    return bool(src_a) and src_a == src_b and ta is not None and tb is not None and abs(ta - tb) <= tolerance_ms


def _with_pairs(books: Books, tolerance_ms: int) -> Books:
    """Ordered pairs (i buys YES, j buys NO): same outcome role, other venue, equivalent rules.

    Runs only when the market set or a listing changes, never per quote.
    """
    ys, ns = [], []
    for i, ei in enumerate(books.entries):
        for j, ej in enumerate(books.entries):
            if (
                i != j
                and ei.link.venue != ej.link.venue
                and ei.link.yes_role == ej.link.yes_role
                and equivalent_rules(ei.listing, ej.listing, tolerance_ms)
            ):
                ys.append(i)
                ns.append(j)
    return replace(books, pair_yes=np.array(ys, np.int64), pair_no=np.array(ns, np.int64))


@dataclass(frozen=True)
class ShardState:
    """Everything one event's shard knows; replaced, never mutated, by `step`."""

    event_id: str
    state: EventState | None = None
    probs: dict[str, float] | None = None  # model output for `state`
    model: str = ""
    version: str = ""
    emitted: dict[str, float] | None = None  # outcomes of the last Probability sent
    model_error: str = ""
    books: Books = field(default_factory=Books)


def entry_from(link: MarketLink | None, listing: MarketListing | None, quote: Quote) -> MarketEntry:
    """Check that a quote arrives with its link and listing and that they describe the same market."""
    if link is None or listing is None:
        raise BadShardInput(f"quote {quote.quote_id} for {quote.market_id} lacks its link or listing")
    if (link.venue, link.market_id) != (quote.venue, quote.market_id) or (listing.venue, listing.market_id) != (
        quote.venue,
        quote.market_id,
    ):
        raise BadShardInput(f"quote {quote.quote_id}: link/listing are for another market")
    if not link.yes_role:
        raise BadShardInput(f"link {link.link_id} has no yes_role")
    try:
        fee = FeeSchedule.from_listing(listing)
    except FeeError as exc:
        raise BadShardInput(str(exc)) from exc
    return MarketEntry(link=link, listing=listing, quote=quote, fee=fee)
