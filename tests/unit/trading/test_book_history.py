"""Execution's book history as stored (streams.trading.book_history).

The history test reads the recorded session's Kalshi books (data/sessions/nba-2026-finals-g3, as its
normalizers publish them); the listing test uses the recorded NFL listing with its hand-written book fixture.
"""

from __future__ import annotations

from dataclasses import replace

from functools import cache

from bench.writes import SESSION
from ops.sessions.replay import normalize
from schemas.records import Quote, ShardInput
from streams.keys import account_market_key
from streams.trading.book_history import BookHistory, record, view
from streams.trading.market_view import MarketBooks, observe_book
from streams.trading.stages import TableView, track_book
from streams.topology import TABLES
from tests.unit.trading import recorded_game as game

T = game.KICKOFF_MS
KEY = f"KALSHI:{game.GB}"
WINDOW = 10_000


@cache
def recorded_books() -> tuple[Quote, ...]:
    """The session's Kalshi books of its busiest market, in the order they were published."""
    quotes = [p.record for p in normalize(SESSION) if p.topic == "markets.quotes" and isinstance(p.record, Quote)
              and p.record.venue.value == "KALSHI"]
    busiest = max({q.market_id for q in quotes}, key=lambda m: sum(q.market_id == m for q in quotes))
    return tuple(q for q in quotes if q.market_id == busiest)


def test_the_stored_history_reads_back_as_the_books_the_json_history_kept() -> None:
    """Every recorded book, each read twice and a few out of order: the same books in the same order as
    `observe_book` kept (the JSON history it replaces), after every one, and within the window."""
    books = recorded_books()
    assert len(books) > 500
    order = [*books[:200], *books[150:200], *reversed(books[200:220]), *books[220:]]
    key = f"KALSHI:{books[0].market_id}"
    window = 30_250
    stored, kept = None, None
    sizes = set()
    for q in order:
        stored = record(stored, key, q, window)
        kept = observe_book(kept, key, q, None, window)
        assert view(stored, None) == MarketBooks(key, kept.history, None)
        sizes.add(len(stored.books))
    assert stored is not None and max(sizes) > 20  # the window held many books at once, and dropped old ones
    latest = stored.books[-1].ts
    assert all(b.ts >= latest - window for b in stored.books[1:])
    codec = TABLES["trading-book-history"].codec
    assert codec.decode(codec.encode(stored)) == stored


def test_a_book_at_the_same_time_and_sequence_with_another_id_is_kept() -> None:
    q = game.book(game.GB, T)
    stored = record(record(None, KEY, q, WINDOW), KEY, replace(q, quote_id=q.quote_id + "-other"), WINDOW)
    assert [b.ts for b in stored.books] == [T, T]


def test_the_listing_is_written_when_it_changes_and_read_beside_the_books() -> None:
    books: dict[str, BookHistory] = {}
    listings: dict[str, object] = {}
    writes: list[str] = []

    class Counting(dict):  # type: ignore[type-arg]
        def __setitem__(self, key: str, value: object) -> None:
            writes.append(key)
            super().__setitem__(key, value)

    listings = Counting()
    first = game.quote_input(game.GB, T)
    assert first.listing is not None
    track_book(books, listings, account_market_key("paper", KEY), first, WINDOW)
    bare = ShardInput(input_id="x", event_id=first.event_id, ts=T + 1_000, quote=game.book(game.GB, T + 1_000))
    track_book(books, listings, account_market_key("paper", KEY), bare, WINDOW)  # no listing: nothing to write
    track_book(books, listings, account_market_key("paper", KEY), game.quote_input(game.GB, T + 2_000), WINDOW)
    assert writes == [account_market_key("paper", KEY)]  # the same listing again is not a change
    changed = replace(first.listing, status="closed")
    moved = replace(game.quote_input(game.GB, T + 3_000), listing=changed)
    track_book(books, listings, account_market_key("paper", KEY), moved, WINDOW)
    assert len(writes) == 2
    got = TableView("paper", {}, books, listings).books(KEY)
    assert got is not None and got.listing == changed
    assert [q.ts - T for q in got.history] == [0, 1_000, 2_000, 3_000]
    assert TableView("paper", {}, books, listings).books("KALSHI:unknown") is None
