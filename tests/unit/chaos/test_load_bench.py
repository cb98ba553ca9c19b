"""bench/load.py's pure parts: the RSS trend it reports and the book moves it publishes (MADE-UP series;
the books are the recorded session's)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bench.load import bounded, clone_event, clone_state, growth_mb, moved, template
from bench.load import SESSION
from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.records import as_inputs, replay_order
from ops.sessions.replay import load_session
from schemas.records import Alert, MarketLink, MarketListing, Quote
from streams.discovery import DiscoveryProcessor, DiscoveryState


def test_growth_is_the_trend_after_warm_up_not_the_warm_up() -> None:
    warm = [(t, 100.0 + 4 * t) for t in range(0, 25)]  # grows while warming up
    flat = [(t, 200.0 + (t % 2)) for t in range(25, 100)]  # then flat, with noise
    assert abs(growth_mb(warm + flat)) < 2.0
    leaking = [(t, 100.0 + 0.5 * t) for t in range(0, 100)]
    assert growth_mb(leaking) == pytest.approx(0.5 * 74, rel=0.05)  # slope x the span after the first quarter


def test_lag_is_bounded_when_it_stops_growing_after_warm_up_and_drains() -> None:
    """MADE-UP lag series (records, every 5 s over 600 s held): the verdict the load run exits on."""
    warm = [(t, 60.0 * t) for t in range(0, 150, 5)]  # the slate's first listings and links: behind, then
    steady = [(t, 2_000.0 + 500 * ((t // 5) % 3)) for t in range(150, 600, 5)]  # sawtooth around the batches
    ok, growth, top = bounded(warm + steady, 0, 3_000)
    assert ok and abs(growth) < 3_000 and top == 3_000
    assert not bounded(warm + steady, 1_200, 3_000)[0]  # held level, but never drained once the input stopped
    falling_behind = [(t, 20.0 * t) for t in range(0, 600, 5)]  # 4 records/s short of the input, for 10 minutes
    ok, growth, top = bounded(falling_behind, 0, 3_000)
    assert not ok and growth == pytest.approx(20 * 445, rel=0.02) and top == 20 * 595


def test_moved_books_stay_inside_zero_one_with_new_ids() -> None:
    book = next(r.value for r in load_session(SESSION) if isinstance(r.value, Quote) and r.value.yes_bid_micros)
    rng = random.Random(1)
    seen = [moved(book, rng, "run", n, 1_000 + n) for n in range(200)]
    assert len({q.quote_id for q in seen}) == 200
    for q in seen:
        assert 10_000 <= q.yes_bid_micros <= 990_000 and q.yes_bid_micros < q.yes_ask_micros
        assert q.yes_ask_micros - q.yes_bid_micros == book.yes_ask_micros - book.yes_bid_micros


def test_discovery_links_each_clone_to_its_own_event_exactly_as_the_bench_does() -> None:
    """The clones are the recorded game on successive days: discovery (the listings first, as the run's groups read
    them, then each event) makes exactly the links the bench publishes, none ambiguous, none crossed."""
    t = template()
    published: list[MarketLink] = []
    listings: list[MarketListing] = []
    for k in range(40):  # 40 days from 2027-01-15: across a month end
        once, books = clone_event(t, k, 1_800_000_000_000)
        listings += [r for _, _, r in once if isinstance(r, MarketListing)]
        published += [r for _, _, r in once if isinstance(r, MarketLink)]
        assert [b.market_id for b in books] == [lst.market_id for lst in listings[-len(books):]]
    proc, state, outputs = DiscoveryProcessor(), DiscoveryState(), []
    for rec in [*listings, *(replace(clone_state(t, k, 1_800_000_000_000), ts=1_800_000_000_001) for k in range(40))]:
        state, outs = proc.step(state, rec)
        outputs += outs
    assert [o for o in outputs if isinstance(o, Alert)] == []
    made = {(o.link_id, o.market_id, o.event_id, o.yes_role) for o in outputs if isinstance(o, MarketLink)}
    assert made == {(lk.link_id, lk.market_id, lk.event_id, lk.yes_role) for lk in published}
    assert len(made) == 3 * 40 and len({lk.event_id for lk in published}) == 40


def test_the_bench_books_are_the_market_at_the_moment_of_its_game_state() -> None:
    """Each template book is its market's last recorded book before the template state (the first after when none came
    before), and the bench's updates around them go through the whole topology with the edges such a moment shows:
    some signals, far fewer than updates. The first books of the session (pregame) beside a mid-game state signalled
    on 299 of 180 updates (412 signals/s in the load run), a mispricing no real feed shows."""
    t = template()
    session = load_session(SESSION)
    for book in t.quotes:
        same = [r.value for r in session if isinstance(r.value, Quote) and r.value.yes_bid_micros
                and (r.value.venue, r.value.market_id) == (book.venue, book.market_id)]
        before = [q for q in same if q.ts <= t.state.ts]
        assert book == (before[-1] if before else same[0])
    start = 1_800_000_000_000
    once, books = clone_event(t, 0, start)
    items = [(topic, rec) for topic, _, rec in once] + [("events.state", replace(clone_state(t, 0, start), ts=start + 1))]
    rng = random.Random(7)
    updates = [moved(b, rng, "run", n, start + 10 + n) for n in range(60) for b in books]
    result = InProcessEngine(BacktestConfig(account="load-bench")).run(
        replay_order(as_inputs([*items, *(("markets.quotes", q) for q in updates)])))
    assert 0 < len(result.signals) <= len(updates) // 10
