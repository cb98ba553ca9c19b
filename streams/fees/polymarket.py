"""Polymarket CLOB taker fees, as published at docs.polymarket.com/trading/fees.

`fee = C · feeRate · (p · (1 − p))^exponent`, taker only; `feeRate` and `exponent`
come from each market's fee schedule (MarketListing.taker_fee_rate, fee_exponent),
never assumed zero. "Fees are rounded to 5 decimal places. The smallest fee charged
is 0.00001 USDC. Anything smaller rounds to zero": the rounding is downward, which is
what recorded trades show (5 shares at 0.47, rate 0.07: raw 0.087185, charged 0.08718)
and what NautilusTrader's adapter does. A taker order that sweeps several levels is
priced as one fee on the summed raw amount (a split into per-maker matches can differ
by at most 10 micro-dollars per extra match).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from streams.fees.fixed import (
    P4_ONE,
    c100_of,
    exponent_of,
    p4_of,
    rate_ppm,
    wide_div_pow10,
    wide_mul,
    wide_sum,
)

FEE_QUANTUM_MICROS = 10  # 0.00001 USD

# fee in 1e-5 USD = rate_ppm · c100 · q4^e / (10^3 · 10^(8e))
_DIGITS = {1: 11, 2: 19}


def taker_fee_micros(price_micros: int, count: float, rate: float, exponent: float = 1.0) -> int:
    """Taker fee of `count` shares at one price, floored to 1e-5 USD."""
    return taker_fee_levels_micros([(price_micros, count)], rate, exponent)


def taker_fee_levels_micros(levels: Sequence[tuple[int, float]], rate: float, exponent: float = 1.0) -> int:
    """Taker fee of one order swept across price levels, floored to 1e-5 USD."""
    e = exponent_of(exponent)
    r = rate_ppm(rate)
    num = 0
    for price_micros, count in levels:
        p4 = p4_of(price_micros)
        num += r * c100_of(count) * (p4 * (P4_ONE - p4)) ** e
    return (num // 10 ** _DIGITS[e]) * FEE_QUANTUM_MICROS


def taker_fee_micros_v(
    p4: np.ndarray, c100: np.ndarray, rate_ppm_: np.ndarray, exponent: np.ndarray, cumulative: bool
) -> np.ndarray:
    """Vectorized taker fee over the last axis (levels); `exponent` is 1 or 2 per row.

    Per-row parameters carry a trailing singleton axis so they broadcast over levels.
    """
    q4 = p4 * (P4_ONE - p4)
    q4e = np.where(exponent == 2, q4 * q4, q4)
    hi, lo = wide_mul(rate_ppm_ * c100, q4e)
    s_hi, s_lo = wide_sum(hi, lo, cumulative)
    f1 = wide_div_pow10(s_hi, s_lo, _DIGITS[1], ceil=False)
    f2 = wide_div_pow10(s_hi, s_lo, _DIGITS[2], ceil=False)
    e_sel = exponent if cumulative else exponent[..., 0]
    return np.where(e_sel == 2, f2, f1) * FEE_QUANTUM_MICROS
