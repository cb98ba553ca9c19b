"""In-game win probability for American football (NFL, NCAA): a normal final margin.

The final home margin is the current margin, plus the expected points of the
possession in progress (field position, down and distance, from an EP curve
fitted to nflfastR's table), plus the pregame expected margin scaled by the time
left, with noise sigma * sqrt(time left). The pregame expected margin is the
spread, else a pregame probability, else the season-to-date records (live feeds
drop the odds), else the league home edge (none at a neutral site).

A prior read from records or from nothing is a guess at the market's: its error
(`record_prior_sd`, `home_edge_prior_sd`, the SD of market-implied margins around
it in the data) is a second, time-proportional source of spread, so the variance
left is sigma^2 * f + (prior_sd * f)^2 for the fraction f of the game left.

Timeouts reset at halftime, so only second-half (and overtime) timeouts buy the
trailing team clock, each worth a play clock of extra time, which matters late.
Parameters: `python -m ops.models.derive_football` from the real data in data/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import StateNotModelable
from streams.probability.normal import (
    bounded,
    expected_margin,
    final_outcomes,
    load_params,
    possession_sign,
    prior_inputs,
    TwoWayMarginModel,
    params_for,
    win_probability,
)

RECORD_KEYS = ("record_wins_a", "record_losses_a", "record_wins_b", "record_losses_b")
TIE_KEYS = ("record_ties_a", "record_ties_b")  # optional: absent means none shown


@dataclass(frozen=True)
class FootballParams:
    periods: int
    period_seconds: float
    overtime_seconds: float
    sigma: float  # SD of the full-game final margin around its pregame expectation
    ingame_sigma: float  # Brownian sigma of the margin during play (per full game)
    spread_slope: float  # expected margin per probit unit of pregame win probability
    home_edge: float
    timeout_seconds: float
    ep_horizon_seconds: float
    ep_poly: tuple[float, float, float]  # EP of 1st & 10 as c0 + c1 y + c2 y^2, y = yards to the end zone
    ep_down_offset: tuple[float, float, float, float]
    ep_distance_slope: tuple[float, float, float, float]  # EP per yard shorter than 10 to go, by down
    record_intercept: float  # expected home margin between equal records (the home edge of the record prior)
    record_slope: float  # expected margin per unit of shrunk win-percentage difference
    record_shrink_games: float  # phantom games at .500 added to each record: the regression to the mean
    record_prior_sd: float  # SD of the market-implied margin around the record prior
    home_edge_prior_sd: float  # SD of the market-implied margin when nothing but the venue is known

    @property
    def regulation_seconds(self) -> float:
        return self.periods * self.period_seconds


def football_params(raw: dict[str, Any]) -> FootballParams:
    """Build params from one league's JSON object (extra keys such as `source` are ignored)."""
    kwargs: dict[str, object] = {}
    for name in FootballParams.__dataclass_fields__:
        value = raw[name]
        if isinstance(value, list):
            kwargs[name] = tuple(float(v) for v in value)
        else:
            kwargs[name] = int(value) if name == "periods" else float(value)  # type: ignore[arg-type]
    return FootballParams(**kwargs)  # type: ignore[arg-type]


def load_football_params() -> dict[str, FootballParams]:
    return {league: football_params(raw) for league, raw in load_params("football").items()}


def expected_points(params: FootballParams, to_go_100: np.ndarray, down: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Expected points of the possessing team (nflfastR-fitted curve), vectorized."""
    c0, c1, c2 = params.ep_poly
    idx = (down - 1).astype(int)
    offset = np.asarray(params.ep_down_offset)[idx]
    slope = np.asarray(params.ep_distance_slope)[idx]
    return c0 + c1 * to_go_100 + c2 * to_go_100**2 + offset + slope * (10.0 - np.minimum(distance, to_go_100))


class FootballModel(TwoWayMarginModel):
    """Win probability of home ("a") vs away ("b") for one football league."""

    family = "football"
    version = "2"

    def __init__(self, league: str, params: FootballParams | None = None) -> None:
        league = league.lower()
        super().__init__(league, params if params is not None else params_for(self.family, league, load_football_params()))

    def _home_probability(self, states: Sequence[EventState]) -> np.ndarray:
        p = self.params
        is_final, home_won = final_outcomes(states)
        seconds_left, half_left = self._time_left(states, is_final)
        margin = np.array([float(s.score_a - s.score_b) for s in states])
        prior = prior_inputs(states)
        record_margin = self._record_margin(states)
        pregame = expected_margin(prior, p.spread_slope, p.home_edge, record_margin)
        ratio = p.ingame_sigma / p.sigma
        drift = pregame * ratio
        market_known = ~np.isnan(prior.from_spread) | ~np.isnan(prior.from_probability)
        prior_sd = np.where(market_known, 0.0, np.where(np.isnan(record_margin), p.home_edge_prior_sd, p.record_prior_sd))

        sign = possession_sign(states)
        to_go, down, distance = self._field(states, sign, is_final)
        cash_in = np.minimum(1.0, half_left / p.ep_horizon_seconds)
        possession = sign * expected_points(p, to_go, down, distance) * cash_in

        timeouts_a = np.array([float(s.features.get("timeouts_a", 0.0)) for s in states])
        timeouts_b = np.array([float(s.features.get("timeouts_b", 0.0)) for s in states])
        trailing_timeouts = np.where(margin < 0, timeouts_a, np.where(margin > 0, timeouts_b, 0.5 * (timeouts_a + timeouts_b)))
        second_half = np.array([s.period > p.periods // 2 for s in states])  # first-half timeouts do not carry over
        frac = seconds_left / p.regulation_seconds
        bought = p.timeout_seconds * trailing_timeouts * ((seconds_left > 0) & second_half)
        clock_frac = (seconds_left + bought) / p.regulation_seconds

        mu = margin + drift * frac + possession
        sd = np.sqrt(p.ingame_sigma**2 * np.minimum(clock_frac, 1.0) + (ratio * prior_sd * frac) ** 2)
        ot_frac = p.overtime_seconds / p.regulation_seconds
        ot_sd = np.full_like(mu, p.ingame_sigma * np.sqrt(ot_frac))
        p_ot = win_probability(drift * ot_frac, ot_sd, np.full_like(mu, 0.5))
        p_home = bounded(win_probability(mu, sd, p_ot))
        return np.where(is_final, home_won, p_home)

    def _record_margin(self, states: Sequence[EventState]) -> np.ndarray:
        """Expected home margin from season-to-date records where all four counts are given, else NaN.

        A tie counts half a win; k/2 phantom wins and k/2 phantom losses pull a
        short record towards .500 (k fitted on the market in the derivation).
        """
        p = self.params
        k = p.record_shrink_games
        rec = np.array([[s.features.get(key, np.nan) for key in RECORD_KEYS] for s in states], dtype=float)
        ties = np.array([[s.features.get(key, 0.0) for key in TIE_KEYS] for s in states], dtype=float)
        pct_a = (rec[:, 0] + ties[:, 0] / 2 + k / 2) / (rec[:, 0] + rec[:, 1] + ties[:, 0] + k)
        pct_b = (rec[:, 2] + ties[:, 1] / 2 + k / 2) / (rec[:, 2] + rec[:, 3] + ties[:, 1] + k)
        neutral = np.array([float(s.features.get("neutral_site", 0.0)) for s in states]) > 0.5
        return np.where(neutral, 0.0, p.record_intercept) + p.record_slope * (pct_a - pct_b)

    def _time_left(self, states: Sequence[EventState], is_final: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seconds left in the game (or the current overtime) and in the current half."""
        p = self.params
        period = np.ones(len(states))
        clock = np.full(len(states), p.period_seconds)
        for i, s in enumerate(states):
            if is_final[i] or s.status == EventStatus.SCHEDULED or s.period == 0:
                continue
            period[i] = s.period
            if s.period > p.periods and self.league == "ncaaf":
                clock[i] = p.overtime_seconds  # untimed college overtime, priced as a fixed stretch of play
            elif s.clock_seconds is not None:
                clock[i] = float(s.clock_seconds)
            elif s.status == EventStatus.BREAK:
                clock[i] = 0.0  # a break sits at the end of a period
            else:
                raise StateNotModelable(f"{s.event_id}: live {self.league} state without a game clock")
        in_ot = period > p.periods
        clock = np.clip(clock, 0.0, np.where(in_ot, p.overtime_seconds, p.period_seconds))
        reg_period = np.minimum(period, p.periods)
        game_left = (p.periods - reg_period) * p.period_seconds + clock
        half_left = np.where(reg_period % 2 == 1, p.period_seconds, 0.0) + clock
        return np.where(in_ot, clock, game_left), np.where(in_ot, clock, half_left)

    def _field(
        self, states: Sequence[EventState], sign: np.ndarray, is_final: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Yards to the end zone, down and distance of the possession in progress.

        A possession without a valid down (the feed reports -1 around kickoffs and
        changes of possession) is priced as a fresh 1st & 10 from its spot.
        """
        n = len(states)
        to_go = np.full(n, 75.0)
        down = np.ones(n)
        distance = np.full(n, 10.0)
        for i, s in enumerate(states):
            if sign[i] == 0.0 or is_final[i]:
                continue
            if s.yard_line is None:
                raise StateNotModelable(f"{s.event_id}: possession without a yard line")
            to_go[i] = float(np.clip(100 - s.yard_line, 1, 99))
            if s.down is not None and 1 <= s.down <= 4:
                down[i] = s.down
                distance[i] = float(s.distance) if s.distance is not None and s.distance > 0 else 10.0
        return to_go, down, distance
