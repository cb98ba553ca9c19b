"""Kalshi series followed: a game-winner series for every league the sports models cover, all by default."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors.kalshi.normalize import SERIES_LEAGUES, market_to_listing
from connectors.kalshi.runner import DEFAULT_SERIES
from schemas.enums import MarketType
from streams.matching import default_registry
from streams.matching.base import NoMatch
from streams.probability.registry import supported_leagues

ROOT = Path(__file__).resolve().parents[3]

#: One real market ticker of each series, as public code reading Kalshi's API records them (README "Kalshi series").
SEEN_TICKERS = {
    "KXNFLGAME": "KXNFLGAME-25DEC27BALGB-GB",
    "KXNCAAFGAME": "KXNCAAFGAME-26SEP12OSUTEX-OSU",
    "KXNBAGAME": "KXNBAGAME-26JUN08SASNYK-SAS",
    "KXWNBAGAME": "KXWNBAGAME-26JUL14ACENYL-ACE",
    "KXNCAAMBGAME": "KXNCAAMBGAME-26FEB21ISUBYU-BYU",
    "KXMLBGAME": "KXMLBGAME-26JUN052140WSHAZ-AZ",
    "KXNHLGAME": "KXNHLGAME-26MAR02TORMTL-TOR",
    "KXMLSGAME": "KXMLSGAME-26JUL20LAFCSEA-LAFC",
    "KXEPLGAME": "KXEPLGAME-26SEP20MCISUN-MCI",
    "KXATPMATCH": "KXATPMATCH-26JUL05SINMOC-SIN",
    "KXWTAMATCH": "KXWTAMATCH-26JUL14PUTJEA-PUT",
    "KXUFCFIGHT": "KXUFCFIGHT-26JAN18OLIHOL-OLI",
}


def _market(ticker: str) -> dict[str, str]:
    """The identity fields of a GET /markets object (made up apart from the ticker; no series payload)."""
    return {"ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "price_level_structure": "linear_cent"}


def test_every_league_with_a_model_has_its_kalshi_game_series() -> None:
    assert set(SERIES_LEAGUES.values()) == set(supported_leagues(MarketType.SPORT))
    assert set(SERIES_LEAGUES) == set(SEEN_TICKERS)


def test_the_connector_follows_every_series_by_default_and_compose_does_not_narrow_it() -> None:
    assert DEFAULT_SERIES.split(",") == list(SERIES_LEAGUES)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    entry = compose["services"]["kalshi"]["entrypoint"]
    assert entry == ["python", "-m", "ops.run.feed", "kalshi"]  # what `arbees run` starts: every series and more
    from ops.run.feed import argv_for

    assert set(argv_for("kalshi")[-1].split(",")) >= set(SERIES_LEAGUES)


@pytest.mark.parametrize("series", list(SERIES_LEAGUES))
def test_each_series_normalizes_to_a_sports_listing_of_its_league(series: str) -> None:
    ticker = SEEN_TICKERS[series]
    listing = market_to_listing(_market(ticker), 0)
    assert (listing.series, listing.league, listing.market_type) == (series, SERIES_LEAGUES[series], MarketType.SPORT)


@pytest.mark.parametrize("series", list(SERIES_LEAGUES))
def test_discovery_can_scope_each_series_to_its_league_and_game_day(series: str) -> None:
    """The sports matcher reads the league and the game day off the ticker (team leagues: it has their aliases;
    tennis and UFC: players are matched by name, tests/unit/matching/test_individuals.py)."""
    ticker = SEEN_TICKERS[series]
    listing = market_to_listing(_market(ticker), 0)
    scope = default_registry().get(MarketType.SPORT).scope(listing)
    assert not isinstance(scope, NoMatch), scope
    assert scope.league == SERIES_LEAGUES[series]
