"""Shared math of the margin models: a normal final margin, ties, priors, final states.

Basketball and football both model the final home margin as normal around the
current margin plus the expected margin still to come. Scores are integers,
so a margin within half a point of zero is a tie that goes to overtime; the
probability of winning is then P(M > 0.5) + P(|M| < 0.5) * P(win in OT).
Everything here works on numpy arrays so the batch form is the scalar form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable, UnknownLeague

PARAMS_DIR = Path(__file__).resolve().parent / "params"

#: Spread of a margin that is already settled: small enough that any integer lead is certain.
SETTLED_SD = 0.05
#: Statuses in which the game is on (or about to be) and a probability is meaningful.
PLAYABLE = (EventStatus.SCHEDULED, EventStatus.LIVE, EventStatus.BREAK)


def load_params(name: str) -> dict[str, dict[str, Any]]:
    """Read params/<name>.json (written by the ops.models derivation scripts)."""
    return json.loads((PARAMS_DIR / f"{name}.json").read_text())


def win_probability(mu: np.ndarray, sd: np.ndarray, p_tie_win: np.ndarray) -> np.ndarray:
    """P(home wins) for a normal final margin N(mu, sd) on integers, ties settled in OT."""
    sd = np.sqrt(sd**2 + SETTLED_SD**2)
    upper = ndtr((mu - 0.5) / sd)  # P(M > 0.5)
    tie = ndtr((mu + 0.5) / sd) - upper  # P(-0.5 < M < 0.5)
    return upper + tie * p_tie_win


def bounded(p: np.ndarray) -> np.ndarray:
    """Keep an undecided probability strictly inside (0, 1)."""
    return np.clip(p, P_MIN, P_MAX)


@dataclass(frozen=True)
class PriorInputs:
    """Pregame strength as arrays: expected home margin where known, NaN otherwise."""

    from_spread: np.ndarray  # -spread_a
    from_probability: np.ndarray  # probit(p_pregame_a), still to be scaled by the league slope
    neutral: np.ndarray  # 1.0 where the site is neutral (no home edge when nothing else is known)


def prior_inputs(states: Sequence[EventState]) -> PriorInputs:
    """Collect the pregame strength fields of many states into arrays."""
    spread = np.array([np.nan if s.spread_a is None else -float(s.spread_a) for s in states])
    p_pre = np.array([float(s.features.get("p_pregame_a", np.nan)) for s in states])
    bad = ~np.isnan(p_pre) & ((p_pre <= 0.0) | (p_pre >= 1.0))
    if bad.any():
        raise StateNotModelable(f"p_pregame_a must be in (0, 1), got {p_pre[bad][0]}")
    neutral = np.array([float(s.features.get("neutral_site", 0.0)) for s in states])
    return PriorInputs(from_spread=spread, from_probability=ndtri(p_pre), neutral=neutral)


def expected_margin(
    prior: PriorInputs, slope: float, home_edge: float, fallback: np.ndarray | None = None
) -> np.ndarray:
    """Pregame expected home margin: the spread, else the pregame probability, else the home edge.

    `fallback` (expected margins from another strength source, NaN where absent) sits
    between the pregame probability and the bare home edge. The home edge is the
    league's mean home margin in the data, the honest prior when no strength is given.
    """
    base = np.where(prior.neutral > 0.5, 0.0, home_edge)
    if fallback is not None:
        base = np.where(np.isnan(fallback), base, fallback)
    mu = np.where(np.isnan(prior.from_probability), base, slope * prior.from_probability)
    return np.where(np.isnan(prior.from_spread), mu, prior.from_spread)


def final_outcomes(states: Sequence[EventState]) -> tuple[np.ndarray, np.ndarray]:
    """(is_final, home_won) arrays; a final tie of a two-way market is not modelable."""
    is_final = np.array([s.status == EventStatus.FINAL for s in states])
    home_won = np.zeros(len(states))
    for i, s in enumerate(states):
        if not is_final[i]:
            if s.status not in PLAYABLE:
                raise StateNotModelable(f"{s.event_id}: status {s.status.value} has no win probability")
            continue
        winner = s.winner or ("a" if s.score_a > s.score_b else "b" if s.score_b > s.score_a else "draw")
        if winner not in ("a", "b"):
            raise StateNotModelable(f"{s.event_id}: final without a winner ({winner}) in a two-way market")
        home_won[i] = 1.0 if winner == "a" else 0.0
    return is_final, home_won


def possession_sign(states: Sequence[EventState]) -> np.ndarray:
    """+1 when home has the ball, -1 when away does, 0 when nobody does (between plays, kickoffs)."""
    sign = {"a": 1.0, "b": -1.0, None: 0.0}
    out = np.empty(len(states))
    for i, s in enumerate(states):
        if s.possession not in sign:
            raise StateNotModelable(f"{s.event_id}: possession {s.possession!r} is not 'a', 'b' or None")
        out[i] = sign[s.possession]
    return out


def two_way(p_home: np.ndarray) -> np.ndarray:
    """Columns (a, b) from the home probability."""
    return np.column_stack([p_home, 1.0 - p_home])


class TwoWayMarginModel(ABC):
    """The shell both margin models share: the league check, and the scalar form from the batch form.

    Subclasses set `family` and `version` and implement `_home_probability`.
    """

    family = ""
    version = ""

    def __init__(self, league: str, params: Any) -> None:
        self.league = league
        self.params = params
        self.name = f"{self.family}-normal-{league}"

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return ("a", "b")

    def probabilities(self, state: EventState) -> dict[str, float]:
        row = self.probabilities_batch([state])[0]
        return {"a": float(row[0]), "b": float(row[1])}

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        if not states:
            return np.empty((0, 2))
        for s in states:
            if s.market_type != MarketType.SPORT or s.league.lower() != self.league:
                raise UnknownLeague(f"{self.name} cannot price league {s.league!r} ({s.market_type.value})")
        return two_way(self._home_probability(states))

    @abstractmethod
    def _home_probability(self, states: Sequence[EventState]) -> np.ndarray:
        """P(home wins) per state; exactly 0/1 for final states."""


def params_for(family: str, league: str, table: Mapping[str, Any]) -> Any:
    """The league's parameters from a family's table; an unknown league is an explicit error."""
    if league not in table:
        raise UnknownLeague(f"{family} model has no parameters for league {league!r}")
    return table[league]
