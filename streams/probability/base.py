"""The one interface every win-probability model implements.

A model maps an EventState to a probability per outcome role ("a" = home /
first-named, "b" = away / second, "draw" where the market has one). Models are
pure: no clock, no network; time left comes from the state itself.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from schemas.records import EventState

#: Bounds that keep a probability inside (0, 1) while the event is undecided.
P_MIN = 1e-4
P_MAX = 1.0 - P_MIN


def squeeze(p: np.ndarray) -> np.ndarray:
    """Map rows summing to 1 into [P_MIN, 1 - P_MIN] while keeping the sum at 1."""
    k = p.shape[-1]
    return P_MIN + (1.0 - k * P_MIN) * np.clip(p, 0.0, 1.0)


class ModelError(Exception):
    """Root of probability-model errors."""


class UnknownLeague(ModelError):
    """No model is registered for this market type and league: never guess 0.5."""


class StateNotModelable(ModelError):
    """The state lacks what the model needs (e.g. a live game without a clock)."""


class WinProbabilityModel(Protocol):
    name: str
    version: str

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        """The outcome roles this model prices for the state, e.g. ("a", "b") or ("a", "b", "draw")."""
        ...

    def probabilities(self, state: EventState) -> dict[str, float]:
        """Probability per outcome role; values in (0, 1) summing to 1 (exactly 0/1 once final)."""
        ...

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        """Vectorized form: array (len(states), len(outcomes)) in the order of `outcomes`."""
        ...
