"""Recorded market payloads → MarketListing; REST order book → Quote; fee rates from the series."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from connectors.kalshi.errors import BadPayload
from connectors.kalshi.normalize import (
    SeriesInfo,
    book_to_quote,
    fee_rates,
    market_to_listing,
    parse_series,
    rest_orderbook_to_book,
    rest_quote_id,
)
from schemas import depth
from schemas.codec import default_codec
from schemas.enums import MarketType, Side, Venue
from schemas.records import TickBand
from tests.unit.kalshi.conftest import load

TS = 1_766_557_486_000


def _ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=timezone.utc).timestamp() * 1000)

PROD = load("markets_list_prod_KXNFLGAME_limit1.json")["markets"][0]
DEMO = load("markets_list_demo_KXNFLGAME.json")["markets"]


def test_recorded_prod_market_becomes_a_listing() -> None:
    listing = market_to_listing(PROD, TS, parse_series(load("series_KXNFLGAME_constructed.json")))
    assert listing.listing_id == "KALSHI:KXNFLGAME-25DEC27BALGB-GB"
    assert listing.venue is Venue.KALSHI and listing.market_id == "KXNFLGAME-25DEC27BALGB-GB"
    assert listing.group_id == "KXNFLGAME-25DEC27BALGB" and listing.series == "KXNFLGAME"
    assert listing.title == "Baltimore at Green Bay Winner?"
    assert listing.yes_outcome == "Green Bay"
    assert listing.market_type is MarketType.SPORT and listing.league == "nfl"
    assert listing.status == "active"
    assert listing.open_ts == _ms(2025, 12, 17, 17, 43)
    assert listing.close_ts == _ms(2026, 1, 11, 1, 0)
    assert listing.settle_ts == _ms(2025, 12, 28, 4, 0)  # expected_expiration_time
    assert listing.tick_micros == 10_000 and listing.tick_bands == [TickBand(0, 1_000_000, 10_000)]
    assert listing.taker_fee_rate == 0.07 and listing.maker_fee_rate == 0.0
    assert listing.rules.startswith("If Green Bay wins the Baltimore at Green Bay")
    assert listing.result is None and listing.min_order_size == 1.0


def test_listing_fits_the_contract_schema() -> None:
    codec = default_codec()
    listing = market_to_listing(PROD, TS)
    assert codec.decode(codec.encode(listing)) == listing


def test_every_demo_market_normalizes_with_its_own_outcome() -> None:
    listings = [market_to_listing(m, TS) for m in DEMO]
    assert [x.yes_outcome for x in listings] == ["Green Bay", "Detroit", "Kansas City", "Dallas", "Cincinnati"]
    assert {x.group_id for x in listings} == {"KXNFLGAME-25NOV27GBDET", "KXNFLGAME-25NOV27KCDAL", "KXNFLGAME-25NOV27CINBAL"}


def test_maker_fees_only_on_series_that_charge_makers() -> None:
    quad = SeriesInfo("KXNFLGAME", "", "Sports", "quadratic", 1.0)
    with_maker = SeriesInfo("KXNBA", "", "Sports", "quadratic_with_maker_fees", 1.0)
    half = SeriesInfo("KXINX", "", "Financials", "quadratic_with_maker_fees", 0.5)
    assert (fee_rates(PROD, quad).taker, fee_rates(PROD, quad).maker) == (0.07, 0.0)
    assert (fee_rates(PROD, with_maker).taker, fee_rates(PROD, with_maker).maker) == (0.07, 0.0175)
    assert (fee_rates(PROD, half).taker, fee_rates(PROD, half).maker) == (0.035, 0.00875)
    no_series = fee_rates(PROD, None)
    assert (no_series.taker, no_series.maker) == (0.07, 0.0) and "maker fee unknown" in no_series.source
    override = fee_rates({**PROD, "fee_type": "quadratic_with_maker_fees", "fee_multiplier": 2}, quad)
    assert (override.taker, override.maker, override.source) == (0.14, 0.035, "market")
    with pytest.raises(BadPayload, match="flat"):
        fee_rates(PROD, SeriesInfo("X", "", "", "flat", 1.0))


def test_bad_markets_are_refused() -> None:
    with pytest.raises(BadPayload, match="ticker"):
        market_to_listing({**PROD, "ticker": ""}, TS)
    with pytest.raises(BadPayload, match="event_ticker"):
        market_to_listing({k: v for k, v in PROD.items() if k != "event_ticker"}, TS)
    with pytest.raises(BadPayload, match="binary"):
        market_to_listing({**PROD, "market_type": "scalar"}, TS)
    with pytest.raises(BadPayload, match="close_time"):
        market_to_listing({**PROD, "close_time": "soon"}, TS)
    with pytest.raises(BadPayload, match="fee_type"):
        parse_series({"series": {"ticker": "X"}})


def test_settled_result_maps_to_a_side() -> None:
    assert market_to_listing({**PROD, "result": "yes"}, TS).result is Side.YES
    assert market_to_listing({**PROD, "result": "no"}, TS).result is Side.NO


def test_rest_orderbook_fixture_becomes_a_quote_with_implied_asks() -> None:
    book = rest_orderbook_to_book(load("orderbook_handwritten_fixture.json"), "KXBTC-25MAR15-B100000", TS)
    q = book_to_quote(book, source="kalshi.rest", qid=rest_quote_id("KXBTC-25MAR15-B100000", TS))
    assert q.quote_id == f"KALSHI:KXBTC-25MAR15-B100000:rest:{TS}" and q.ts == TS
    book = depth.book_levels(q)
    assert book["yes_bids"] == [(420_000, 13.0), (350_000, 200.0)]
    assert book["no_bids"] == [(560_000, 17.0), (540_000, 400.0)]
    assert book["yes_asks"] == [(440_000, 17.0), (460_000, 400.0)]
    assert book["no_asks"] == [(580_000, 13.0), (650_000, 200.0)]
    # one representation on the wire: Kalshi's bids, the asks derived from them where needed
    assert q.asks_implied and q.yes_ask_depth == q.no_ask_depth == b""
    with pytest.raises(BadPayload, match="orderbook_fp"):
        rest_orderbook_to_book({"orderbook": {"yes": [[42, 13]]}}, "X", TS)
