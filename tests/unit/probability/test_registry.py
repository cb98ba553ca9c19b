"""Registry: every supported league has a working model; anything else is an explicit error."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, UnknownLeague
from streams.probability.registry import model_for, supported_leagues

LEAGUES = ("nfl", "ncaaf", "nba", "wnba", "ncaab", "nhl", "mlb", "mls", "epl", "atp", "wta", "ufc")


def pregame(league: str, p0: float) -> EventState:
    return EventState(
        state_id="s", event_id="e", ts=0, market_type=MarketType.SPORT, league=league,
        status=EventStatus.SCHEDULED, features={"p_pregame_a": p0},
    )


def test_supported_leagues_cover_the_issue() -> None:
    assert set(supported_leagues()) == set(LEAGUES)
    assert supported_leagues(MarketType.CRYPTO) == ("btc", "doge", "eth", "sol", "xrp")
    assert supported_leagues(MarketType.ECONOMICS) == ("core_cpi", "core_pce", "cpi", "fed_upper", "gdp", "payrolls", "unrate")
    assert supported_leagues(MarketType.POLITICS) == ()


@pytest.mark.parametrize("league", LEAGUES)
def test_each_league_prices_a_pregame_state(league: str) -> None:
    model = model_for(MarketType.SPORT, league)
    s = pregame(league, 0.62)
    probs = model.probabilities(s)
    assert tuple(probs) == model.outcomes(s)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(P_MIN <= p <= P_MAX for p in probs.values())
    batch = model.probabilities_batch([s, pregame(league, 0.4)])
    assert batch.shape == (2, len(model.outcomes(s)))
    np.testing.assert_allclose(batch[0], [probs[o] for o in model.outcomes(s)], atol=1e-12)
    # The stronger pregame side is priced higher, whatever the sport.
    assert batch[0, 0] > batch[1, 0]


def test_same_instance_and_case_insensitive() -> None:
    assert model_for(MarketType.SPORT, "NHL") is model_for(MarketType.SPORT, "nhl")


def test_regulation_view_for_hockey_only() -> None:
    reg = model_for(MarketType.SPORT, "nhl", regulation_only=True)
    assert reg.outcomes(pregame("nhl", 0.5)) == ("a", "b", "draw")
    with pytest.raises(UnknownLeague):
        model_for(MarketType.SPORT, "nba", regulation_only=True)


@pytest.mark.parametrize(
    ("market_type", "league"),
    [(MarketType.SPORT, "cricket"), (MarketType.SPORT, ""), (MarketType.CRYPTO, "nba"), (MarketType.POLITICS, "nfl")],
)
def test_unknown_is_an_error_never_a_coin_flip(market_type: MarketType, league: str) -> None:
    with pytest.raises(UnknownLeague):
        model_for(market_type, league)
