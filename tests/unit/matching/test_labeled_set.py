"""The labeled set: real Kalshi and Polymarket game markets with their expected events.

Acceptance (issue 4): no false match, and at least 98% of the labeled titles
matched to the right event with the right YES entity. The figures are printed
(`pytest -s`) and carried in the assertion messages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import pytest

from schemas.records import EventState, MarketListing
from streams.matching import Ambiguous, Match, NoMatch, SportsMatcher
from streams.matching.sports import eastern_day
from tests.unit.matching.builders import (
    Label,
    espn_nfl_events,
    kalshi_listings,
    labels,
    nba_label_events,
    polymarket_listing,
)


@dataclass
class Tally:
    total: int = 0  # labels whose event is in the pool
    right: int = 0  # matched to the expected event with the expected YES role
    false: int = 0  # matched to another event or the wrong YES role
    no_match: int = 0
    ambiguous: int = 0
    absent_right: int = 0  # labels without an event that correctly stayed unmatched
    absent_false: int = 0

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.right}/{self.total} matched right ({self.rate:.2%}), false {self.false}, "
            f"no match {self.no_match}, ambiguous {self.ambiguous}; event absent: {self.absent_right} kept unmatched, "
            f"{self.absent_false} falsely matched"
        )


def _by_day(events: list[EventState]) -> dict[object, list[EventState]]:
    index: dict[object, list[EventState]] = defaultdict(list)
    for e in events:
        assert e.start_ts is not None
        index[eastern_day(e.start_ts)].append(e)
    return index


def _pool(matcher: SportsMatcher, listing: MarketListing, index: dict[object, list[EventState]]) -> list[EventState]:
    """Every event of the listing's scope plus the day either side, as distractors."""
    scope = matcher.scope(listing)
    assert not isinstance(scope, NoMatch), scope
    day = scope.first_day - timedelta(days=1)
    out: list[EventState] = []
    while day <= scope.last_day + timedelta(days=1):
        out.extend(index.get(day, []))
        day += timedelta(days=1)
    return out


def _score(tally: Tally, label: Label, result: object, event_present: bool) -> None:
    if not event_present:
        if isinstance(result, Match):
            tally.absent_false += 1
        else:
            tally.absent_right += 1
        return
    tally.total += 1
    if isinstance(result, Match):
        if result.event_id == label.expected_event_id and result.yes_role == label.expected_yes_role:
            tally.right += 1
        else:
            tally.false += 1
    elif isinstance(result, Ambiguous):
        tally.ambiguous += 1
    else:
        tally.no_match += 1


@pytest.fixture(scope="module")
def matcher() -> SportsMatcher:
    return SportsMatcher()


@pytest.fixture(scope="module")
def nba_index() -> dict[object, list[EventState]]:
    return _by_day(nba_label_events())


def test_labeled_set_has_every_source() -> None:
    sets = defaultdict(int)
    for label in labels():
        sets[label.set] += 1
    assert sets == {"kalshi_nfl": 6, "polymarket_nba": 1284}


def test_kalshi_markets_match_their_espn_games(matcher: SportsMatcher) -> None:
    events = espn_nfl_events()
    by_ticker = {lst.market_id: lst for lst in kalshi_listings()}
    tally = Tally()
    for label in (lb for lb in labels() if lb.set == "kalshi_nfl"):
        result = matcher.match(by_ticker[label.market_id], events)
        _score(tally, label, result, event_present=bool(label.expected_event_id))
    print(tally.line("kalshi_nfl"))
    assert tally.false == 0 and tally.absent_false == 0, tally.line("kalshi_nfl")
    assert tally.right == tally.total == 5, tally.line("kalshi_nfl")
    assert tally.absent_right == 1


def test_polymarket_nba_labeled_titles(matcher: SportsMatcher, nba_index: dict[object, list[EventState]]) -> None:
    tally = Tally()
    for label in (lb for lb in labels() if lb.set == "polymarket_nba"):
        listing = polymarket_listing(label)
        _score(tally, label, matcher.match(listing, _pool(matcher, listing, nba_index)), event_present=True)
    print(tally.line("polymarket_nba slug+title"))
    assert tally.false == 0, tally.line("polymarket_nba")
    assert tally.rate >= 0.98, tally.line("polymarket_nba")


def test_polymarket_nba_title_and_close_time_only(matcher: SportsMatcher, nba_index: dict[object, list[EventState]]) -> None:
    """Without the slug the date comes from the close time: still no false match, and the rate holds."""
    tally = Tally()
    for label in (lb for lb in labels() if lb.set == "polymarket_nba"):
        listing = polymarket_listing(label, with_slug=False)
        _score(tally, label, matcher.match(listing, _pool(matcher, listing, nba_index)), event_present=True)
    print(tally.line("polymarket_nba title-only"))
    assert tally.false == 0, tally.line("polymarket_nba title-only")
    assert tally.rate >= 0.98, tally.line("polymarket_nba title-only")


def test_no_false_match_when_the_true_event_is_missing(matcher: SportsMatcher, nba_index: dict[object, list[EventState]]) -> None:
    """Remove each market's own game from the pool: nothing else (same teams another day, other games) may match."""
    tally = Tally()
    for label in (lb for lb in labels() if lb.set == "polymarket_nba"):
        for with_slug in (True, False):
            listing = polymarket_listing(label, with_slug=with_slug)
            pool = [e for e in _pool(matcher, listing, nba_index) if e.event_id != label.expected_event_id]
            _score(tally, label, matcher.match(listing, pool), event_present=False)
    for label in (lb for lb in labels() if lb.set == "kalshi_nfl" and lb.expected_event_id):
        listing = next(lst for lst in kalshi_listings() if lst.market_id == label.market_id)
        pool = [e for e in espn_nfl_events() if e.event_id != label.expected_event_id]
        _score(tally, label, matcher.match(listing, pool), event_present=False)
    print(f"true event removed: {tally.absent_right} unmatched, {tally.absent_false} false matches")
    assert tally.absent_false == 0
    assert tally.absent_right == 2 * 1284 + 5
