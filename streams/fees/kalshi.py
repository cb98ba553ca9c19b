"""Kalshi trading fees, as published in the Kalshi fee schedule and its fee-rounding page.

Order fee (General Trading Fees Table): `round_up(0.07 · C · P · (1−P))` to the next
cent for takers; makers pay `round_up(0.0175 · C · P · (1−P))` on series with maker
fees (`quadratic_with_maker_fees`). The series/event `fee_multiplier` scales the rate,
so callers pass the listing's effective rate. `order_fee_levels_micros` (one rounding of
the summed raw fee) is the estimate the shard prices edges with; what an order is
actually charged is per fill, below (`fill_fees_micros`).

Fill accounting (docs.kalshi.com/getting_started/fee_rounding): each fill's trade fee
is rounded up to a centicent ($0.0001), the balance change is floored to the member's
balance precision, the difference is a rounding fee, and a per-order accumulator
rebates whole cents once the rounding paid exceeds $0.01.

All amounts are int micro-dollars; see `streams.fees.fixed` for the units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from streams.fees.fixed import (
    P4_ONE,
    FeeError,
    c100_of,
    p4_of,
    rate_ppm,
    wide_div_pow10,
    wide_mul,
    wide_sum,
)

TAKER_RATE = 0.07
MAKER_RATE = 0.0175

CENT_MICROS = 10_000
CENTICENT_MICROS = 100
#: Non-direct members' balances are kept to the cent, direct members' to the centicent.
NON_DIRECT_PRECISION_MICROS = CENT_MICROS
DIRECT_PRECISION_MICROS = CENTICENT_MICROS

# raw fee in cents = rate_ppm · c100 · q4 / 10^14 (1e6 · 1e2 · 1e8 / 1e2)
_CENT_DIGITS = 14
# raw fee in centicents = rate_ppm · c100 · q4 / 10^12
_CENTICENT_DIGITS = 12


def _raw_numerator(levels: Sequence[tuple[int, float]], rate: float) -> int:
    r = rate_ppm(rate)
    total = 0
    for price_micros, count in levels:
        p4 = p4_of(price_micros)
        total += r * c100_of(count) * p4 * (P4_ONE - p4)
    return total


def order_fee_micros(price_micros: int, count: float, rate: float = TAKER_RATE) -> int:
    """Fee of one order of `count` contracts at one price, rounded up to the cent."""
    return order_fee_levels_micros([(price_micros, count)], rate)


def order_fee_levels_micros(levels: Sequence[tuple[int, float]], rate: float = TAKER_RATE) -> int:
    """Fee of one order filled across price levels: the summed raw fee, rounded up to the cent."""
    num = _raw_numerator(levels, rate)
    return -(-num // 10**_CENT_DIGITS) * CENT_MICROS


def trade_fee_centicent_micros(price_micros: int, count: float, rate: float = TAKER_RATE) -> int:
    """A single fill's trade fee rounded up to the centicent (fee-rounding step 1)."""
    num = _raw_numerator([(price_micros, count)], rate)
    return -(-num // 10**_CENTICENT_DIGITS) * CENTICENT_MICROS


def order_fee_micros_v(
    p4: np.ndarray, c100: np.ndarray, rate_ppm_: np.ndarray, cumulative: bool
) -> np.ndarray:
    """Vectorized order fee over the last axis (levels), rounded up to the cent.

    `p4`, `c100`: int64 (..., L); `rate_ppm_`: int64 broadcastable to (..., 1).
    With `cumulative`, element l is the fee of an order walking levels 0..l.
    """
    q4 = p4 * (P4_ONE - p4)
    hi, lo = wide_mul(rate_ppm_ * c100, q4)
    s_hi, s_lo = wide_sum(hi, lo, cumulative)
    return wide_div_pow10(s_hi, s_lo, _CENT_DIGITS, ceil=True) * CENT_MICROS


@dataclass(frozen=True)
class FillFee:
    """The three fee components of one fill and the balance change they produce."""

    trade_fee_micros: int
    rounding_fee_micros: int
    rebate_micros: int
    net_fee_micros: int
    balance_change_micros: int  # floor(revenue − trade fee); the rebate is credited separately
    accumulator_micros: int  # after this fill's rounding was added, before the rebate


@dataclass(frozen=True)
class FeeAccumulator:
    """Per-order rounding overpayment carried across fills (taker and maker alike)."""

    accumulated_micros: int = 0
    precision_micros: int = NON_DIRECT_PRECISION_MICROS

    def apply_fill(self, revenue_micros: int, trade_fee_micros: int) -> tuple["FeeAccumulator", FillFee]:
        """Apply one fill: `revenue` is signed (negative for buyers), `trade_fee` already ceiled."""
        if trade_fee_micros < 0 or trade_fee_micros % CENTICENT_MICROS:
            raise FeeError(f"trade fee {trade_fee_micros} micros is not a non-negative centicent amount")
        change = revenue_micros - trade_fee_micros
        floored = (change // self.precision_micros) * self.precision_micros  # toward −∞
        rounding = change - floored
        acc = self.accumulated_micros + rounding
        rebate = CENT_MICROS if acc > CENT_MICROS else 0
        fill = FillFee(
            trade_fee_micros=trade_fee_micros,
            rounding_fee_micros=rounding,
            rebate_micros=rebate,
            net_fee_micros=trade_fee_micros + rounding - rebate,
            balance_change_micros=floored,
            accumulator_micros=acc,
        )
        return FeeAccumulator(acc - rebate, self.precision_micros), fill


def fill_revenue_micros(price_micros: int, count: float, buy: bool = True) -> int:
    """Signed cash of a fill before fees: buyers pay price · count."""
    amount = p4_of(price_micros) * c100_of(count)  # in 1e-6 $: p4·1e-4 · c100·1e-2
    return -amount if buy else amount


def fill_fees_micros(fills: Sequence[tuple[int, float]], rate: float = TAKER_RATE, *, buy: bool = True,
                     precision_micros: int = NON_DIRECT_PRECISION_MICROS) -> list[int]:
    """Net fee of each fill of one order, as Kalshi charges it: each fill's trade fee rounded up to the
    centicent, the balance change floored to the member's precision (the rounding fee), and the order's
    accumulator rebating a whole cent once the rounding paid exceeds one. One rounding of the summed fee
    instead is a cent low on some multi-level walks."""
    acc = FeeAccumulator(precision_micros=precision_micros)
    out = []
    for price_micros, count in fills:
        acc, fee = acc.apply_fill(fill_revenue_micros(price_micros, count, buy),
                                  trade_fee_centicent_micros(price_micros, count, rate))
        out.append(fee.net_fee_micros)
    return out
