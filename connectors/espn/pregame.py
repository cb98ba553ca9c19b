"""Carry an event's last pregame market line into its live states.

ESPN's scoreboard shows the odds while a game is scheduled and drops them once
it starts; the in-game models start from that line (football without it falls
back on season records, measurably worse). The pipeline remembers the last line
seen per event and fills it into later states that lack one, marking them with
the feature `pregame_line_carried` = 1 so a consumer can tell.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from schemas.records import EventState

LINE_FEATURES = ("moneyline_a", "moneyline_b")


@dataclass(frozen=True)
class PregameLine:
    spread_a: float | None
    total: float | None
    features: tuple[tuple[str, float], ...]

    @property
    def empty(self) -> bool:
        return self.spread_a is None and self.total is None and not self.features


def line_of(state: EventState) -> PregameLine:
    return PregameLine(
        state.spread_a,
        state.total,
        tuple((k, state.features[k]) for k in LINE_FEATURES if k in state.features),
    )


def carry(state: EventState, line: PregameLine | None) -> EventState:
    """The state with the remembered line filled where it has none (never overriding its own)."""
    if line is None or line.empty:
        return state
    features = dict(state.features)
    missing = [(k, v) for k, v in line.features if k not in features]
    spread = state.spread_a if state.spread_a is not None else line.spread_a
    total = state.total if state.total is not None else line.total
    if not missing and spread == state.spread_a and total == state.total:
        return state
    features.update(missing)
    features["pregame_line_carried"] = 1.0
    return dataclasses.replace(state, spread_a=spread, total=total, features=features)
