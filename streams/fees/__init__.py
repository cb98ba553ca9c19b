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
from streams.fees.fixed import FeeError, exponent_of, rate_ppm

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


__all__ = ["FeeError", "FeeSchedule", "VENUE_CODES", "order_fee_micros", "order_fee_micros_v"]
