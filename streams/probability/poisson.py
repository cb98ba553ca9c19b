"""Hockey and soccer: independent Poisson scoring over the time left.

Goals in low-scoring sports arrive close to a Poisson process, so the rest of
the game is two Poisson counts whose difference is Skellam-distributed. Team
rates come from league home/away base rates tilted by one strength number `s`
(home rate * e^(s/2), away rate * e^(-s/2)); `s` is solved so that the model's
pregame home-win probability equals the market's `features["p_pregame_a"]`, so
the in-game number starts exactly where the market prior does.

Soccer prices three outcomes (home, away, draw). Hockey settles two-way: a tie
after regulation goes to overtime/shootout, won by the home side with
probability lambda_home / (lambda_home + lambda_away). Some hockey markets
settle on regulation only, so `PoissonModel(league, regulation_only=True)`
prices that three-way view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.stats import skellam

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import StateNotModelable, UnknownLeague, squeeze

PARAMS_FILE = Path(__file__).with_name("params") / "poisson_params.json"

#: Strength grid used to invert pregame probability -> s (monotone in s).
_S_GRID = np.linspace(-6.0, 6.0, 2401)


@dataclass(frozen=True)
class PoissonParams:
    """Per-league scoring rates over regulation and the shape of the clock."""

    league: str
    sport: str  # "hockey" or "soccer"
    home_rate: float  # expected home goals over regulation at s = 0
    away_rate: float
    periods: int
    period_seconds: float
    source: str

    @property
    def regulation_seconds(self) -> float:
        return self.periods * self.period_seconds


@cache
def load_params() -> dict[str, PoissonParams]:
    """Read the fitted/cited rates shipped in params/poisson_params.json."""
    raw = json.loads(PARAMS_FILE.read_text())
    return {
        league: PoissonParams(
            league=league,
            sport=entry["sport"],
            home_rate=float(entry["home_rate"]),
            away_rate=float(entry["away_rate"]),
            periods=int(entry["periods"]),
            period_seconds=float(entry["period_seconds"]),
            source=str(entry["source"]),
        )
        for league, entry in raw["leagues"].items()
    }


def regulation_outcome(
    lead: np.ndarray, mu_home: np.ndarray, mu_away: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(home ahead, away ahead, level) at the end of regulation.

    `lead` is the current home-minus-away score; the rest of the game adds
    Skellam(mu_home, mu_away). With no time left the current score stands.
    """
    lead = np.asarray(lead, dtype=float)
    live = (mu_home > 0) | (mu_away > 0)
    mh = np.where(live, np.maximum(mu_home, 1e-12), 1.0)
    ma = np.where(live, np.maximum(mu_away, 1e-12), 1.0)
    p_draw = np.where(live, skellam.pmf(-lead, mh, ma), (lead == 0).astype(float))
    p_home = np.where(live, skellam.sf(-lead, mh, ma), (lead > 0).astype(float))
    p_away = np.clip(1.0 - p_home - p_draw, 0.0, 1.0)
    return p_home, p_away, p_draw


class PoissonModel:
    """Poisson in-game win probability for one hockey or soccer league."""

    name = "poisson"
    version = "1"

    def __init__(self, league: str, *, regulation_only: bool = False) -> None:
        params = load_params()
        if league not in params:
            raise UnknownLeague(f"no Poisson parameters for league {league!r}")
        self.league = league
        self.params = params[league]
        self.regulation_only = regulation_only
        self.three_way = self.params.sport == "soccer" or regulation_only
        if self.params.sport == "soccer" and regulation_only:
            raise ValueError("soccer is always priced three-way on regulation")
        self._p_grid = self._pregame_curve()

    # ------------------------------------------------------------------ rates

    def rates(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Home and away regulation goal rates for strength s."""
        s = np.asarray(s, dtype=float)
        return self.params.home_rate * np.exp(s / 2), self.params.away_rate * np.exp(-s / 2)

    def overtime_home(self, s: np.ndarray) -> np.ndarray:
        """Home share of overtime/shootout wins: the stronger scorer is likelier to score first."""
        lam_h, lam_a = self.rates(s)
        return lam_h / (lam_h + lam_a)

    def _pregame_curve(self) -> np.ndarray:
        """Pregame P(home wins the market's headline outcome) over the s grid."""
        lam_h, lam_a = self.rates(_S_GRID)
        p_h, _, p_d = regulation_outcome(np.zeros_like(_S_GRID), lam_h, lam_a)
        if self.params.sport == "hockey":
            return p_h + p_d * self.overtime_home(_S_GRID)
        return p_h

    def strength(self, p_pregame: np.ndarray) -> np.ndarray:
        """Invert the pregame curve: the s whose pregame home win equals p (NaN -> league base)."""
        p = np.asarray(p_pregame, dtype=float)
        s = np.interp(p, self._p_grid, _S_GRID)
        return np.where(np.isnan(p), 0.0, s)

    # -------------------------------------------------------------- interface

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return ("a", "b", "draw") if self.three_way else ("a", "b")

    def probabilities(self, state: EventState) -> dict[str, float]:
        row = self.probabilities_batch([state])[0]
        return dict(zip(self.outcomes(state), (float(x) for x in row)))

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        k = 3 if self.three_way else 2
        out = np.empty((len(states), k))
        live_idx: list[int] = []
        lead, remaining, p_pre, in_ot = [], [], [], []
        for i, st in enumerate(states):
            final = self._final_row(st)
            if final is not None:
                out[i] = final
                continue
            live_idx.append(i)
            lead.append(st.score_a - st.score_b)
            rem, ot = self._remaining(st)
            remaining.append(rem)
            in_ot.append(ot)
            p_pre.append(st.features.get("p_pregame_a", np.nan))
        if live_idx:
            out[live_idx] = self._live(
                np.array(lead, dtype=float),
                np.array(remaining, dtype=float),
                np.array(p_pre, dtype=float),
                np.array(in_ot, dtype=bool),
            )
        return out

    # -------------------------------------------------------------- internals

    def _live(
        self, lead: np.ndarray, remaining: np.ndarray, p_pre: np.ndarray, in_ot: np.ndarray
    ) -> np.ndarray:
        s = self.strength(p_pre)
        lam_h, lam_a = self.rates(s)
        frac = remaining / self.params.regulation_seconds
        p_h, p_a, p_d = regulation_outcome(lead, lam_h * frac, lam_a * frac)
        if self.three_way:
            raw = np.stack([p_h, p_a, p_d], axis=1)
            # Regulation is over in overtime: the regulation result is a draw, settled.
            settled = np.array([0.0, 0.0, 1.0])
            return np.where(in_ot[:, None], settled, squeeze(raw))
        q = self.overtime_home(s)
        p_home = np.where(in_ot, np.where(lead > 0, 1.0, np.where(lead < 0, 0.0, q)), p_h + p_d * q)
        raw = np.stack([p_home, 1.0 - p_home], axis=1)
        return squeeze(raw)

    def _remaining(self, st: EventState) -> tuple[float, bool]:
        """Regulation seconds left and whether play is past regulation."""
        prm = self.params
        if st.status == EventStatus.SCHEDULED or st.period <= 0:
            return prm.regulation_seconds, False
        if st.period > prm.periods:
            if prm.sport == "soccer":
                raise StateNotModelable(
                    f"{self.league}: period {st.period} is extra time, which league play does not have"
                )
            return 0.0, True
        if st.clock_seconds is None:
            raise StateNotModelable(f"{self.league}: live state {st.state_id} has no clock")
        clock = min(max(float(st.clock_seconds), 0.0), prm.period_seconds)
        return (prm.periods - st.period) * prm.period_seconds + clock, False

    def _final_row(self, st: EventState) -> np.ndarray | None:
        """The certain outcome once final; None while the game is undecided."""
        if st.status != EventStatus.FINAL:
            return None
        if self.regulation_only:
            if st.period > self.params.periods:
                return np.array([0.0, 0.0, 1.0])
            if st.period <= 0:
                raise StateNotModelable(f"{self.league}: final state without its period")
        if st.score_a > st.score_b:
            role = "a"
        elif st.score_b > st.score_a:
            role = "b"
        elif self.three_way:
            role = "draw"
        elif st.winner in ("a", "b"):
            role = st.winner
        else:
            raise StateNotModelable(f"{self.league}: final tied at {st.score_a} with no winner")
        roles = ("a", "b", "draw") if self.three_way else ("a", "b")
        return np.array([1.0 if r == role else 0.0 for r in roles])
