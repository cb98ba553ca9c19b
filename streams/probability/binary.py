"""The shared plumbing of yes/no target models: role "a" is the target's YES, "b" its NO."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Sequence, TypeVar

import numpy as np

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable

T = TypeVar("T")


def read_target(state: EventState, parse: Callable[[EventState], T], what: str) -> T:
    """The target a state's features describe, or StateNotModelable saying which feature was wrong."""
    try:
        return parse(state)
    except (KeyError, ValueError) as exc:
        raise StateNotModelable(f"{state.event_id}: not a {what} state ({exc})") from exc


def bounded(state: EventState, p: float) -> float:
    """Never quote certainty before the outcome is known; a settled target is its indicator."""
    return p if state.status is EventStatus.FINAL else min(P_MAX, max(P_MIN, p))


class BinaryTargetModel(ABC):
    """Subclasses implement `p_yes(state)`; outcomes, the probability dict and the batch form follow."""

    name = ""
    version = ""

    def __init__(self, league: str) -> None:
        self.league = league

    @abstractmethod
    def p_yes(self, state: EventState) -> float:
        """P(YES) of the target described by `state`."""

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return ("a", "b")

    def probabilities(self, state: EventState) -> dict[str, float]:
        p = self.p_yes(state)
        return {"a": p, "b": 1.0 - p}

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        return np.array([[p, 1.0 - p] for p in map(self.p_yes, states)], np.float64).reshape(len(states), 2)
