"""The economics release model: a target EventState -> P(published >= X) for role "a", the rest for "b".

The forecast it reads (mean and error quantiles) was fitted by the targets
processor with `streams.probability.economics`; here it only meets the threshold
on the publication grid. A settled target is the indicator of its published figure.
"""

from __future__ import annotations

from schemas.records import EventState
from streams.economics.target import from_state
from streams.probability.base import StateNotModelable
from streams.probability.binary import BinaryTargetModel, bounded, read_target


class ReleaseModel(BinaryTargetModel):
    name = "econ-ar1-empirical"
    version = "1"

    def p_yes(self, state: EventState) -> float:
        r = read_target(state, from_state, "release-target")
        if r.published is not None:
            return 1.0 if r.published >= r.threshold - 1e-9 else 0.0
        if r.forecast is not None:
            return bounded(state, r.forecast.p_at_least(r.threshold, r.step))
        raise StateNotModelable(f"{state.event_id}: neither a forecast nor a published figure")
