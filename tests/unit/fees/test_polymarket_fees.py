"""Polymarket taker fee: C · rate · (p(1−p))^exponent, floored to 1e-5 USD, rate per market."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.enums import Venue
from schemas.records import MarketListing
from streams.fees import FeeSchedule, order_fee_micros, polymarket
from streams.fees.fixed import FeeError


@pytest.mark.parametrize(
    "price,size,charged",
    [(500_000, 20, 350_000), (380_000, 20, 329_840), (470_000, 5, 87_180)],
)
def test_recorded_crypto_taker_trades(price: int, size: float, charged: int) -> None:
    """Recorded trades at rate 0.07; 5 @ 0.47 has raw 0.087185 and was charged 0.08718 (floored)."""
    assert polymarket.taker_fee_micros(price, size, 0.07) == charged


def test_smallest_fee_rounds_to_zero() -> None:
    # 1 share at 0.01, rate 0.0005: raw 0.00000495 USD < 0.00001 -> no fee
    assert polymarket.taker_fee_micros(10_000, 1, 0.0005) == 0


def test_exponent_two_curve() -> None:
    # 100 shares @ 0.50, rate 0.25, exponent 2: 100 * 0.25 * 0.0625 = 1.5625
    assert polymarket.taker_fee_micros(500_000, 100, 0.25, 2) == 1_562_500
    # 10 @ 0.30: 10 * 0.25 * 0.21^2 = 0.11025
    assert polymarket.taker_fee_micros(300_000, 10, 0.25, 2) == 110_250


def test_unpublished_exponent_is_refused() -> None:
    with pytest.raises(FeeError):
        polymarket.taker_fee_micros(500_000, 1, 0.05, 1.5)


def test_schedule_comes_from_the_listing() -> None:
    listing = MarketListing(
        listing_id="POLYMARKET:0x18b5", venue=Venue.POLYMARKET, market_id="0x18b5", ts=0,
        taker_fee_rate=0.03, fee_exponent=1.0,
    )
    sched = FeeSchedule.from_listing(listing)
    # 1028 shares at the recorded best ask 0.51: 1028 * 0.03 * 0.51 * 0.49 = 7.706916 -> 7.70691
    assert order_fee_micros(sched, [(510_000, 1028)]) == 7_706_910


levels = st.lists(st.tuples(st.integers(1, 9_999), st.integers(1, 10_000_000)), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(levels, st.sampled_from([70_000, 50_000, 30_000, 250_000]), st.sampled_from([1, 2]))
def test_vectorized_equals_scalar(lv: list[tuple[int, int]], rate: int, expo: int) -> None:
    p4 = np.array([[p for p, _ in lv]], np.int64)
    c100 = np.array([[c for _, c in lv]], np.int64)
    got = polymarket.taker_fee_micros_v(p4, c100, np.array([[rate]]), np.array([[expo]]), cumulative=True)[0].tolist()
    want = [
        polymarket.taker_fee_levels_micros([(p * 100, c / 100) for p, c in lv[: k + 1]], rate / 1e6, expo)
        for k in range(len(lv))
    ]
    assert got == want
