"""Exact integer fee arithmetic that works on Python ints and numpy int64 arrays alike.

Venue fees are `rate · C · (P·(1−P))^e` rounded to a cent (Kalshi) or to 1e-5 USD
(Polymarket). Floats get the rounding boundary wrong (0.07·100·0.5·0.5 is
1.7500000000000002 in binary and would ceil to $1.76), and the exact integer
product `rate_ppm · centi-contracts · q^e` overflows int64 for large orders.
So products are held as two limbs, `hi·10^18 + lo`, built from 10^9 half-limbs,
and divided by a power of ten at the end. Every function here only uses `*`,
`+`, `//` and `%`, so the same code runs element-wise on int64 arrays.

Units used by callers:
- `p4`: price in units of $0.0001 (both venues' finest tick), 0..10_000;
- `q4 = p4 · (10_000 − p4)`: P·(1−P) in units of 1e-8;
- `c100`: contracts in units of 0.01 (the venues' count granularity);
- `rate_ppm`: the fee rate in millionths (0.07 → 70_000).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

E9 = 10**9
E18 = 10**18

#: Price quantum in micro-dollars: $0.0001, the finest tick of Kalshi and Polymarket.
PRICE_QUANTUM_MICROS = 100
P4_ONE = 10_000

Int = TypeVar("Int", int, np.ndarray)


class FeeError(ValueError):
    """A fee cannot be computed exactly for these inputs (bad price, size or schedule)."""


def rate_ppm(rate: float) -> int:
    """A fee rate as integer millionths; venue rates (0.07, 0.0175, 0.05) are exact in it."""
    if not (rate >= 0.0) or rate > 1.0:
        raise FeeError(f"fee rate {rate!r} outside [0, 1]")
    return int(round(rate * 1_000_000))


def c100_of(count: float) -> int:
    """Contracts as integer hundredths (venue counts are rounded to 0.01)."""
    if not (count >= 0.0):
        raise FeeError(f"contract count {count!r} is negative or not a number")
    return int(round(count * 100))


def p4_of(price_micros: int) -> int:
    """Price in $0.0001 units; refuses prices finer than any venue's tick."""
    if price_micros % PRICE_QUANTUM_MICROS or not (0 <= price_micros <= 1_000_000):
        raise FeeError(f"price {price_micros} micros is not a multiple of $0.0001 in [0, 1]")
    return price_micros // PRICE_QUANTUM_MICROS


def exponent_of(exponent: float) -> int:
    """Fee-curve exponent; only whole exponents 1 and 2 are published (Polymarket feeSchedule)."""
    if exponent not in (1.0, 2.0):
        raise FeeError(f"fee exponent {exponent!r} is not 1 or 2; no published schedule uses it")
    return int(exponent)


def wide_mul(a: Int, b: Int) -> tuple[Int, Int]:
    """(hi, lo) with a·b = hi·10^18 + lo, 0 ≤ lo < 10^18, for 0 ≤ a, b < 10^18."""
    a1, a0 = a // E9, a % E9
    b1, b0 = b // E9, b % E9
    mid = a1 * b0 + a0 * b1  # < 2·10^18
    m1, m0 = mid // E9, mid % E9
    low = m0 * E9 + a0 * b0  # < 2·10^18
    return a1 * b1 + m1 + low // E18, low % E18


def wide_sum(hi: np.ndarray, lo: np.ndarray, cumulative: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sum (or running sum) of wide numbers over the last axis, carries normalised."""
    l1, l0 = lo // E9, lo % E9
    red = (lambda x: np.cumsum(x, axis=-1)) if cumulative else (lambda x: np.sum(x, axis=-1))
    s_hi, s_l1, s_l0 = red(hi), red(l1), red(l0)
    s_l1 = s_l1 + s_l0 // E9
    s_l0 = s_l0 % E9
    return s_hi + s_l1 // E9, (s_l1 % E9) * E9 + s_l0


def wide_div_pow10(hi: Int, lo: Int, k: int, ceil: bool) -> Int:
    """floor or ceil of (hi·10^18 + lo) / 10^k; the quotient must fit in int64."""
    if k <= 18:
        d = 10**k
        q = hi * 10 ** (18 - k) + lo // d
        rem = lo % d
    else:
        d = 10 ** (k - 18)
        q = hi // d
        rem = (hi % d) + lo  # zero iff both are zero (both non-negative)
    if ceil:
        return q + _nonzero(rem)
    return q


def _nonzero(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return (x != 0).astype(np.int64)
    return int(x != 0)
