"""The economics release model: a target EventState -> P(published >= X) for role "a", the rest for "b".

The forecast it reads (mean and error quantiles) was fitted by the targets
processor with `streams.probability.economics`; here it only meets the threshold
on the publication grid. A settled target is the indicator of its published figure.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from schemas.records import EventState
from streams.economics.target import from_state
from streams.probability.base import P_MAX, P_MIN, StateNotModelable


class ReleaseModel:
    name = "econ-ar1-empirical"
    version = "1"

    def __init__(self, indicator: str) -> None:
        self.indicator = indicator

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return ("a", "b")

    def probabilities(self, state: EventState) -> dict[str, float]:
        try:
            r = from_state(state)
        except (KeyError, ValueError) as exc:
            raise StateNotModelable(f"{state.event_id}: not a release-target state ({exc})") from exc
        if r.published is not None:
            p = 1.0 if r.published >= r.threshold - 1e-9 else 0.0
        elif r.forecast is not None:
            p = min(P_MAX, max(P_MIN, r.forecast.p_at_least(r.threshold, r.step)))
        else:
            raise StateNotModelable(f"{state.event_id}: neither a forecast nor a published figure")
        return {"a": p, "b": 1.0 - p}

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        return np.array([[d["a"], d["b"]] for d in map(self.probabilities, states)], np.float64).reshape(len(states), 2)
