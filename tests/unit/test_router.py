"""The router's pure step: linked quotes reach their event's shard, unlinked ones wait."""

from __future__ import annotations

from schemas.enums import EventStatus, Venue
from schemas.records import EventState, Level, MarketLink, MarketListing, Quote
from streams.router import MarketRoute, route_state, step

MARKET = "KXNFLGAME-25DEC27BALGB-GB"
LISTING = MarketListing(f"KALSHI:{MARKET}", Venue.KALSHI, MARKET, ts=1_000, title="Baltimore at Green Bay Winner?", taker_fee_rate=0.07)
LINK = MarketLink(f"KALSHI:{MARKET}->espn:nfl:401772", Venue.KALSHI, MARKET, "espn:nfl:401772", ts=2_000, yes_role="a",
                  yes_entity="Green Bay Packers", confidence=0.97, method="ticker")
QUOTE = Quote(f"KALSHI:{MARKET}:7", Venue.KALSHI, MARKET, ts=3_000, seq=7, yes_bid_micros=540_000, yes_bid_size=120.0,
              yes_ask_micros=560_000, yes_ask_size=80.0, yes_asks=[Level(560_000, 80.0)])


def test_quote_before_link_waits_then_goes_out_with_the_link() -> None:
    route, out = step(MarketRoute(), QUOTE)
    assert out == [] and route.quote == QUOTE
    route, out = step(route, LISTING)
    assert out == []
    route, out = step(route, LINK)
    assert len(out) == 1
    key, value = out[0]
    assert key == "espn:nfl:401772"
    assert value.event_id == key and value.quote == QUOTE and value.link == LINK and value.listing == LISTING
    assert value.ts == LINK.ts and value.input_id == f"link:{LINK.link_id}"


def test_linked_quotes_are_rekeyed_by_event_each_time() -> None:
    route = MarketRoute(link=LINK, listing=LISTING)
    route, out = step(route, QUOTE)
    assert [(k, v.quote.quote_id, v.ts) for k, v in out] == [("espn:nfl:401772", QUOTE.quote_id, 3_000)]
    again, out2 = step(route, QUOTE)
    assert out2 == out  # deterministic: the same record gives the same output, byte for byte after encoding


def test_unchanged_link_is_not_re_emitted_but_a_repointed_one_is() -> None:
    route = MarketRoute(link=LINK, listing=LISTING, quote=QUOTE)
    _, out = step(route, LINK)
    assert out == []
    from dataclasses import replace

    moved = replace(LINK, link_id="x", event_id="espn:nfl:999", ts=9_000)
    _, out = step(route, moved)
    assert [k for k, _ in out] == ["espn:nfl:999"]


def test_event_states_go_to_their_own_shard() -> None:
    state = EventState("s1", "espn:nfl:401772", ts=5_000, league="nfl", status=EventStatus.LIVE, score_a=7)
    key, value = route_state(state)
    assert key == "espn:nfl:401772" and value.state == state and value.quote is None and value.input_id == "state:s1"
