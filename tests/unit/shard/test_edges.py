"""Edge arithmetic on the recorded books, by hand: fees at the traded size and walking the book."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.enums import Venue
from streams.fees.fixed import FeeError
from streams.shard.edges import LadderRows, model_edges
from streams.shard.state import ladder_arrays, BadShardInput

from tests.unit.shard.books import Level, arrays, kalshi_book, polymarket_book


def rows_of(levels: list[Level], venue: int, rate_ppm: int, exponent: int = 1) -> LadderRows:
    p4, c100 = ladder_arrays(*arrays(levels))
    return LadderRows(
        p4=p4[None, :], c100=c100[None, :], venue=np.array([venue]), rate_ppm=np.array([rate_ppm]),
        exponent=np.array([exponent]),
    )


def test_kalshi_yes_walks_both_levels() -> None:
    yes_asks, _ = kalshi_book()  # YES asks 17 @ 0.44, 400 @ 0.46 (from NO bids 0.56 / 0.54)
    assert yes_asks == [(440_000, 17.0), (460_000, 400.0)]
    res = model_edges(rows_of(yes_asks, 0, 70_000), np.array([0.65]), 0.15)
    # level 0: fee ceil(0.07*17*0.44*0.56 = 0.293216) = $0.30 -> cost 0.44 + 0.30/17
    assert res.top_edge[0] == pytest.approx(0.65 - (0.44 + 0.30 / 17), abs=1e-12)
    assert res.best_price_micros[0] == 440_000 and res.best_size_c100[0] == 1_700
    # whole order: raw 0.293216 + 6.9552 = 7.248416 -> $7.25; notional 7.48 + 184 = 191.48
    assert res.levels[0] == 2
    assert res.size_c100[0] == 41_700
    assert res.fee_micros[0] == 7_250_000
    assert res.notional_micros[0] == 191_480_000
    assert res.limit_price_micros[0] == 460_000
    assert res.edge[0] == pytest.approx(0.65 - 198.73 / 417, abs=1e-12)
    assert res.ev_micros[0] == 173_429  # floor(650000 - 476570.74)


def test_second_level_cut_when_its_marginal_edge_drops_below_threshold() -> None:
    yes_asks, _ = kalshi_book()
    # marginal edge of level 1: 0.65 - (0.46 + 6.95/400) = 0.172625 < 0.18
    res = model_edges(rows_of(yes_asks, 0, 70_000), np.array([0.65]), 0.18)
    assert (res.levels[0], res.size_c100[0], res.fee_micros[0]) == (1, 1_700, 300_000)
    assert res.edge[0] == pytest.approx(0.65 - 7.78 / 17, abs=1e-12)
    none = model_edges(rows_of(yes_asks, 0, 70_000), np.array([0.65]), 0.20)
    assert (none.levels[0], none.size_c100[0], none.ev_micros[0]) == (0, 0, 0)


def test_the_fee_at_size_one_is_the_rounded_cent() -> None:
    # 1 contract @ 0.50: raw fee 0.0175 -> $0.02, so the all-in cost is 0.52, not 0.5175
    res = model_edges(rows_of([(500_000, 1.0)], 0, 70_000), np.array([0.70]), 0.15)
    assert res.top_edge[0] == pytest.approx(0.70 - 0.52, abs=1e-12)
    assert res.fee_micros[0] == 20_000


def test_polymarket_yes_walks_four_levels_of_the_recorded_book() -> None:
    yes_asks, _ = polymarket_book()  # best asks 0.51 x1028, 0.52 x918, 0.53 x582, 0.54 x572, 0.55 x518
    res = model_edges(rows_of(yes_asks, 1, 30_000), np.array([0.70]), 0.15)
    # level 0 fee: 1028 * 0.03 * 0.51 * 0.49 = 7.706916 -> 7.70691 (floored to 1e-5)
    assert res.top_edge[0] == pytest.approx(0.70 - (0.51 + 7.70691 / 1028), abs=1e-12)
    # level 4 (0.55): 0.70 - 0.55 - 0.03*0.2475 = 0.142575 < 0.15; level 3 (0.54): 0.152548 survives
    assert res.levels[0] == 4
    assert res.size_c100[0] == (1028 + 918 + 582 + 572) * 100
    raw = 0.03 * (1028 * 0.51 * 0.49 + 918 * 0.52 * 0.48 + 582 * 0.53 * 0.47 + 572 * 0.54 * 0.46)
    assert res.fee_micros[0] == int(raw * 100_000) * 10
    assert res.limit_price_micros[0] == 540_000


def test_no_side_uses_the_complement_probability_and_its_own_book() -> None:
    _, no_asks = kalshi_book()  # NO asks 13 @ 0.58, 200 @ 0.65
    res = model_edges(rows_of(no_asks, 0, 70_000), np.array([1 - 0.20]), 0.15)
    # 0.80 - (0.58 + ceil(0.07*13*0.58*0.42=0.221676 -> 0.23)/13) = 0.202308; level 1: 0.80-0.65-... < 0.15
    assert res.top_edge[0] == pytest.approx(0.80 - (0.58 + 0.23 / 13), abs=1e-12)
    assert (res.levels[0], res.size_c100[0]) == (1, 1_300)


def test_empty_side_has_no_edge() -> None:
    res = model_edges(rows_of([], 0, 70_000), np.array([0.9]), 0.15)
    assert res.levels[0] == 0 and res.top_edge[0] == -np.inf


def test_books_with_sub_tick_or_unsorted_prices_are_refused() -> None:
    with pytest.raises(BadShardInput):
        ladder_arrays(*arrays([(440_050, 1.0)]))
    with pytest.raises(BadShardInput):
        ladder_arrays(*arrays([(460_000, 1.0), (440_000, 1.0)]))
