"""Venue fee functions (pure, exact, int micro-dollars), scalar and numpy-vectorized.

`FeeSchedule.from_listing` reads a market's fee parameters once so the hot path
only handles integers; `order_fee_micros` / `order_fee_micros_v` dispatch on venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from schemas.enums import Venue
from schemas.records import MarketListing
from streams.fees import kalshi, polymarket
from streams.fees.fixed import P4_ONE, FeeError, exponent_of, rate_ppm, wide_div_pow10, wide_mul

#: Row codes used in vectorized arrays.
VENUE_CODES: dict[Venue, int] = {Venue.KALSHI: 0, Venue.POLYMARKET: 1}


@dataclass(frozen=True)
class FeeSchedule:
    """A market's taker fee parameters in exact integer form."""

    venue: Venue
    rate: float
    exponent: int = 1

    @property
    def venue_code(self) -> int:
        return VENUE_CODES[self.venue]

    @property
    def rate_ppm(self) -> int:
        return rate_ppm(self.rate)

    @classmethod
    def from_listing(cls, listing: MarketListing) -> "FeeSchedule":
        if listing.venue not in VENUE_CODES:
            raise FeeError(f"no fee model for venue {listing.venue.value} ({listing.listing_id})")
        if listing.venue is Venue.KALSHI:
            if listing.fee_exponent != 1.0:
                raise FeeError(f"Kalshi fee is quadratic in P; exponent {listing.fee_exponent} on {listing.listing_id}")
            return cls(Venue.KALSHI, listing.taker_fee_rate, 1)
        return cls(Venue.POLYMARKET, listing.taker_fee_rate, exponent_of(listing.fee_exponent))


def order_fee_micros(schedule: FeeSchedule, levels: Sequence[tuple[int, float]]) -> int:
    """Taker fee of one order filled at `levels` [(price_micros, count)], scalar and exact."""
    if schedule.venue is Venue.KALSHI:
        return kalshi.order_fee_levels_micros(levels, schedule.rate)
    return polymarket.taker_fee_levels_micros(levels, schedule.rate, schedule.exponent)


def fill_fees_micros(schedule: FeeSchedule, fills: Sequence[tuple[int, float]], *, buy: bool = True) -> list[int]:
    """The fee charged on each fill of one taker order [(price_micros, count)], in fill order.

    Kalshi rounds per fill with a per-order carry (`kalshi.fill_fees_micros`); Polymarket's order fee
    is split across the fills as the running total's increments, so they add up to it exactly.
    """
    if schedule.venue is Venue.KALSHI:
        return kalshi.fill_fees_micros(fills, schedule.rate, buy=buy)
    out, before = [], 0
    for k in range(len(fills)):
        cum = polymarket.taker_fee_levels_micros(fills[: k + 1], schedule.rate, schedule.exponent)
        out.append(cum - before)
        before = cum
    return out


def order_fee_micros_v(
    venue_code: np.ndarray,
    p4: np.ndarray,
    c100: np.ndarray,
    rate_ppm_: np.ndarray,
    exponent: np.ndarray,
    cumulative: bool,
) -> np.ndarray:
    """Vectorized taker fee over the last axis for rows of mixed venues.

    `venue_code`, `rate_ppm_`, `exponent` are per row with trailing singleton axes
    so they broadcast against `p4`/`c100` (rows, ..., levels).
    """
    k = kalshi.order_fee_micros_v(p4, c100, rate_ppm_, cumulative)
    pm = polymarket.taker_fee_micros_v(p4, c100, rate_ppm_, exponent, cumulative)
    sel = venue_code[..., 0] if not cumulative else venue_code
    return np.where(sel == VENUE_CODES[Venue.KALSHI], k, pm)


def fee_numerator_wide(p4: np.ndarray, c100: np.ndarray, rate_ppm_: np.ndarray, exponent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rate_ppm · c100 · (p4·(10^4 − p4))^e as two limbs: the raw fee both venues round."""
    q4 = p4 * (P4_ONE - p4)
    return wide_mul(rate_ppm_ * c100, np.where(exponent == 2, q4 * q4, q4))


def fee_from_wide(venue_code: np.ndarray, exponent: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Venue rounding of summed raw fees: Kalshi up to the cent, Polymarket down to 1e-5 USD."""
    k = wide_div_pow10(hi, lo, 14, ceil=True) * kalshi.CENT_MICROS
    p1 = wide_div_pow10(hi, lo, 11, ceil=False) * polymarket.FEE_QUANTUM_MICROS
    p2 = wide_div_pow10(hi, lo, 19, ceil=False) * polymarket.FEE_QUANTUM_MICROS
    return np.where(venue_code == VENUE_CODES[Venue.KALSHI], k, np.where(exponent == 2, p2, p1))


__all__ = [
    "FeeError", "FeeSchedule", "VENUE_CODES", "fee_from_numerator", "fill_fees_micros", "fee_from_wide", "fee_numerator", "fee_numerator_wide",
    "fits_int64", "order_fee_micros", "order_fee_micros_v",
]


#: Raw fee numerators below this are summed in plain int64 (headroom for running sums).
_NARROW_LIMIT = float(2**62)


def fits_int64(c100: np.ndarray, p4: np.ndarray, rate_ppm_: np.ndarray, exponent: np.ndarray) -> bool:
    """Whether every row's whole-ladder raw fee numerator fits int64, so the two-limb form is not needed.

    Bounded in float64 from above: rate · (max p·(1−p))^e · total size, with margin.
    """
    if not c100.size:
        return True
    q4 = p4 * (P4_ONE - p4)
    qmax = q4.max(axis=1).astype(np.float64)
    qe = np.where(exponent.reshape(-1) == 2, qmax * qmax, qmax)
    bound = rate_ppm_.reshape(-1).astype(np.float64) * qe * c100.sum(axis=1).astype(np.float64)
    return bool(bound.max() < _NARROW_LIMIT)


def fee_numerator(p4: np.ndarray, c100: np.ndarray, rate_ppm_: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """rate_ppm · c100 · (p4·(10^4 − p4))^e in int64; only when `fits_int64` holds."""
    q4 = p4 * (P4_ONE - p4)
    return rate_ppm_ * c100 * np.where(exponent == 2, q4 * q4, q4)


def fee_from_numerator(venue_code: np.ndarray, exponent: np.ndarray, num: np.ndarray) -> np.ndarray:
    """Venue rounding of an int64 raw fee numerator (same results as `fee_from_wide`)."""
    k = -(-num // 10**14) * kalshi.CENT_MICROS
    p1 = (num // 10**11) * polymarket.FEE_QUANTUM_MICROS
    p2 = np.zeros_like(num)  # num < 2^62 < 10^19: the exponent-2 quotient is 0
    return np.where(venue_code == VENUE_CODES[Venue.KALSHI], k, np.where(exponent == 2, p2, p1))
