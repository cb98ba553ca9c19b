"""Tennis and UFC markets link to the athlete event: full names, surnames and Kalshi's 3-letter surname codes.

Made-up inputs (no Kalshi tennis/UFC payload is recorded here): the markets use Kalshi's wording as public
code that reads its API quotes it ("Will Jannik Sinner win the Sinner vs Alcaraz: Round of 16 match?",
yes_sub_title "Jannik Sinner", ticker KXATPMATCH-26OCT01SINALC-SIN; UFC "Oliveira vs. Holloway" with
yes_sub_title "Charles Oliveira"); the events are ESPN-shaped states with the athletes' display names.
"""

from __future__ import annotations

from connectors.kalshi.normalize import market_to_listing
from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.matching import Match, NoMatch, default_registry

START = 1_790_000_000_000  # 2026-09-21 (US Eastern)
MATCHER = default_registry().get(MarketType.SPORT)


def event(league: str, a: str, b: str, eid: str = "1") -> EventState:
    return EventState(state_id=f"s{eid}", event_id=f"espn:{league}:{eid}", ts=0, source="espn", market_type=MarketType.SPORT,
                      league=league, status=EventStatus.SCHEDULED, start_ts=START, entity_a=a, entity_b=b)


def kalshi(ticker: str, title: str, yes: str):  # type: ignore[no-untyped-def]
    return market_to_listing({"ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "title": title,
                              "yes_sub_title": yes, "price_level_structure": "linear_cent"}, 0)


def test_a_kalshi_tennis_match_links_to_its_players_with_the_yes_side() -> None:
    ev = event("atp", "Jannik Sinner", "Carlos Alcaraz")
    title = "Will {} win the Sinner vs Alcaraz: Round of 16 match?"
    sin = MATCHER.match(kalshi("KXATPMATCH-26SEP21SINALC-SIN", title.format("Jannik Sinner"), "Jannik Sinner"), [ev])
    alc = MATCHER.match(kalshi("KXATPMATCH-26SEP21SINALC-ALC", title.format("Carlos Alcaraz"), "Carlos Alcaraz"), [ev])
    assert isinstance(sin, Match) and (sin.event_id, sin.yes_role, sin.yes_entity) == ("espn:atp:1", "a", "Jannik Sinner")
    assert isinstance(alc, Match) and (alc.yes_role, alc.yes_entity) == ("b", "Carlos Alcaraz")
    assert sin.method == "kalshi_ticker+title"


def test_a_ufc_fight_links_by_surnames() -> None:
    ev = event("ufc", "Max Holloway", "Charles Oliveira")
    res = MATCHER.match(kalshi("KXUFCFIGHT-26SEP21OLIHOL-OLI", "Oliveira vs. Holloway", "Charles Oliveira"), [ev])
    assert isinstance(res, Match) and (res.yes_role, res.yes_entity) == ("b", "Charles Oliveira")


def test_a_match_against_another_opponent_is_not_linked() -> None:
    other = event("atp", "Jannik Sinner", "Novak Djokovic")
    res = MATCHER.match(kalshi("KXATPMATCH-26SEP21SINALC-SIN", "Will Jannik Sinner win the Sinner vs Alcaraz: Final match?",
                               "Jannik Sinner"), [other])
    assert isinstance(res, NoMatch) and res.retryable
