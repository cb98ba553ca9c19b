"""A market's lifecycle from the venue's own payload to the shard and sizing (defect 9), on recorded payloads.

The recorded Kalshi objects are open markets (`status: active`, `result: ""`); their closed
and settled states are the same real objects with the fields Kalshi changes at close and
settlement (status, result, settlement value) set as its market lifecycle does — those
edits are made up and marked. The Polymarket objects are real resolved gamma markets.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from connectors.kalshi.normalize import market_to_listing, parse_series
from connectors.polymarket.gamma import event_of_market, parse_gamma_market
from connectors.polymarket.normalize import listing_from_gamma
from schemas.enums import ListingStatus, RiskKind, Side, SignalKind, Venue
from schemas.records import RiskEvent, ShardInput, Signal
from streams import router
from streams.listings import is_open, venue_payout
from streams.shard.config import ShardConfig
from streams.shard.processor import ShardProcessor
from streams.shard.state import ShardState
from streams.trading.config import TradingConfig
from streams.trading.sizing_processor import SizingProcessor
from tests.unit.shard.books import GAME_TS, fixed_lookup, game_state, kalshi_book, quote_input, state_input
from tests.unit.trading import recorded_game as game

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def kalshi_market(ticker: str = game.GB, **changes: object) -> dict:
    (m,) = [m for m in json.loads((FIXTURES / "trading" / "markets_list_demo_KXNFLGAME.json").read_text())["markets"]
            if m["ticker"] == ticker]
    return {**m, **changes}


def kalshi_listing(ts: int = game.KICKOFF_MS, **changes: object):  # type: ignore[no-untyped-def]
    series = parse_series(json.loads((FIXTURES / "trading" / "series_KXNFLGAME_constructed.json").read_text()))
    return market_to_listing(kalshi_market(**changes), ts, series)


def gamma_listing(name: str):  # type: ignore[no-untyped-def]
    raw = json.loads((FIXTURES / "polymarket" / name).read_text())
    return listing_from_gamma(parse_gamma_market(raw), event_of_market(raw), 1_000)


# ------------------------------------------------------------------ normalizers


def test_a_recorded_active_kalshi_market_is_open_with_no_payout() -> None:
    lst = kalshi_listing()
    assert lst.status == "active" and lst.lifecycle is ListingStatus.OPEN
    assert is_open(lst) and lst.settlement_micros is None and venue_payout(lst) is None


def test_kalshi_statuses_map_to_the_lifecycle_and_the_result_to_a_payout() -> None:
    # made-up transitions of the recorded object: the fields Kalshi sets at close and settlement
    closed = kalshi_listing(status="closed")
    assert closed.lifecycle is ListingStatus.CLOSED and not is_open(closed) and venue_payout(closed) is None
    determined = kalshi_listing(status="determined", result="yes")
    assert determined.lifecycle is ListingStatus.DETERMINED and determined.settlement_micros == 1_000_000
    assert venue_payout(determined) is None  # determined is not paid yet (dispute window)
    won = kalshi_listing(status="finalized", result="yes")
    lost = kalshi_listing(status="settled", result="no")
    assert (won.lifecycle, venue_payout(won), won.result) == (ListingStatus.SETTLED, 1_000_000, Side.YES)
    assert (venue_payout(lost), lost.result) == (0, Side.NO)
    # the market's own rules_secondary: a tie resolves 50/50, a cancelled game at a fair price
    assert "50/50" in kalshi_market()["rules_secondary"]
    tie = kalshi_listing(status="finalized", result="", settlement_value_dollars="0.5000")
    assert venue_payout(tie) == 500_000 and tie.result is None
    cents = kalshi_listing(status="finalized", result="", settlement_value=37)
    assert venue_payout(cents) == 370_000


def test_recorded_resolved_polymarket_markets_are_settled_at_their_outcome_prices() -> None:
    mlb = gamma_listing("mlb-mil-wsh-2025-08-02_gamma_market_570439.json")  # Brewers (first outcome) won
    assert mlb.lifecycle is ListingStatus.SETTLED and venue_payout(mlb) == 1_000_000 and mlb.result is Side.YES
    assert not is_open(mlb)
    cs2 = gamma_listing("gamma_market_sports_moneyline_cs2_closed.json")
    assert cs2.lifecycle is ListingStatus.SETTLED and venue_payout(cs2) == 1_000_000


def test_a_closed_polymarket_market_under_dispute_or_voided_follows_uma() -> None:
    raw = json.loads((FIXTURES / "polymarket" / "mlb-mil-wsh-2025-08-02_gamma_market_570439.json").read_text())
    # made-up variants of the recorded object: a proposal still open, then a 50-50 resolution
    disputed = {**raw, "umaResolutionStatus": "disputed"}
    lst = listing_from_gamma(parse_gamma_market(disputed), event_of_market(disputed), 1)
    assert lst.lifecycle is ListingStatus.CLOSED and venue_payout(lst) is None and lst.result is None
    void = {**raw, "outcomePrices": '["0.5", "0.5"]'}
    lst = listing_from_gamma(parse_gamma_market(void), event_of_market(void), 1)
    assert venue_payout(lst) == 500_000 and lst.result is None
    live = {**raw, "closed": False, "acceptingOrders": True, "enableOrderBook": True}
    assert listing_from_gamma(parse_gamma_market(live), event_of_market(live), 1).lifecycle is ListingStatus.OPEN


# ------------------------------------------------------------------ router


def test_the_router_forwards_a_listing_that_changes_and_not_one_rediscovered_unchanged() -> None:
    route = router.MarketRoute(link=game.link(game.GB), quote=game.book(game.GB, game.KICKOFF_MS))
    route, out = router.step(route, kalshi_listing(ts=game.KICKOFF_MS))
    assert len(out) == 1
    route, out = router.step(route, kalshi_listing(ts=game.KICKOFF_MS + 300_000))  # the next discovery round
    assert out == []
    closed = kalshi_listing(ts=game.KICKOFF_MS + 600_000, status="closed")
    route, out = router.step(route, closed)
    assert [(k, v.listing) for k, v in out] == [(game.EVENT_ID, closed)]
    assert out[0][1].quote == route.quote  # the latest book goes with it
    route, out = router.step(route, kalshi_listing(ts=game.KICKOFF_MS + 1, status="active"))  # an older copy
    assert out == [] and route.listing == closed


# ------------------------------------------------------------------ shard and sizing


def _shard_inputs(status: str) -> list[ShardInput]:
    """A live state and the recorded Kalshi book on a market whose listing has `status` (real fields otherwise)."""
    yes, no = kalshi_book()
    lst = replace(kalshi_listing(status=status), market_id="KXNFLGAME-X-H", listing_id="KALSHI:KXNFLGAME-X-H",
                  settle_ts=None)
    q = quote_input("espn:nfl:1", Venue.KALSHI, "KXNFLGAME-X-H", yes, no, GAME_TS + 1_000, role="a", lst=lst)
    return [state_input(game_state("espn:nfl:1")), q]


def test_the_shard_signals_on_an_open_market_and_not_on_a_closed_one() -> None:
    proc = ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    sigs = {}
    for status in ("active", "closed", "finalized"):
        st, outs = ShardState("espn:nfl:1"), []
        for rec in _shard_inputs(status):
            st, o = proc.step(st, rec)
            outs += o
        sigs[status] = [o for o in outs if isinstance(o, Signal)]
    assert len(sigs["active"]) == 1 and sigs["active"][0].kind is SignalKind.MODEL_EDGE
    assert sigs["closed"] == [] and sigs["finalized"] == []


def test_sizing_refuses_a_signal_on_a_market_the_venue_closed() -> None:
    proc = SizingProcessor(TradingConfig(accounts=("paper",)))
    st = proc.initial("paper")
    st, _ = proc.step(st, game.deposit("paper"))
    t = game.KICKOFF_MS + 3_600_000
    st, _ = proc.step(st, game.quote_input(game.GB, t))
    closed = replace(game.quote_input(game.GB, t + 500), listing=kalshi_listing(status="closed"))
    st, _ = proc.step(st, closed)
    st, outs = proc.step(st, game.gb_signal(t + 1_000))
    refused = [o for o in outs if isinstance(o, RiskEvent)]
    assert [r.rule for r in refused] == ["market_not_open"] and refused[0].kind is RiskKind.ORDER_REFUSED
    assert not [o for o in outs if type(o).__name__ == "Order"]
    # the same signal on the open market is sized into an order
    proc2 = SizingProcessor(TradingConfig(accounts=("paper",)))
    st2 = proc2.initial("paper")
    st2, _ = proc2.step(st2, game.deposit("paper"))
    st2, _ = proc2.step(st2, game.quote_input(game.GB, t))
    _, outs2 = proc2.step(st2, game.gb_signal(t + 1_000))
    assert [type(o).__name__ for o in outs2] == ["Order"]
