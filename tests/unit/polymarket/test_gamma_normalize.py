from __future__ import annotations

import pytest

from connectors.polymarket.errors import BadPayload, MissingFeeInfo, NotBinary
from connectors.polymarket.gamma import event_of_market, parse_fee_params, parse_gamma_event, parse_gamma_market
from connectors.polymarket.normalize import listing_from_gamma
from schemas.enums import MarketType, Side, Venue

from .conftest import ETH15_MARKET, ETH15_NO, ETH15_YES, load


def test_crypto_events_list_to_listings() -> None:
    listings = []
    for raw in load("gamma_events_list_active_2026-01-04.json"):
        event = parse_gamma_event(raw)
        assert not event.rejected
        listings += [listing_from_gamma(m, event, ts=1767554000000) for m in event.markets]
    assert len(listings) == 10
    eth = next(x for x in listings if x.market_id == ETH15_MARKET)
    assert eth.listing_id == f"POLYMARKET:{ETH15_MARKET}" and eth.venue is Venue.POLYMARKET
    assert (eth.group_id, eth.yes_outcome, eth.token_yes, eth.token_no) == ("143606", "Up", ETH15_YES, ETH15_NO)
    assert (eth.tick_micros, eth.min_order_size, eth.neg_risk, eth.status) == (10_000, 5.0, False, "open")
    assert eth.market_type is MarketType.CRYPTO
    assert (eth.taker_fee_rate, eth.maker_fee_rate) == (0.0, 0.0)  # the market says feesEnabled=false
    assert eth.close_ts == 1767641400000 and eth.open_ts == 1767640500000
    assert sum(x.status == "open" for x in listings) == 3  # only the order-book-enabled 15m markets


def test_sports_moneyline_fee_schedule_and_result() -> None:
    raw = load("gamma_market_sports_moneyline_cs2_closed.json")
    listing = listing_from_gamma(parse_gamma_market(raw), event_of_market(raw), ts=1)
    assert listing.market_type is MarketType.SPORT and listing.league == "counter-strike"
    assert (listing.taker_fee_rate, listing.fee_exponent, listing.maker_fee_rate) == (0.03, 1.0, 0.0)
    assert (listing.tick_micros, listing.yes_outcome, listing.group_id) == (1_000, "FaZe", "346898")
    assert listing.status == "closed" and listing.result is Side.YES


def test_neg_risk_multi_outcome_event() -> None:
    event = parse_gamma_event(load("gamma_events_dem_nominee_2028_trimmed.json")[0])
    listings = [listing_from_gamma(m, event, ts=1) for m in event.markets]
    assert [x.neg_risk for x in listings] == [True, True]
    assert listings[0].subtitle == "Stephen A. Smith" and listings[0].market_type is MarketType.POLITICS
    assert listings[0].tick_micros == 1_000 and listings[0].group_id == "30829"


def test_fee_info_is_never_assumed_zero() -> None:
    raw = load("gamma_market_sports_moneyline_cs2_closed.json")
    no_fee_fields = {k: v for k, v in raw.items() if k not in ("feeSchedule", "feesEnabled")}
    with pytest.raises(MissingFeeInfo):
        parse_fee_params(no_fee_fields)
    enabled_without_schedule = {**no_fee_fields, "feesEnabled": True}
    with pytest.raises(MissingFeeInfo):
        parse_gamma_market(enabled_without_schedule)


@pytest.mark.parametrize("field", ["tags", "markets"])
def test_an_event_whose_list_is_not_a_list_is_refused_with_its_reason(field: str) -> None:
    """A recorded event with `tags` or `markets` retyped to a number (what `make fuzz` found: a TypeError out of
    the feed's discovery): refused as a bad payload, which the feed dead-letters; null still reads as empty."""
    raw = load("gamma_events_dem_nominee_2028_trimmed.json")[0]
    with pytest.raises(BadPayload, match=f"event {field} is a float"):
        parse_gamma_event({**raw, field: 1.5})
    assert parse_gamma_event({**raw, field: None}).event_id == str(raw["id"])


def test_bad_market_is_rejected_not_fatal() -> None:
    raw = load("gamma_events_dem_nominee_2028_trimmed.json")[0]
    broken = {**raw, "markets": [raw["markets"][0], {**raw["markets"][1], "outcomes": '["A", "B", "C"]'}]}
    event = parse_gamma_event(broken)
    assert len(event.markets) == 1 and len(event.rejected) == 1
    assert isinstance(event.rejected[0].error, NotBinary)
