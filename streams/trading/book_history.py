"""Execution's recent books of one market, as stored in its `trading-book-history` table.

A market's history (every book of the window before its latest, `TradingConfig.book_window_ms`)
is rewritten with each of its quotes. Kept as the quotes' JSON objects with the listing beside
them it was the largest write per quote (8 KB and ~290 µs to encode on the recorded session).
Each book is kept instead as its contract record's Avro bytes, encoded once when it arrives and
decoded only when an order needs the book of its time (`MarketBooks`); the listing, which rarely
changes, has a table of its own (`trading-listings`), written when it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from schemas.codec import default_codec
from schemas.records import MarketListing, Quote
from streams.trading.market_view import MarketBooks, within_window


@dataclass(frozen=True)
class Booked:
    """One book of the history: its event time and sequence (the order), and the quote as framed Avro."""

    ts: int
    seq: int
    frame: bytes


@dataclass(frozen=True)
class BookHistory:
    """The books of one market in (ts, seq) order, oldest first."""

    key: str
    books: tuple[Booked, ...] = ()


@lru_cache(maxsize=4096)
def _quote(frame: bytes) -> Quote:
    """Decoded once per book while it is in use: an order parked for its book is re-checked on every quote."""
    value = default_codec().decode(frame)
    assert isinstance(value, Quote), type(value).__name__
    return value


def record(history: BookHistory | None, key: str, quote: Quote, window_ms: int) -> BookHistory:
    """`history` with `quote` added (a replayed quote, the same id at the same ts and seq, is not added twice)."""
    cur = history or BookHistory(key)
    twins = (b for b in cur.books if (b.ts, b.seq) == (quote.ts, quote.seq))
    if any(_quote(b.frame).quote_id == quote.quote_id for b in twins):
        return cur
    new = Booked(quote.ts, quote.seq, default_codec().encode(quote))
    books = [*cur.books, new]
    if len(books) > 1 and (new.ts, new.seq) < (books[-2].ts, books[-2].seq):  # out of order: rare, a catch-up
        books.sort(key=lambda b: (b.ts, b.seq))
    return BookHistory(cur.key, within_window(books, window_ms))


def view(history: BookHistory, listing: MarketListing | None) -> MarketBooks:
    """What the execution processor reads: the decoded books and the market's listing."""
    return MarketBooks(history.key, tuple(_quote(b.frame) for b in history.books), listing)


__all__ = ["BookHistory", "Booked", "record", "view"]
