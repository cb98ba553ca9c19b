"""Sports matcher rules on recorded listings and events: evidence, vetoes, context, YES entity."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas.enums import MarketType, Venue
from schemas.records import EventState, MarketListing
from streams.matching import Ambiguous, Match, NoMatch, SportsMatcher, UnsupportedMarketType, default_registry
from tests.unit.matching.builders import espn_nfl_events, kalshi_listings

GB_DET = "espn:nfl:401772891"


@pytest.fixture(scope="module")
def matcher() -> SportsMatcher:
    return SportsMatcher()


@pytest.fixture(scope="module")
def events() -> list[EventState]:
    return espn_nfl_events()


def kalshi(ticker: str) -> MarketListing:
    return next(lst for lst in kalshi_listings() if lst.market_id == ticker)


def test_registry_refuses_market_types_without_a_matcher() -> None:
    registry = default_registry()
    assert isinstance(registry.get(MarketType.SPORT), SportsMatcher)
    assert all(registry.supports(mt) for mt in (MarketType.CRYPTO, MarketType.ECONOMICS, MarketType.POLITICS))
    for mt in (MarketType.OTHER,):
        with pytest.raises(UnsupportedMarketType, match=f"no entity matcher for {mt.value}"):
            registry.get(mt)


def test_yes_entity_comes_from_the_ticker_and_the_outcome(matcher: SportsMatcher, events: list[EventState]) -> None:
    gb = matcher.match(kalshi("KXNFLGAME-25NOV27GBDET-GB"), events)
    det = matcher.match(kalshi("KXNFLGAME-25NOV27GBDET-DET"), events)
    assert isinstance(gb, Match) and isinstance(det, Match)
    assert (gb.event_id, gb.yes_role, gb.yes_entity) == (GB_DET, "b", "Green Bay Packers")
    assert (det.event_id, det.yes_role, det.yes_entity) == (GB_DET, "a", "Detroit Lions")


def test_home_away_order_does_not_matter(matcher: SportsMatcher, events: list[EventState]) -> None:
    flipped = replace(kalshi("KXNFLGAME-25NOV27GBDET-GB"), title="Detroit vs Green Bay Winner?")
    result = matcher.match(flipped, events)
    assert isinstance(result, Match) and (result.event_id, result.yes_role) == (GB_DET, "b")


def test_title_that_contradicts_the_ticker_is_vetoed(matcher: SportsMatcher, events: list[EventState]) -> None:
    lying = replace(kalshi("KXNFLGAME-25NOV27GBDET-GB"), title="Kansas City at Dallas Winner?")
    result = matcher.match(lying, events)
    assert isinstance(result, NoMatch) and result.retryable


def test_ticker_and_rules_dates_must_agree(matcher: SportsMatcher, events: list[EventState]) -> None:
    listing = kalshi("KXNFLGAME-25NOV27GBDET-GB")
    result = matcher.match(replace(listing, rules=listing.rules.replace("Nov 27, 2025", "Nov 28, 2025")), events)
    assert isinstance(result, NoMatch) and not result.retryable and "different game days" in result.reason


def test_yes_outcome_naming_neither_team_is_refused(matcher: SportsMatcher, events: list[EventState]) -> None:
    listing = replace(kalshi("KXNFLGAME-25NOV27GBDET-GB"), market_id="KXNFLGAME-25NOV27GBDET", yes_outcome="Chicago")
    result = matcher.match(listing, events)
    assert isinstance(result, NoMatch) and not result.retryable and "names neither" in result.reason


def test_draw_only_where_the_league_has_draws(matcher: SportsMatcher, events: list[EventState]) -> None:
    tie = replace(kalshi("KXNFLGAME-25NOV27GBDET-GB"), market_id="KXNFLGAME-25NOV27GBDET-TIE", yes_outcome="Tie")
    result = matcher.match(tie, events)
    assert isinstance(result, NoMatch) and "no draw" in result.reason


def test_soccer_draw_market(matcher: SportsMatcher) -> None:
    event = EventState(
        state_id="s", event_id="espn:epl:1", ts=0, league="epl", name="Newcastle United at Manchester United",
        start_ts=1766764800000,  # 2025-12-26T16:00Z
        entity_a="Manchester United", entity_b="Newcastle United", entity_a_abbr="MUN", entity_b_abbr="NEW",
    )
    base = MarketListing(
        listing_id="KALSHI:KXEPLGAME-25DEC26MUNNEW-TIE", venue=Venue.KALSHI, market_id="KXEPLGAME-25DEC26MUNNEW-TIE",
        ts=0, title="Manchester United vs Newcastle Winner?", yes_outcome="Tie", market_type=MarketType.SPORT,
    )
    draw = matcher.match(base, [event])
    assert isinstance(draw, Match) and (draw.yes_role, draw.league) == ("draw", "epl")
    home = matcher.match(replace(base, market_id="KXEPLGAME-25DEC26MUNNEW-MUN", yes_outcome="Manchester United"), [event])
    assert isinstance(home, Match) and home.yes_role == "a" and home.yes_entity == "Manchester United"


def test_fuzzy_title_without_a_ticker(matcher: SportsMatcher, events: list[EventState]) -> None:
    listing = replace(
        kalshi("KXNFLGAME-25NOV27GBDET-GB"), market_id="GB-DET", group_id="", title="Green Bay Packrs at Detroit Lions",
        yes_outcome="Green Bay Packrs",
    )
    result = matcher.match(listing, events)
    assert isinstance(result, Match) and result.event_id == GB_DET and result.yes_role == "b"
    assert result.method == "title" and 0.93 <= result.confidence < 1.0


def test_same_pairing_twice_on_the_day_is_ambiguous(matcher: SportsMatcher, events: list[EventState]) -> None:
    original = next(e for e in events if e.event_id == GB_DET)
    result = matcher.match(kalshi("KXNFLGAME-25NOV27GBDET-GB"), [*events, replace(original, event_id="espn:nfl:twin")])
    assert isinstance(result, Ambiguous) and result.event_ids == ("espn:nfl:401772891", "espn:nfl:twin")


def test_los_angeles_derby_needs_more_than_the_city(matcher: SportsMatcher) -> None:
    event = EventState(
        state_id="s", event_id="espn:nba:2", ts=0, league="nba", name="LA Clippers at Los Angeles Lakers",
        start_ts=1765152000000, entity_a="Los Angeles Lakers", entity_b="LA Clippers", entity_a_abbr="LAL", entity_b_abbr="LAC",
    )
    vague = MarketListing(
        listing_id="POLYMARKET:x", venue=Venue.POLYMARKET, market_id="x", ts=0, title="Los Angeles vs. Los Angeles",
        yes_outcome="Los Angeles", market_type=MarketType.SPORT, league="nba", close_ts=1765152000000 + 3 * 3_600_000,
    )
    assert isinstance(matcher.match(vague, [event]), Ambiguous)
    clear = replace(vague, title="Clippers vs. Lakers", yes_outcome="Clippers")
    result = matcher.match(clear, [event])
    assert isinstance(result, Match) and result.yes_role == "b" and result.confidence == 1.0


def test_team_missing_from_the_table_matches_by_its_event_name(matcher: SportsMatcher) -> None:
    event = EventState(
        state_id="s", event_id="espn:ncaab:3", ts=0, league="ncaab", name="Le Moyne Dolphins at Syracuse Orange",
        start_ts=1765152000000, entity_a="Syracuse Orange", entity_b="Le Moyne Dolphins", entity_a_abbr="SYR", entity_b_abbr="LEM",
    )
    listing = MarketListing(
        listing_id="KALSHI:KXNCAAMBGAME-25DEC07LEMSYR-LEM", venue=Venue.KALSHI, market_id="KXNCAAMBGAME-25DEC07LEMSYR-LEM",
        ts=0, title="Le Moyne at Syracuse Winner?", yes_outcome="Le Moyne", market_type=MarketType.SPORT,
    )
    result = matcher.match(listing, [event])
    assert isinstance(result, Match) and result.yes_role == "b" and result.league == "ncaab"
    # A longer name that merely starts with the event's ("Le Moyne-Owen") is another school.
    other = replace(listing, market_id="KXNCAAMBGAME-25DEC07", title="Syracuse at Le Moyne-Owen Winner?", yes_outcome="Syracuse")
    assert isinstance(matcher.match(other, [event]), NoMatch)


def test_listing_without_league_or_pairing_says_why(matcher: SportsMatcher) -> None:
    unknown = MarketListing(
        listing_id="POLYMARKET:cs2", venue=Venue.POLYMARKET, market_id="0xabc", ts=0, title="Counter-Strike: FaZe vs illwill (BO3)",
        yes_outcome="FaZe", market_type=MarketType.SPORT, league="counter-strike", close_ts=1,
    )
    result = matcher.match(unknown, [])
    assert isinstance(result, NoMatch) and not result.retryable and "league" in result.reason


def test_a_will_a_beat_b_question_matches_with_yes_on_its_first_team(matcher: SportsMatcher) -> None:
    """The recorded Polymarket game "Celtics vs. Wizards" (2024-10-24, YES Celtics) asked as the yes/no question
    "Will the Celtics beat the Wizards?" (a made-up title in that older question form): YES backs the first team."""
    from tests.unit.matching.builders import labels, nba_label_events, polymarket_listing

    label = next(lb for lb in labels() if lb.slug == "nba-bos-was-2024-10-24")
    events = nba_label_events()
    plain = polymarket_listing(label, with_slug=False)
    asked = replace(plain, title="Will the Celtics beat the Wizards?", yes_outcome="Yes")
    result = matcher.match(asked, events)
    assert isinstance(result, Match) and result.event_id == label.expected_event_id
    assert result.yes_role == label.expected_yes_role == "b" and result.yes_entity.endswith("Celtics")
    flipped = matcher.match(replace(asked, title="Will the Wizards defeat the Celtics?"), events)
    assert isinstance(flipped, Match) and flipped.event_id == label.expected_event_id and flipped.yes_role == "a"
