"""Local Kalshi order books from `orderbook_snapshot` + `orderbook_delta`, never wrong.

Kalshi lists bids only, on both sides: a YES bid at p is the NO ask at 1 − p, and
a NO bid at q is the YES ask at 1 − q (GetMarketOrderbook in Kalshi's OpenAPI); the
book is kept and published as those bids, and `schemas.depth.ladder` derives asks.
Each websocket subscription (`sid`) numbers its messages with one `seq` that
runs across every market of that subscription ("Sequential number that should
be checked if you want to guarantee you received all the messages", AsyncAPI
`sequenceNumber`). So a missing number means *some* market of that sid missed a
change, and every book on the sid is dropped and resynced: the caller
unsubscribes the sid and subscribes again, which makes Kalshi send fresh
snapshots. A delta that cannot apply (level going negative, market without a
snapshot) or that would leave the book crossed is treated the same way.

Sizes are int hundredths of a contract and prices int micro-dollars, so a long
delta stream sums exactly. `BookKeeper` is pure state: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from connectors.kalshi.fixedpoint import ONE_DOLLAR_MICROS
from connectors.kalshi.messages import BookDelta, BookSnapshot, Level
from schemas.enums import Side


@dataclass
class MarketBook:
    """Bids of one market on both sides, as price → size (hundredths of a contract)."""

    ticker: str
    sid: int
    seq: int
    ts: int
    yes: dict[int, int] = field(default_factory=dict)
    no: dict[int, int] = field(default_factory=dict)

    def side(self, side: Side) -> dict[int, int]:
        return self.yes if side is Side.YES else self.no

    def yes_bids(self) -> list[Level]:
        """Best (highest) first."""
        return sorted(self.yes.items(), reverse=True)

    def no_bids(self) -> list[Level]:
        return sorted(self.no.items(), reverse=True)

    def crossed(self) -> bool:
        """A YES bid p and a NO bid q with p + q ≥ $1 would have matched; such a book is wrong."""
        if not self.yes or not self.no:
            return False
        return max(self.yes) + max(self.no) >= ONE_DOLLAR_MICROS


@dataclass(frozen=True)
class BookChanged:
    """The book of `ticker` is correct as of (`sid`, `seq`) and may be published."""

    ticker: str
    sid: int
    seq: int


@dataclass(frozen=True)
class Resync:
    """These books were dropped; unsubscribe `sid` and subscribe `tickers` again."""

    sid: int
    tickers: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Ignored:
    """A message for a subscription already being resynced: in flight, harmless."""

    sid: int
    seq: int
    reason: str


BookOutcome = Union[BookChanged, Resync, Ignored]


class BookKeeper:
    """All books of one websocket connection, with per-sid sequence checking."""

    def __init__(self) -> None:
        self._books: dict[str, MarketBook] = {}
        self._last_seq: dict[int, int] = {}
        self._sid_tickers: dict[int, set[str]] = {}
        self._retired: set[int] = set()
        self.resyncs = 0

    # ------------------------------------------------------------ reading

    def book(self, ticker: str) -> MarketBook | None:
        """The live book, or None while it has no snapshot (never a stale one)."""
        return self._books.get(ticker)

    def tickers(self) -> list[str]:
        return sorted(self._books)

    # ------------------------------------------------------------ applying

    def _check_seq(self, sid: int, seq: int, kind: str, ticker: str) -> BookOutcome | None:
        if sid in self._retired:
            return Ignored(sid, seq, f"{kind} for retired subscription {sid}")
        last = self._last_seq.get(sid)
        if last is None:
            if kind == "delta":
                return self._resync(sid, (ticker,), f"delta seq {seq} on sid {sid} before any snapshot")
            return None
        if seq != last + 1:
            return self._resync(sid, (), f"sequence gap on sid {sid}: expected {last + 1}, got {seq}")
        return None

    def on_snapshot(self, snap: BookSnapshot, ts: int) -> BookOutcome:
        """Replace the market's book; `ts` is the receive time (snapshots carry no event time)."""
        bad = self._check_seq(snap.sid, snap.seq, "snapshot", snap.ticker)
        if bad is not None:
            return bad
        self._last_seq[snap.sid] = snap.seq
        previous = self._books.get(snap.ticker)
        if previous is not None and previous.sid != snap.sid:
            self._sid_tickers.get(previous.sid, set()).discard(snap.ticker)
        book = MarketBook(snap.ticker, snap.sid, snap.seq, ts, dict(snap.yes), dict(snap.no))
        self._sid_tickers.setdefault(snap.sid, set()).add(snap.ticker)
        if book.crossed():
            self._books[snap.ticker] = book  # so the resync below names it with its sid
            return self._resync(snap.sid, (), f"snapshot of {snap.ticker} is crossed")
        self._books[snap.ticker] = book
        return BookChanged(snap.ticker, snap.sid, snap.seq)

    def on_delta(self, delta: BookDelta, ts: int) -> BookOutcome:
        """Apply one price-level change; `ts` is its event time (or receive time when it has none)."""
        bad = self._check_seq(delta.sid, delta.seq, "delta", delta.ticker)
        if bad is not None:
            return bad
        self._last_seq[delta.sid] = delta.seq
        book = self._books.get(delta.ticker)
        if book is None or book.sid != delta.sid:
            return self._resync(delta.sid, (delta.ticker,), f"delta for {delta.ticker} without its snapshot on sid {delta.sid}")
        levels = book.side(delta.side)
        size = levels.get(delta.price_micros, 0) + delta.delta_centi
        if size < 0:
            return self._resync(
                delta.sid,
                (),
                f"{delta.ticker} {delta.side.value} level {delta.price_micros} would go to {size / 100:.2f} contracts",
            )
        if size == 0:
            levels.pop(delta.price_micros, None)
        else:
            levels[delta.price_micros] = size
        book.seq = delta.seq
        book.ts = ts
        if book.crossed():
            return self._resync(delta.sid, (), f"{delta.ticker} is crossed after seq {delta.seq}")
        return BookChanged(delta.ticker, delta.sid, delta.seq)

    # ------------------------------------------------------------ resync

    def _resync(self, sid: int, extra: tuple[str, ...], reason: str) -> Resync:
        """Drop every book of the sid (a gap could have hit any of them) and retire the sid."""
        tickers = set(self._sid_tickers.pop(sid, set())) | set(extra)
        for t in tickers:
            book = self._books.get(t)
            if book is not None and book.sid == sid:
                del self._books[t]
        self._last_seq.pop(sid, None)
        self._retired.add(sid)
        self.resyncs += 1
        return Resync(sid, tuple(sorted(tickers)), reason)

    def forget_subscription(self, sid: int) -> tuple[str, ...]:
        """Retire a sid on purpose (unsubscribe, reconnect); its books are dropped too."""
        tickers = tuple(sorted(self._sid_tickers.pop(sid, set())))
        for t in tickers:
            book = self._books.get(t)
            if book is not None and book.sid == sid:
                del self._books[t]
        self._last_seq.pop(sid, None)
        self._retired.add(sid)
        return tickers

    def reset(self) -> None:
        """A new connection: sids restart, so nothing of the old one may be trusted."""
        self._books.clear()
        self._last_seq.clear()
        self._sid_tickers.clear()
        self._retired.clear()
