"""bench/load.py's pure parts: the RSS trend it reports and the book moves it publishes (MADE-UP series;
the books are the recorded session's)."""

from __future__ import annotations

import random

import pytest

from bench.load import growth_mb, moved
from ops.sessions.replay import load_session
from bench.load import SESSION
from schemas.records import Quote


def test_growth_is_the_trend_after_warm_up_not_the_warm_up() -> None:
    warm = [(t, 100.0 + 4 * t) for t in range(0, 25)]  # grows while warming up
    flat = [(t, 200.0 + (t % 2)) for t in range(25, 100)]  # then flat, with noise
    assert abs(growth_mb(warm + flat)) < 2.0
    leaking = [(t, 100.0 + 0.5 * t) for t in range(0, 100)]
    assert growth_mb(leaking) == pytest.approx(0.5 * 74, rel=0.05)  # slope x the span after the first quarter


def test_moved_books_stay_inside_zero_one_with_new_ids() -> None:
    book = next(r.value for r in load_session(SESSION) if isinstance(r.value, Quote) and r.value.yes_bid_micros)
    rng = random.Random(1)
    seen = [moved(book, rng, "run", n, 1_000 + n) for n in range(200)]
    assert len({q.quote_id for q in seen}) == 200
    for q in seen:
        assert 10_000 <= q.yes_bid_micros <= 990_000 and q.yes_bid_micros < q.yes_ask_micros
        assert q.yes_ask_micros - q.yes_bid_micros == book.yes_ask_micros - book.yes_bid_micros
