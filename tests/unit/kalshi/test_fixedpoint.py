"""Exact parsing of Kalshi's fixed-point strings and the tick grids of the three price structures."""

from __future__ import annotations

import pytest

from connectors.kalshi import fixedpoint as fp
from connectors.kalshi.errors import BadPayload, FixedPointError, OffTickPrice
from schemas.enums import Side
from schemas.records import TickBand
from tests.unit.kalshi.conftest import load

LINEAR = fp.PRICE_LEVEL_STRUCTURES["linear_cent"]
TAPERED = fp.PRICE_LEVEL_STRUCTURES["tapered_deci_cent"]
DECI = fp.PRICE_LEVEL_STRUCTURES["deci_cent"]


@pytest.mark.parametrize(
    ("text", "micros"),
    [("0.1200", 120_000), ("0.960", 960_000), ("1.0000", 1_000_000), ("0.0000", 0), ("0.0001", 100), ("98.8800", 98_880_000)],
)
def test_dollars_are_exact_micros(text: str, micros: int) -> None:
    assert fp.dollars_to_micros(text) == micros


@pytest.mark.parametrize("bad", ["0.00000001", "1e-2", "abc", "", " ", "0.12.3", 0.12, 12, None])
def test_dollars_refuse_anything_not_exact(bad: object) -> None:
    with pytest.raises(FixedPointError):
        fp.dollars_to_micros(bad)


def test_price_must_lie_between_zero_and_one_dollar() -> None:
    with pytest.raises(FixedPointError, match="outside"):
        fp.price_to_micros("1.0100")
    with pytest.raises(FixedPointError):
        fp.price_to_micros("-0.0100")


def test_counts_are_exact_hundredths() -> None:
    assert fp.count_to_centi("136.00") == 13_600
    assert fp.count_to_centi("0.01") == 1
    assert fp.count_to_centi("-54.00", signed=True) == -5_400
    with pytest.raises(FixedPointError, match="finer"):
        fp.count_to_centi("0.001")
    with pytest.raises(FixedPointError, match="negative"):
        fp.count_to_centi("-1.00")
    assert fp.centi_to_contracts(150_025) == 1500.25


def test_order_strings_round_trip() -> None:
    assert fp.micros_to_dollars(20_000) == "0.0200"
    assert fp.micros_to_dollars(955_000) == "0.9550"
    assert fp.centi_to_count_fp(1_00) == "1.00"
    assert fp.centi_to_count_fp(25) == "0.25"
    with pytest.raises(OffTickPrice):
        fp.micros_to_dollars(1_234)  # finer than $0.0001
    assert fp.contracts_to_centi(10.0) == 1_000
    with pytest.raises(ValueError):
        fp.contracts_to_centi(0.005)


def test_recorded_price_ranges_are_the_linear_cent_structure() -> None:
    market = load("markets_list_prod_KXNFLGAME_limit1.json")["markets"][0]
    assert market["price_level_structure"] == "linear_cent"
    bands = fp.tick_bands(market)
    assert bands == [TickBand(0, 1_000_000, 10_000)] == list(LINEAR)


def test_named_structure_is_used_only_without_ranges() -> None:
    assert fp.tick_bands({"price_level_structure": "tapered_deci_cent"}) == list(TAPERED)
    with pytest.raises(BadPayload):
        fp.tick_bands({"price_level_structure": "quarter_cent"})


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(BadPayload, match="gap"):
        fp.parse_price_ranges([{"start": "0.0000", "end": "0.1000", "step": "0.0010"}, {"start": "0.2000", "end": "1.0000", "step": "0.0100"}])
    with pytest.raises(BadPayload, match="divide"):
        fp.parse_price_ranges([{"start": "0.0000", "end": "1.0000", "step": "0.0300"}])


def test_tradable_prices_exclude_certainty() -> None:
    assert len(fp.tradable_prices(LINEAR)) == 99
    assert len(fp.tradable_prices(DECI)) == 999
    # tapered: 0.001..0.099 (99) + 0.10..0.90 (81) + 0.901..0.999 (99)
    assert len(fp.tradable_prices(TAPERED)) == 99 + 81 + 99


@pytest.mark.parametrize(
    ("side", "price", "valid"),
    [
        (Side.YES, 55_000, True),  # $0.055 in the fine lower band
        (Side.YES, 155_000, False),  # $0.155 in the cent band
        (Side.YES, 955_000, True),
        (Side.NO, 45_000, True),  # NO 0.045 = YES 0.955
        (Side.NO, 155_000, False),  # NO 0.155 = YES 0.845
        (Side.NO, 150_000, True),
        (Side.YES, 0, False),
        (Side.NO, 1_000_000, False),
    ],
)
def test_tapered_grid_on_both_sides(side: Side, price: int, valid: bool) -> None:
    assert fp.is_valid_price(side, price, TAPERED) is valid


def test_rounding_respects_the_side() -> None:
    assert fp.round_price(Side.YES, 155_000, TAPERED, "down") == 150_000
    assert fp.round_price(Side.YES, 155_000, TAPERED, "up") == 160_000
    # NO 0.155 is YES 0.845: rounding the NO price down means rounding YES up to 0.85
    assert fp.round_price(Side.NO, 155_000, TAPERED, "down") == 150_000
    assert fp.round_price(Side.NO, 155_000, TAPERED, "up") == 160_000
    # ties go to the cheaper price for the buyer on either side
    assert fp.round_price(Side.YES, 155_000, TAPERED, "nearest") == 150_000
    assert fp.round_price(Side.NO, 155_000, TAPERED, "nearest") == 150_000
    assert fp.round_price(Side.YES, 95_400, TAPERED, "nearest") == 95_000
    assert fp.round_price(Side.YES, 4_000, LINEAR, "up") == 10_000
    with pytest.raises(OffTickPrice):
        fp.round_price(Side.YES, 4_000, LINEAR, "down")


def test_check_price_names_the_neighbours() -> None:
    assert fp.check_price(Side.YES, 20_000, LINEAR) == 20_000
    with pytest.raises(OffTickPrice, match="150000 / 160000"):
        fp.check_price(Side.YES, 155_000, TAPERED)


def test_tick_in_force_follows_the_band() -> None:
    assert fp.tick_at(Side.YES, 50_000, TAPERED) == 1_000
    assert fp.tick_at(Side.YES, 500_000, TAPERED) == 10_000
    assert fp.tick_at(Side.NO, 50_000, TAPERED) == 1_000  # YES 0.95
    assert fp.tick_at(Side.YES, 100_000, TAPERED) == 10_000  # a band starts at its start
