"""The politics model in the shard: a race EventState -> P(candidate a wins) = Phi(mean / sigma).

`mean` and `sigma` were computed from the polls alone (streams.probability.polls via
streams.politics.races); nothing market-derived is read.
"""

from __future__ import annotations

from scipy.special import ndtr

from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable
from streams.probability.binary import BinaryTargetModel


class RaceModel(BinaryTargetModel):
    name = "polls-race"
    version = "1"

    def p_yes(self, state: EventState) -> float:
        f = state.features
        if "mean" not in f or "sigma" not in f or f["sigma"] <= 0:
            raise StateNotModelable(f"{state.event_id}: not a race state with a forecast")
        return min(P_MAX, max(P_MIN, float(ndtr(f["mean"] / f["sigma"]))))
