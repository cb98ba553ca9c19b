"""One segment of a batch: the books each record saw, without copying a book per record.

Records of a segment are planned one by one in Python (cheap bookkeeping only);
the ladders are never copied per record. Instead every applied quote is
registered as (ladder row of the batch, market, record index), and a row that
a record asks to be priced names a market and the record. When the segment is
finished, one array holds the pre-segment books of every touched event followed
by the batch's quote ladders, and a sorted search gives, for every (market,
record), the newest quote of that market at or before the record — or its
pre-segment book row. One fancy index then gathers all rows of the segment.

A segment never spans a change of an event's market set or link rules (the
processor closes the segment first), so each touched event's markets, roles,
fees and pairs are fixed inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from schemas.records import EventState, MarketLink, MarketListing, Quote
from streams.listings import is_open
from streams.shard.ladders import QuoteLadders
from streams.shard.prior import PregamePrice
from streams.shard.state import ShardState

T = TypeVar("T")
_new = object.__new__


def evolve(obj: T, **changes: Any) -> T:
    """`dataclasses.replace` for the shard's frozen state values, without re-running __init__.

    The state classes have no __post_init__ and no derived fields, so copying the
    field dict gives the same value; `replace` would cost more than the quote it applies.
    """
    out = _new(type(obj))
    out.__dict__.update(obj.__dict__)
    out.__dict__.update(changes)
    return out  # type: ignore[no-any-return]


@dataclass
class EventWork:
    """A touched event's working copy inside a segment (the record-by-record view)."""

    base: ShardState
    offset: int  # first row of this event's markets in the segment's book block
    state: EventState | None
    probs: dict[str, float] | None
    model: str
    version: str
    emitted: dict[str, float] | None
    model_error: str
    links: list[MarketLink]
    listings: list[MarketListing]
    quotes: list[Quote]
    pregame: PregamePrice | None = None
    dirty_books: bool = False
    #: Per market: is it open as of the record being planned? Read when a row is planned, never at the
    #: segment's end, so a listing that closes later in the batch cannot drop an earlier record's signal.
    open: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @classmethod
    def enter(cls, st: ShardState, offset: int) -> "EventWork":
        b = st.books
        return cls(
            st, offset, st.state, st.probs, st.model, st.version, st.emitted, st.model_error,
            list(b.links), list(b.listings), list(b.quotes), st.pregame,
            open=np.fromiter((is_open(x) for x in b.listings), bool, len(b.listings)),
        )


@dataclass
class Gathered:
    """Source arrays of a finished segment: pre-segment book rows, then the batch's quote rows."""

    p4: np.ndarray  # (S, 2, W)
    c100: np.ndarray
    ts: np.ndarray  # (S,) quote event time of each source row
    venue: np.ndarray  # (G,) per global market of the segment
    rate_ppm: np.ndarray
    exponent: np.ndarray
    n_book: int
    _keys: np.ndarray
    _rows: np.ndarray
    _markets: np.ndarray
    _stride: int

    def source(self, g: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Row of market g's book as record k left it: its newest quote up to k, else its pre-segment row."""
        if not len(self._keys):
            return g
        pos = np.searchsorted(self._keys, g * self._stride + k, side="right") - 1
        at = np.maximum(pos, 0)
        hit = (pos >= 0) & (self._markets[at] == g)
        return np.where(hit, self.n_book + self._rows[at], g)


@dataclass
class Segment:
    ladders: QuoteLadders
    n_records: int
    events: dict[str, EventWork] = field(default_factory=dict)
    order: list[EventWork] = field(default_factory=list)
    n_markets: int = 0
    q_row: list[int] = field(default_factory=list)
    q_market: list[int] = field(default_factory=list)
    q_record: list[int] = field(default_factory=list)

    def enter(self, st: ShardState) -> EventWork:
        work = EventWork.enter(st, self.n_markets)
        self.n_markets += len(st.books.keys)
        self.events[st.event_id] = work
        self.order.append(work)
        return work

    def quote(self, work: EventWork, m: int, row: int, k: int) -> None:
        self.q_row.append(row)
        self.q_market.append(work.offset + m)
        self.q_record.append(k)
        work.dirty_books = True

    def gather(self) -> Gathered:
        lad = self.ladders
        books = [w.base.books for w in self.order]
        width = max([lad.p4.shape[2]] + [b.p4.shape[2] for b in books])
        p4 = np.concatenate([_widen(b.p4, width) for b in books] + [_widen(lad.p4, width)])
        c100 = np.concatenate([_widen(b.c100, width) for b in books] + [_widen(lad.c100, width)])
        ts = np.concatenate([b.quote_ts for b in books] + [lad.ts])
        cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64))
        market = np.array(self.q_market, np.int64)
        record = np.array(self.q_record, np.int64)
        stride = self.n_records + 1
        order = np.lexsort((record, market))
        return Gathered(
            p4, c100, ts,
            cat([b.venue for b in books]), cat([b.rate_ppm for b in books]), cat([b.exponent for b in books]),
            self.n_markets,
            market[order] * stride + record[order],
            np.array(self.q_row, np.int64)[order],
            market[order],
            stride,
        )

    def new_states(self, src: Gathered) -> dict[str, ShardState]:
        """Every touched event's state after the segment's last record."""
        if self.q_market:
            g = np.unique(np.array(self.q_market, np.int64))
            last = src.source(g, np.full(len(g), self.n_records, np.int64))
            src.p4[g] = src.p4[last]
            src.c100[g] = src.c100[last]
            src.ts[g] = src.ts[last]
        out: dict[str, ShardState] = {}
        for w in self.order:
            b = w.base.books
            books = b
            if w.dirty_books:
                lo, hi = w.offset, w.offset + len(b.keys)
                books = evolve(
                    b,
                    links=tuple(w.links),
                    listings=tuple(w.listings),
                    quotes=tuple(w.quotes),
                    quote_ts=src.ts[lo:hi].copy(),
                    p4=src.p4[lo:hi].copy(),  # copies: a view would keep the whole block alive
                    c100=src.c100[lo:hi].copy(),
                )
            out[w.base.event_id] = evolve(
                w.base, state=w.state, probs=w.probs, model=w.model, version=w.version,
                emitted=w.emitted, model_error=w.model_error, books=books, pregame=w.pregame,
            )
        return out


def _widen(a: np.ndarray, width: int) -> np.ndarray:
    if a.shape[2] >= width:
        return a
    out = np.zeros((a.shape[0], 2, width), np.int64)
    out[:, :, : a.shape[2]] = a
    return out
