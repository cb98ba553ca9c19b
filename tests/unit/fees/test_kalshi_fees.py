"""Kalshi fees against Kalshi's own published numbers, to the cent (and centicent)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.fees import kalshi
from streams.fees.fixed import FeeError

# kalshi-fee-schedule.pdf, "General Trading Fees Table": price -> (fee for 1 contract, fee for 100).
GENERAL_TABLE = [
    ("0.01", "0.01", "0.07"), ("0.05", "0.01", "0.34"), ("0.10", "0.01", "0.63"), ("0.15", "0.01", "0.90"),
    ("0.20", "0.02", "1.12"), ("0.25", "0.02", "1.32"), ("0.30", "0.02", "1.47"), ("0.35", "0.02", "1.60"),
    ("0.40", "0.02", "1.68"), ("0.45", "0.02", "1.74"), ("0.50", "0.02", "1.75"), ("0.55", "0.02", "1.74"),
    ("0.60", "0.02", "1.68"), ("0.65", "0.02", "1.60"), ("0.70", "0.02", "1.47"), ("0.75", "0.02", "1.32"),
    ("0.80", "0.02", "1.12"), ("0.85", "0.01", "0.90"), ("0.90", "0.01", "0.63"), ("0.95", "0.01", "0.34"),
    ("0.99", "0.01", "0.07"),
]


def micros(dollars: str) -> int:
    whole, _, frac = dollars.partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


@pytest.mark.parametrize("price,one,hundred", GENERAL_TABLE)
def test_general_trading_fees_table(price: str, one: str, hundred: str) -> None:
    assert kalshi.order_fee_micros(micros(price), 1) == micros(one)
    assert kalshi.order_fee_micros(micros(price), 100) == micros(hundred)


def test_exact_boundary_is_not_rounded_up_by_binary_floats() -> None:
    # 0.07 * 100 * 0.5 * 0.5 is 1.7500000000000002 in floats; the fee is exactly $1.75.
    assert kalshi.order_fee_micros(500_000, 100) == 1_750_000


def test_maker_fee_rounds_up_to_the_cent() -> None:
    # 0.0175 * 100 * 0.5 * 0.5 = 0.4375 -> $0.44; 0.0175 * 1 * 0.5 * 0.5 = 0.004375 -> $0.01
    assert kalshi.order_fee_micros(500_000, 100, kalshi.MAKER_RATE) == 440_000
    assert kalshi.order_fee_micros(500_000, 1, kalshi.MAKER_RATE) == 10_000


def test_one_order_across_levels_is_rounded_once() -> None:
    # 100 @ 0.50 (raw 1.75) + 2.5 @ 0.55 (raw 0.0433125): one order -> ceil(1.7933125) = $1.80,
    # while two separate orders would pay 1.75 + 0.05 = $1.80 too; 10 @ 0.03 twice shows the saving:
    assert kalshi.order_fee_levels_micros([(500_000, 100), (550_000, 2.5)]) == 1_800_000
    assert kalshi.order_fee_levels_micros([(30_000, 10), (40_000, 10)]) == 50_000  # 0.02037+0.02688 -> 0.05
    assert kalshi.order_fee_micros(30_000, 10) + kalshi.order_fee_micros(40_000, 10) == 60_000


def test_refuses_prices_finer_than_a_tick() -> None:
    with pytest.raises(FeeError):
        kalshi.order_fee_micros(500_050, 1)


class TestFeeRoundingWorkedExamples:
    """docs.kalshi.com/getting_started/fee_rounding, the three worked examples (1c balance precision)."""

    def test_subpenny_price_three_one_lot_fills(self) -> None:
        acc = kalshi.FeeAccumulator()
        rows = []
        for _ in range(3):
            acc, fill = acc.apply_fill(kalshi.fill_revenue_micros(55_000, 1), 8_500)  # trade fee $0.0085 given
            rows.append(fill)
        assert [f.rounding_fee_micros for f in rows] == [6_500, 6_500, 6_500]
        assert [f.accumulator_micros for f in rows] == [6_500, 13_000, 9_500]
        assert [f.rebate_micros for f in rows] == [0, 10_000, 0]
        assert [f.net_fee_micros for f in rows] == [15_000, 5_000, 15_000]
        assert [f.balance_change_micros for f in rows] == [-70_000, -70_000, -70_000]

    def test_fractional_contracts_three_030_lot_fills(self) -> None:
        acc = kalshi.FeeAccumulator()
        rows = []
        for _ in range(3):
            acc, fill = acc.apply_fill(kalshi.fill_revenue_micros(500_000, 0.30), 4_100)  # $0.0041 given
            rows.append(fill)
        assert [f.rounding_fee_micros for f in rows] == [5_900, 5_900, 5_900]
        assert [f.accumulator_micros for f in rows] == [5_900, 11_800, 7_700]
        assert [f.net_fee_micros for f in rows] == [10_000, 0, 10_000]
        assert [f.balance_change_micros for f in rows] == [-160_000, -160_000, -160_000]

    def test_combined_subpenny_and_fractional(self) -> None:
        # Here the trade fee comes from the taker formula: 0.07 * 0.03 * 0.3301 * 0.6699 -> $0.0005.
        trade_fee = kalshi.trade_fee_centicent_micros(330_100, 0.03)
        assert trade_fee == 500
        assert kalshi.fill_revenue_micros(330_100, 0.03) == -9_903
        acc = kalshi.FeeAccumulator()
        rows = []
        for _ in range(3):
            acc, fill = acc.apply_fill(kalshi.fill_revenue_micros(330_100, 0.03), trade_fee)
            rows.append(fill)
        assert [f.rounding_fee_micros for f in rows] == [9_597, 9_597, 9_597]
        assert [f.accumulator_micros for f in rows] == [9_597, 19_194, 18_791]
        assert [f.rebate_micros for f in rows] == [0, 10_000, 10_000]
        assert [f.net_fee_micros for f in rows] == [10_097, 97, 97]
        assert [f.balance_change_micros for f in rows] == [-20_000, -20_000, -20_000]

    def test_direct_member_precision(self) -> None:
        acc = kalshi.FeeAccumulator(precision_micros=kalshi.DIRECT_PRECISION_MICROS)
        _, fill = acc.apply_fill(kalshi.fill_revenue_micros(55_000, 1), 8_500)
        assert (fill.rounding_fee_micros, fill.balance_change_micros) == (0, -63_500)


ladders = st.lists(
    st.tuples(st.integers(1, 9_999), st.integers(1, 10_000_000)), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(ladders, st.sampled_from([70_000, 17_500, 35_000, 1_000_000]))
def test_vectorized_equals_scalar(levels: list[tuple[int, int]], rate: int) -> None:
    p4 = np.array([[p for p, _ in levels]], np.int64)
    c100 = np.array([[c for _, c in levels]], np.int64)
    got = kalshi.order_fee_micros_v(p4, c100, np.array([[rate]]), cumulative=True)[0].tolist()
    want = [
        kalshi.order_fee_levels_micros([(p * 100, c / 100) for p, c in levels[: k + 1]], rate / 1e6)
        for k in range(len(levels))
    ]
    assert got == want
