"""Fractional Kelly for a binary contract, rounded down to venue sizes and ticks.

A contract bought at all-in cost `c` (price plus fee per contract, as a fraction of
the $1 payout) that pays with probability `p` has the Kelly fraction
`f* = (p − c) / (1 − c)` of bankroll. Full Kelly is too aggressive for a model with
estimation error, so the stake is `fraction · f* · bankroll`. Every rounding here
goes down: a sizing bug should cost opportunity, never money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streams.trading.units import (
    ONE_DOLLAR,
    Contracts,
    Micros,
    Probability,
    UnitError,
    _require,
    contracts_affordable,
)


class SizingError(ValueError):
    """Inputs for which no Kelly size exists (cost outside (0, $1), fraction outside (0, 1])."""


@dataclass(frozen=True)
class KellySize:
    """The answer and how it was reached, so the audit record can say why."""

    kelly_fraction: float  # f*, before the configured fraction
    stake: Micros  # fraction · f* · bankroll, rounded down
    contracts: Contracts  # stake / all-in cost, rounded down to the venue step


def kelly_fraction(p: Probability, cost: Micros) -> float:
    """f* = (p − c)/(1 − c); zero or negative means no bet."""
    _require(p, Probability, "kelly_fraction p")
    _require(cost, Micros, "kelly_fraction cost")
    if not 0 < cost.value < ONE_DOLLAR:
        raise SizingError(f"all-in cost {cost} per contract is outside ($0, $1): no Kelly size for a binary contract")
    c = cost.value / ONE_DOLLAR
    return (p.value - c) / (1.0 - c)


def kelly_size(p: Probability, cost: Micros, bankroll: Micros, fraction: float, step: Contracts) -> KellySize:
    """Contracts to buy at all-in `cost` per contract with `fraction` Kelly on `bankroll`."""
    _require(bankroll, Micros, "kelly_size bankroll")
    _require(step, Contracts, "kelly_size step")
    if isinstance(fraction, (Micros, Contracts, Probability)):
        raise UnitError(f"Kelly fraction is a plain number, got {type(fraction).__name__}")
    if not 0.0 < fraction <= 1.0:
        raise SizingError(f"Kelly fraction {fraction} is outside (0, 1]")
    f = kelly_fraction(p, cost)
    if f <= 0.0 or bankroll.value <= 0:
        return KellySize(f, Micros(0), Contracts(0))
    stake = _stake_down(bankroll, fraction * f)
    return KellySize(f, stake, contracts_affordable(stake, cost).floor_to(step))


#: Float noise allowed when flooring the stake (a micro-dollar's millionth): an exact $50 computed as
#: 49_999_999.9999999 is $50, while 4_999_999.6 is 4_999_999 — never rounded up to buy one more contract.
_NOISE = 1e-6


def _stake_down(bankroll: Micros, share: float) -> Micros:
    """`share` of the bankroll rounded down to the micro-dollar."""
    return Micros(math.floor(bankroll.value * share + _NOISE))


def floor_to_tick(price: Micros, tick: Micros) -> Micros:
    """A buy limit rounded down onto the venue's tick grid (never pays more than signalled)."""
    _require(price, Micros, "floor_to_tick price")
    _require(tick, Micros, "floor_to_tick tick")
    if tick.value <= 0:
        raise SizingError(f"tick {tick} must be positive")
    return Micros((price.value // tick.value) * tick.value)


def ceil_to_tick(price: Micros, tick: Micros) -> Micros:
    """A sell limit rounded up onto the tick grid (never sells for less than signalled)."""
    _require(price, Micros, "ceil_to_tick price")
    _require(tick, Micros, "ceil_to_tick tick")
    if tick.value <= 0:
        raise SizingError(f"tick {tick} must be positive")
    return Micros(-((-price.value) // tick.value) * tick.value)
