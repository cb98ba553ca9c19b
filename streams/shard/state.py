"""Per-event shard state: the latest event state, model output and every linked market's book.

Books are held column-wise so the edge computation reads them without a loop:
`p4[m, side, level]` / `c100[m, side, level]` are the ask ladders (side 0 = YES,
1 = NO) in $0.0001 and 0.01-contract units, padded with zero size. A state value
is never mutated after it is built, so `step` stays a pure function: the
processor builds the next books of every event a batch touched in one pass
(`streams.shard.batch`). The contract records the arrays were built from are
kept too: they are what a snapshot stores, and the arrays are rebuilt from them
on recovery.

Everything derived from the market set (pairs, per-market pair lists, fee rows,
the key index) is rebuilt only when a market is added or its link/listing changes
in a way that matters (`structure_key`), never per quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from schemas.enums import Venue
from schemas import depth
from schemas.enums import Action, Side
from schemas.records import EventState, MarketLink, MarketListing, Quote, ResolutionRule
from streams.fees import FeeSchedule
from streams.shard.equivalence import PairingPolicy, Verdict, compare
from streams.fees.fixed import PRICE_QUANTUM_MICROS, FeeError
from streams.shard.prior import PregamePrice
from streams.keys import market_key  # noqa: F401 - the one definition; shard modules import it from here

YES, NO = 0, 1
#: Deeper levels than this are dropped: no edge survives that far and arrays stay small.
MAX_LEVELS = 32

_EMPTY = np.zeros(0, np.int64)
_EMPTY.setflags(write=False)


class BadShardInput(ValueError):
    """A record the shard cannot use (malformed book, missing link/listing): dead-letter it."""


@dataclass(frozen=True)
class MarketEntry:
    """The contract records behind one market's rows."""

    link: MarketLink
    listing: MarketListing
    quote: Quote | None
    fee: FeeSchedule


StructureKey = tuple[str, Venue, float, float, int | None, int | None, str, ResolutionRule | None, str | None]


def structure_key(link: MarketLink, listing: MarketListing) -> StructureKey:
    """Every link/listing field that outputs depend on (role, fee schedule, arbitrage rules).

    Two quotes of a market whose keys are equal need no re-validation and no rebuild.
    """
    return (
        link.yes_role,
        listing.venue,
        listing.taker_fee_rate,
        listing.fee_exponent,
        listing.settle_ts,
        listing.close_ts,
        listing.resolution_source,
        listing.resolution,
        listing.league,
    )


#: Sizes at or past this (hundredths of a contract) are refused: c100 must fit int64 with room for running sums.
SIZE_LIMIT = 2**62


def ladder_arrays(prices: np.ndarray, c100: np.ndarray, max_levels: int = MAX_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """Ask ladder (micro-dollars, hundredths) → (p4, c100) int64 arrays, validated: executable prices only, ascending.

    The single-ladder form of `streams.shard.ladders.batch_ladders` (same rules); used
    for snapshots, tests and to word the error of a refused batch row.
    """
    prices, c100 = prices[:max_levels], c100[:max_levels]
    keep = c100 > 0
    p4, c100 = prices[keep], c100[keep]
    if np.any(c100 >= SIZE_LIMIT):
        raise BadShardInput(f"ask sizes {(c100 / 100).tolist()} are not finite contract counts")
    if len(p4):
        if np.any(p4 % PRICE_QUANTUM_MICROS) or np.any(p4 <= 0) or np.any(p4 >= 1_000_000):
            raise BadShardInput(f"ask prices {p4.tolist()} are not multiples of $0.0001 inside (0, 1)")
        if np.any(np.diff(p4) <= 0):
            raise BadShardInput(f"ask prices {p4.tolist()} are not strictly ascending")
    return p4 // PRICE_QUANTUM_MICROS, c100.astype(np.int64)


def quote_ladders(quote: Quote) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The YES and NO ask ladders as (p4, c100); a quote without depth is its top of book."""
    try:
        yes = depth.ladder(quote, Side.YES, Action.BUY)
        no = depth.ladder(quote, Side.NO, Action.BUY)
    except ValueError as exc:
        raise BadShardInput(f"quote {quote.quote_id}: {exc}") from exc
    return ladder_arrays(*yes), ladder_arrays(*no)


@dataclass(frozen=True)
class Books:
    """Column-wise market table of one event (M markets, L levels)."""

    keys: tuple[str, ...] = ()
    links: tuple[MarketLink, ...] = ()
    listings: tuple[MarketListing, ...] = ()
    quotes: tuple[Quote, ...] = ()
    fees: tuple[FeeSchedule, ...] = ()
    structure: tuple[StructureKey, ...] = ()
    venue: np.ndarray = field(default_factory=lambda: _EMPTY)
    rate_ppm: np.ndarray = field(default_factory=lambda: _EMPTY)
    exponent: np.ndarray = field(default_factory=lambda: _EMPTY)
    quote_ts: np.ndarray = field(default_factory=lambda: _EMPTY)
    p4: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 1), np.int64))
    c100: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 1), np.int64))
    #: Cross-venue arbitrage candidates: buy YES on pair_yes[k], NO on pair_no[k].
    pair_yes: np.ndarray = field(default_factory=lambda: _EMPTY)
    pair_no: np.ndarray = field(default_factory=lambda: _EMPTY)
    #: Why each pair's rules are equivalent, in pair order (goes on the arbitrage signal).
    pair_reason: tuple[str, ...] = ()
    #: Cross-venue markets of the same outcome role that are not paired, and why: (market key, market key, reason).
    refused: tuple[tuple[str, str, str], ...] = ()
    #: Per market m: the pairs that involve m (their YES and NO markets), in pair order.
    touch_yes: tuple[np.ndarray, ...] = ()
    touch_no: tuple[np.ndarray, ...] = ()
    slots: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def index(self, key: str) -> int | None:
        return self.slots.get(key)

    def verdicts(self) -> frozenset[tuple[str, str, bool, str]]:
        """Every cross-venue same-outcome pair of markets with its verdict: (key, key, equivalent, reason)."""
        paired = {
            (*sorted((self.keys[y], self.keys[n])), True, r)
            for y, n, r in zip(self.pair_yes.tolist(), self.pair_no.tolist(), self.pair_reason)
        }
        return frozenset(paired | {(*sorted((a, b)), False, r) for a, b, r in self.refused})

    def reason_of(self, yes_m: int, no_m: int) -> str:
        """Why buying YES on market `yes_m` and NO on `no_m` is an arbitrage (their rules' verdict)."""
        hit = np.flatnonzero((self.pair_yes == yes_m) & (self.pair_no == no_m))
        return self.pair_reason[int(hit[0])] if len(hit) else ""

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(s[0] for s in self.structure)

    @property
    def entries(self) -> tuple[MarketEntry, ...]:
        return tuple(MarketEntry(*e) for e in zip(self.links, self.listings, self.quotes, self.fees))

    @classmethod
    def from_entries(cls, entries: Sequence[MarketEntry], policy: PairingPolicy) -> "Books":
        """Build the whole table at once (recovery)."""
        books = cls()
        for e in entries:
            books = books._with(e, books.index(market_key(e.link.venue, e.link.market_id)), policy)
        return books

    def upsert(self, entry: MarketEntry, policy: PairingPolicy) -> "Books":
        """Add or replace one market (link, listing and quote); rebuilds the pairs, so not per quote."""
        return self._with(entry, self.index(market_key(entry.link.venue, entry.link.market_id)), policy)

    def _with(self, entry: MarketEntry, m: int | None, policy: PairingPolicy) -> "Books":
        quote = entry.quote
        key = market_key(entry.link.venue, entry.link.market_id)
        if quote is None:
            raise BadShardInput(f"{key}: no quote")
        (yp, yc), (np_, nc) = quote_ladders(quote)
        width = max(self.p4.shape[2], len(yp), len(np_), 1)
        n = len(self.keys)
        p4 = np.zeros((n + (m is None), 2, width), np.int64)
        c100 = np.zeros_like(p4)
        p4[:n, :, : self.p4.shape[2]] = self.p4
        c100[:n, :, : self.c100.shape[2]] = self.c100
        i = n if m is None else m
        p4[i] = 0
        c100[i] = 0
        p4[i, YES, : len(yp)], c100[i, YES, : len(yc)] = yp, yc
        p4[i, NO, : len(np_)], c100[i, NO, : len(nc)] = np_, nc
        entries = list(self.entries)
        if m is None:
            entries.append(entry)
        else:
            entries[m] = entry
        keys = self.keys + (key,) if m is None else self.keys
        fees = tuple(e.fee for e in entries)
        pairing = arbitrage_pairs(entries, policy)
        pair_yes, pair_no = pairing.pair_yes, pairing.pair_no
        return Books(
            keys=keys,
            links=tuple(e.link for e in entries),
            listings=tuple(e.listing for e in entries),
            quotes=tuple(e.quote for e in entries),  # type: ignore[misc]
            fees=fees,
            structure=tuple(structure_key(e.link, e.listing) for e in entries),
            venue=np.array([f.venue_code for f in fees], np.int64),
            rate_ppm=np.array([f.rate_ppm for f in fees], np.int64),
            exponent=np.array([f.exponent for f in fees], np.int64),
            quote_ts=np.array([e.quote.ts for e in entries], np.int64),  # type: ignore[union-attr]
            p4=p4,
            c100=c100,
            pair_yes=pair_yes,
            pair_no=pair_no,
            pair_reason=pairing.reasons,
            refused=pairing.refused,
            touch_yes=tuple(pair_yes[(pair_yes == j) | (pair_no == j)] for j in range(len(entries))),
            touch_no=tuple(pair_no[(pair_yes == j) | (pair_no == j)] for j in range(len(entries))),
            slots={k: j for j, k in enumerate(keys)},
        )


@dataclass(frozen=True)
class Pairing:
    pair_yes: np.ndarray
    pair_no: np.ndarray
    reasons: tuple[str, ...]
    refused: tuple[tuple[str, str, str], ...]


def arbitrage_pairs(entries: Sequence[MarketEntry], policy: PairingPolicy) -> Pairing:
    """Ordered pairs (i buys YES, j buys NO): same outcome role, other venue, equivalent rules.

    Row-major order over (i, j). Each unordered pair's rules are compared once
    (`equivalence.compare`); the reason is kept for the signal, or for the log when refused.
    """
    ys: list[int] = []
    ns: list[int] = []
    reasons: list[str] = []
    refused: list[tuple[str, str, str]] = []
    verdicts: dict[tuple[int, int], Verdict] = {}
    for i, a in enumerate(entries):
        for j, b in enumerate(entries):
            if a.link.yes_role != b.link.yes_role or a.link.venue == b.link.venue:
                continue
            pair = (min(i, j), max(i, j))
            if pair not in verdicts:
                verdicts[pair] = compare(entries[pair[0]].listing, entries[pair[1]].listing, policy)
                if not verdicts[pair].equivalent:
                    ea, eb = entries[pair[0]].link, entries[pair[1]].link
                    refused.append((market_key(ea.venue, ea.market_id), market_key(eb.venue, eb.market_id),
                                    verdicts[pair].reason))
            if verdicts[pair].equivalent:
                ys.append(i)
                ns.append(j)
                reasons.append(verdicts[pair].reason)
    if not ys:
        return Pairing(_EMPTY, _EMPTY, (), tuple(refused))
    return Pairing(np.array(ys, np.int64), np.array(ns, np.int64), tuple(reasons), tuple(refused))


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
    #: The last pregame book mid of a linked market: the prior of a game that has no line (`streams.shard.prior`).
    pregame: PregamePrice | None = None


def kept_listing(listing: MarketListing) -> MarketListing:
    """The listing as the shard keeps it: without its rules text. No shard rule reads the text (markets pair on
    the parsed `resolution`, streams.shard.equivalence), and it was most of every snapshot the shard writes
    (~800 of a Kalshi listing's ~1,230 bytes, three listings in a game's snapshot). Applied where a listing
    enters the state, so a worker and one recovered from its changelog hold the same listing."""
    return listing if not listing.rules else replace(listing, rules="")


def check_link(link: MarketLink | None, listing: MarketListing | None, quote: Quote) -> tuple[MarketLink, MarketListing]:
    """A quote needs its link and listing (sent with it, or kept from an earlier input of its market),
    and they must describe the same market."""
    if link is None or listing is None:
        raise BadShardInput(f"quote {quote.quote_id} for {quote.market_id} lacks its link or listing "
                            "(neither sent with it nor known to the shard from an earlier input)")
    if (
        link.market_id != quote.market_id
        or listing.market_id != quote.market_id
        or link.venue is not quote.venue
        or listing.venue is not quote.venue
    ):
        raise BadShardInput(f"quote {quote.quote_id}: link/listing are for another market")
    return link, listing


def entry_from(link: MarketLink | None, listing: MarketListing | None, quote: Quote) -> MarketEntry:
    """Check a quote's link and listing fully and derive the market's fee schedule."""
    link, listing = check_link(link, listing, quote)
    if not link.yes_role:
        raise BadShardInput(f"link {link.link_id} has no yes_role")
    try:
        fee = FeeSchedule.from_listing(listing)
    except FeeError as exc:
        raise BadShardInput(str(exc)) from exc
    return MarketEntry(link=link, listing=listing, quote=quote, fee=fee)
