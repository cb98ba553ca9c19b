"""In-game win probability for basketball (NBA, WNBA, NCAA men): a normal final margin.

The final home margin is the current margin plus what the rest of the game adds:
the pregame expected margin scaled by the fraction of regulation left, plus half a
possession for the team holding the ball, with noise sigma * sqrt(fraction left)
(scoring is close to a random walk, so variance grows linearly with time). Leads
revert within a game, so the in-game sigma (Stern 1994) is larger than the SD of
final margins; the pregame drift is scaled by their ratio so the tip-off
probability is still Phi(expected margin / final-margin sigma), the market prior.
Sigma and the market slope are fitted on real games by `python -m ops.models.derive_basketball`.
A tie at the buzzer goes to overtime, priced as a short game between the same teams.
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


@dataclass(frozen=True)
class BasketballParams:
    periods: int
    period_seconds: float
    overtime_seconds: float
    shot_clock: float
    sigma: float  # SD of the full-game final margin around its pregame expectation
    ingame_sigma: float  # Brownian sigma of the score difference during play (per full game)
    spread_slope: float  # expected margin per probit unit of pregame win probability
    home_edge: float  # mean home margin when no strength information is given
    possession_value: float  # points of expected margin for holding the ball

    @property
    def regulation_seconds(self) -> float:
        return self.periods * self.period_seconds


def load_basketball_params() -> dict[str, BasketballParams]:
    raw = load_params("basketball")
    fields = BasketballParams.__dataclass_fields__
    def typed(k: str, v: Any) -> Any:
        return int(v) if k == "periods" else float(v)

    return {league: BasketballParams(**{k: typed(k, v) for k, v in p.items() if k in fields}) for league, p in raw.items()}


class BasketballModel(TwoWayMarginModel):
    """Win probability of home ("a") vs away ("b") for one basketball league."""

    family = "basketball"
    version = "1"

    def __init__(self, league: str, params: BasketballParams | None = None) -> None:
        league = league.lower()
        super().__init__(league, params if params is not None else params_for(self.family, league, load_basketball_params()))

    def _home_probability(self, states: Sequence[EventState]) -> np.ndarray:
        p = self.params
        is_final, home_won = final_outcomes(states)
        seconds_left = self._time_left(states, is_final)
        margin = np.array([float(s.score_a - s.score_b) for s in states])
        pregame = expected_margin(prior_inputs(states), p.spread_slope, p.home_edge)

        reg = p.regulation_seconds
        frac = seconds_left / reg
        holding = possession_sign(states) * p.possession_value * np.minimum(1.0, seconds_left / p.shot_clock)
        drift = pregame * (p.ingame_sigma / p.sigma)
        mu = margin + drift * frac + holding
        sd = p.ingame_sigma * np.sqrt(frac)
        ot_frac = p.overtime_seconds / reg
        ot_sd = np.full_like(mu, p.ingame_sigma * np.sqrt(ot_frac))
        p_ot = win_probability(drift * ot_frac, ot_sd, np.full_like(mu, 0.5))
        p_home = bounded(win_probability(mu, sd, p_ot))
        return np.where(is_final, home_won, p_home)

    def _time_left(self, states: Sequence[EventState], is_final: np.ndarray) -> np.ndarray:
        """Seconds of play left: in regulation, or in the current overtime period."""
        p = self.params
        period = np.zeros(len(states))
        clock = np.zeros(len(states))
        for i, s in enumerate(states):
            if is_final[i]:
                continue
            if s.status == EventStatus.SCHEDULED or s.period == 0:
                period[i], clock[i] = 1, p.period_seconds
                continue
            if s.clock_seconds is None:
                if s.status != EventStatus.BREAK:
                    raise StateNotModelable(f"{s.event_id}: live {self.league} state without a game clock")
                clock[i] = 0.0  # a break sits at the end of a period
            else:
                clock[i] = float(s.clock_seconds)
            period[i] = s.period
        in_ot = period > p.periods
        clock = np.clip(clock, 0.0, np.where(in_ot, p.overtime_seconds, p.period_seconds))
        regulation_left = (p.periods - np.minimum(period, p.periods)) * p.period_seconds + clock
        return np.where(in_ot, clock, regulation_left)
