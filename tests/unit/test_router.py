"""The router's pure step: linked quotes reach their event's shard, unlinked ones wait."""

from __future__ import annotations

from dataclasses import replace

from schemas import depth
from schemas.enums import EventStatus, Venue
from schemas.records import EventState, MarketLink, MarketListing, Quote
from streams.router import MarketRoute, route_state, step

MARKET = "KXNFLGAME-25DEC27BALGB-GB"
LISTING = MarketListing(f"KALSHI:{MARKET}", Venue.KALSHI, MARKET, ts=1_000, title="Baltimore at Green Bay Winner?", taker_fee_rate=0.07)
LINK = MarketLink(f"KALSHI:{MARKET}->espn:nfl:401772", Venue.KALSHI, MARKET, "espn:nfl:401772", ts=2_000, yes_role="a",
                  yes_entity="Green Bay Packers", confidence=0.97, method="ticker")
QUOTE = Quote(f"KALSHI:{MARKET}:7", Venue.KALSHI, MARKET, ts=3_000, seq=7, yes_bid_micros=540_000, yes_bid_size=120.0,
              yes_ask_micros=560_000, yes_ask_size=80.0, yes_ask_depth=depth.pack_levels([(560_000, 80.0)]))


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
    start = MarketRoute(link=LINK, listing=LISTING)
    route, out = step(start, QUOTE)
    assert [(k, v.quote.quote_id, v.ts) for k, v in out] == [("espn:nfl:401772", QUOTE.quote_id, 3_000)]
    _, out2 = step(start, QUOTE)
    assert out2 == out  # deterministic: the same record gives the same output, byte for byte after encoding
    later = replace(QUOTE, quote_id=f"KALSHI:{MARKET}:8", ts=4_000, seq=8)
    _, out3 = step(route, later)
    assert [(k, v.quote.quote_id) for k, v in out3] == [("espn:nfl:401772", later.quote_id)]


def test_the_listing_travels_once_per_change_not_with_every_quote() -> None:
    """The quote completing the route carries the listing; later quotes carry only their link;
    a changed listing goes out again (with the book), an unchanged re-discovery does not."""
    route, out = step(MarketRoute(link=LINK, listing=LISTING), QUOTE)
    assert out[0][1].listing == LISTING and out[0][1].link == LINK
    sent = []
    for i in range(1, 4):
        route, out = step(route, replace(QUOTE, quote_id=f"q{i}", ts=3_000 + i, seq=7 + i))
        sent += [v.listing for _, v in out]
    assert sent == [None, None, None]
    route, out = step(route, replace(LISTING, ts=5_000))
    assert out == []  # re-discovered unchanged
    closed = replace(LISTING, ts=6_000, status="closed")
    route, out = step(route, closed)
    assert [v.listing for _, v in out] == [closed] and out[0][1].quote.quote_id == "q3"
    route, out = step(route, replace(QUOTE, quote_id="q4", ts=7_000, seq=11))
    assert [v.listing for _, v in out] == [None]
    moved = replace(LINK, link_id="x", event_id="espn:nfl:999", ts=9_000)
    route, out = step(route, moved)
    assert [(k, v.listing) for k, v in out] == [("espn:nfl:999", closed)]  # the new event has not seen it


def test_unchanged_link_is_not_re_emitted_but_a_repointed_one_is() -> None:
    route = MarketRoute(link=LINK, listing=LISTING, quote=QUOTE)
    _, out = step(route, LINK)
    assert out == []

    moved = replace(LINK, link_id="x", event_id="espn:nfl:999", ts=9_000)
    _, out = step(route, moved)
    assert [k for k, _ in out] == ["espn:nfl:999"]


def test_event_states_go_to_their_own_shard() -> None:
    state = EventState("s1", "espn:nfl:401772", ts=5_000, league="nfl", status=EventStatus.LIVE, score_a=7)
    key, value = route_state(state)
    assert key == "espn:nfl:401772" and value.state == state and value.quote is None and value.input_id == "state:s1"
