"""Which win-probability model prices a market: chosen by market type and league.

One entry per supported league; anything else raises UnknownLeague so a caller
can never mistake "no model" for a coin flip. Models are stateless and pure, so
one instance per (league, settlement) is shared. Imports are deferred to the
factories: a model's parameter tables load only when its league is asked for.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Callable

from schemas.enums import MarketType
from streams.probability.base import UnknownLeague, WinProbabilityModel


def _basketball(league: str) -> WinProbabilityModel:
    from streams.probability.basketball import BasketballModel

    return BasketballModel(league)


def _football(league: str) -> WinProbabilityModel:
    from streams.probability.football import FootballModel

    return FootballModel(league)


def _poisson(league: str) -> WinProbabilityModel:
    from streams.probability.poisson import PoissonModel

    return PoissonModel(league)


def _baseball(league: str) -> WinProbabilityModel:
    from streams.probability.baseball import BaseballModel

    return BaseballModel(league)


def _tennis(league: str) -> WinProbabilityModel:
    from streams.probability.tennis import TennisModel

    return TennisModel(league)


def _mma(league: str) -> WinProbabilityModel:
    from streams.probability.mma import MMAModel

    return MMAModel(league)


_SPORTS: dict[str, Callable[[str], WinProbabilityModel]] = {
    "nfl": _football,
    "ncaaf": _football,
    "nba": _basketball,
    "wnba": _basketball,
    "ncaab": _basketball,
    "nhl": _poisson,
    "mls": _poisson,
    "epl": _poisson,
    "mlb": _baseball,
    "atp": _tennis,
    "wta": _tennis,
    "ufc": _mma,
}

#: Leagues whose markets may settle on regulation time only (a tie is its own outcome).
_REGULATION_VIEW = {"nhl"}


def _crypto(asset: str) -> WinProbabilityModel:
    from streams.probability.crypto import CryptoModel

    return CryptoModel(asset)


def _release(indicator: str) -> WinProbabilityModel:
    from streams.probability.release import ReleaseModel

    return ReleaseModel(indicator)


def _race(race: str) -> WinProbabilityModel:
    from streams.probability.race import RaceModel

    return RaceModel(race)


def supported_leagues(market_type: MarketType = MarketType.SPORT) -> tuple[str, ...]:
    """Leagues with a model for this market type, sorted."""
    if market_type == MarketType.CRYPTO:
        from streams.crypto.parse import ASSET_ALIASES

        return tuple(sorted(ASSET_ALIASES))
    if market_type == MarketType.ECONOMICS:
        from streams.economics.targets import SETTLES_ON

        return tuple(sorted(SETTLES_ON))
    return tuple(sorted(_SPORTS)) if market_type == MarketType.SPORT else ()


def model_for(market_type: MarketType, league: str, *, regulation_only: bool = False) -> WinProbabilityModel:
    """The model for a league's markets; `regulation_only` for hockey markets settled after 60 minutes."""
    return _cached(MarketType(market_type), league.strip().lower(), regulation_only)


@cache
def _cached(market_type: MarketType, league: str, regulation_only: bool) -> WinProbabilityModel:
    if market_type == MarketType.CRYPTO:
        from streams.crypto.parse import ASSET_ALIASES

        if league in ASSET_ALIASES and not regulation_only:
            return _crypto(league)
    if market_type == MarketType.ECONOMICS:
        from streams.economics.targets import SETTLES_ON

        if league in SETTLES_ON and not regulation_only:
            return _release(league)
    if market_type == MarketType.POLITICS and re.fullmatch(r"[a-z]+(-[a-z0-9]+)*-\d{4}(-[a-z0-9]+)*", league) and not regulation_only:
        return _race(league)  # a race key ("us-president-2016-popular-vote"); the model refuses states without a forecast
    if market_type != MarketType.SPORT or league not in _SPORTS:
        raise UnknownLeague(f"no win-probability model for {market_type.value} league {league!r}")
    if regulation_only:
        if league not in _REGULATION_VIEW:
            raise UnknownLeague(f"no regulation-time model for league {league!r}")
        from streams.probability.poisson import PoissonModel

        return PoissonModel(league, regulation_only=True)
    return _SPORTS[league](league)
