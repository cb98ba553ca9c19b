"""The league table: every league the issue lists, at ESPN's path for it."""

from __future__ import annotations

import pytest

from connectors.espn.errors import UnknownLeague
from connectors.espn.leagues import LEAGUES, league


def test_every_listed_league_has_its_espn_path() -> None:
    assert {k: lg.api_path for k, lg in LEAGUES.items()} == {
        "nfl": "football/nfl",
        "ncaaf": "football/college-football",
        "nba": "basketball/nba",
        "wnba": "basketball/wnba",
        "ncaab": "basketball/mens-college-basketball",
        "nhl": "hockey/nhl",
        "mlb": "baseball/mlb",
        "mls": "soccer/usa.1",
        "epl": "soccer/eng.1",
        "atp": "tennis/atp",
        "wta": "tennis/wta",
        "ufc": "mma/ufc",
    }
    assert {k for k, lg in LEAGUES.items() if lg.individual} == {"atp", "wta", "ufc"}


def test_unknown_league_is_an_explicit_error() -> None:
    with pytest.raises(UnknownLeague, match="league 'xfl' is not followed"):
        league("xfl")
