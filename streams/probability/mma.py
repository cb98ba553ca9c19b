"""MMA: the pre-fight price, updated by how much finishing time is left.

A fight ends by finish (KO/TKO/submission) or, after the last scheduled round,
by decision. Favourites win a larger share of finishes than of decisions, so
the pre-fight probability p0 splits into p_finish (more extreme) and p_decision
(closer to even) with p0 = F * p_finish + (1 - F) * p_decision, F being the
pre-fight chance of a finish. As rounds pass without a finish the remaining
finish chance shrinks and the probability drifts from p0 toward p_decision;
at the final bell it is p_decision. Finish hazards per round come from UFC
results shares (params/mma_params.json); within a round the hazard is constant.

With no live striking data this is the honest update the clock alone supports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.special import expit, logit

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import StateNotModelable, UnknownLeague
from streams.probability.base import squeeze

PARAMS_FILE = Path(__file__).with_name("params") / "mma_params.json"


@dataclass(frozen=True)
class MMAParams:
    league: str
    round_seconds: float
    finish_share: dict[int, tuple[float, ...]]  # rounds scheduled -> share of fights finished in round r
    finish_tilt: float  # logit(p_finish) = finish_tilt * logit(p0)
    source: str

    def hazards(self, rounds: int) -> np.ndarray:
        """Probability that a fight alive at the start of round r is finished in it."""
        if rounds not in self.finish_share:
            raise StateNotModelable(f"{self.league}: no finish rates for {rounds}-round fights")
        share = np.array(self.finish_share[rounds])
        alive = 1.0 - np.concatenate([[0.0], np.cumsum(share)[:-1]])
        return share / alive


@cache
def load_params() -> dict[str, MMAParams]:
    raw = json.loads(PARAMS_FILE.read_text())
    return {
        k: MMAParams(
            league=k,
            round_seconds=float(v["round_seconds"]),
            finish_share={int(r): tuple(float(x) for x in s) for r, s in v["finish_share"].items()},
            finish_tilt=float(v["finish_tilt"]),
            source=str(v["source"]),
        )
        for k, v in raw["leagues"].items()
    }


class MMAModel:
    """Fight win probability from the pre-fight price, round and clock."""

    name = "mma-finish-hazard"
    version = "1"

    def __init__(self, league: str = "ufc") -> None:
        params = load_params()
        if league not in params:
            raise UnknownLeague(f"no MMA parameters for league {league!r}")
        self.league = league
        self.params = params[league]

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return ("a", "b")

    def probabilities(self, state: EventState) -> dict[str, float]:
        row = self.probabilities_batch([state])[0]
        return {"a": float(row[0]), "b": float(row[1])}

    def finish_left(self, rounds: np.ndarray, rnd: np.ndarray, clock: np.ndarray) -> np.ndarray:
        """P(the fight is still finished before the final bell), given it is alive now."""
        out = np.empty(len(rounds))
        for n in np.unique(rounds):
            h = self.params.hazards(int(n))
            sel = rounds == n
            r = np.clip(rnd[sel], 1, n)
            frac = np.clip(clock[sel] / self.params.round_seconds, 0.0, 1.0)
            survive_now = (1.0 - h[r - 1]) ** frac  # rest of the current round
            later = np.array([np.prod(1.0 - h[k:]) for k in range(int(n) + 1)])  # rounds k+1..n
            out[sel] = 1.0 - survive_now * later[r]
        return out

    def split(self, p0: np.ndarray, rounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p_finish, p_decision) consistent with p0 and the pre-fight finish chance."""
        f0 = self.finish_left(rounds, np.ones_like(rounds), np.full(len(rounds), self.params.round_seconds))
        p_fin = expit(self.params.finish_tilt * logit(p0))
        p_dec = np.clip((p0 - f0 * p_fin) / (1.0 - f0), 1e-6, 1 - 1e-6)
        return p_fin, p_dec

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        out = np.empty((len(states), 2))
        live: list[int] = []
        p0, rounds, rnd, clock = [], [], [], []
        for i, st in enumerate(states):
            if st.status == EventStatus.FINAL:
                out[i] = self._final_row(st)
                continue
            if "p_pregame_a" not in st.features:
                raise StateNotModelable(f"{self.league} state {st.state_id}: needs p_pregame_a (the odds prior)")
            n = int(st.features.get("rounds_scheduled", 3))
            r = int(st.features.get("round", st.period))
            if st.status == EventStatus.SCHEDULED or r <= 0:
                r, c = 1, self.params.round_seconds
            elif st.clock_seconds is None:
                raise StateNotModelable(f"{self.league} state {st.state_id}: live round without a clock")
            else:
                c = float(st.clock_seconds)
            if r > n:
                raise StateNotModelable(f"{self.league} state {st.state_id}: round {r} of {n}")
            live.append(i)
            p0.append(float(st.features["p_pregame_a"]))
            rounds.append(n)
            rnd.append(r)
            clock.append(c)
        if live:
            rounds_a = np.array(rounds)
            p0_a = np.clip(np.array(p0), 1e-4, 1 - 1e-4)
            p_fin, p_dec = self.split(p0_a, rounds_a)
            left = self.finish_left(rounds_a, np.array(rnd), np.array(clock, dtype=float))
            p = left * p_fin + (1.0 - left) * p_dec
            out[live] = squeeze(np.stack([p, 1 - p], axis=1))
        return out

    def _final_row(self, st: EventState) -> np.ndarray:
        if st.winner == "a":
            return np.array([1.0, 0.0])
        if st.winner == "b":
            return np.array([0.0, 1.0])
        raise StateNotModelable(
            f"{self.league} final {st.state_id}: winner {st.winner!r} (draws/no contests do not settle a or b)"
        )
