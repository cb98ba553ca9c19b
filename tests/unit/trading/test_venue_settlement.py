"""Settlement follows the venue; the ESPN final cross-checks it; voids pay the venue's value; halts alert (defect 8).

The recorded game GB@DET (2025-11-27, Packers 31 Lions 24): 17 YES GB at $0.44 and 13 YES DET at
$0.58 (tests/unit/trading/recorded_game.py). The venue's settled listings are the recorded Kalshi
market objects with the fields Kalshi sets at settlement (`status`, `result`, `settlement_value_dollars`)
— a made-up transition of real objects; the Polymarket case is a real resolved gamma market.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from connectors.kalshi.normalize import market_to_listing, parse_series
from connectors.polymarket.gamma import event_of_market, parse_gamma_market
from connectors.polymarket.normalize import listing_from_gamma
from schemas.enums import Action, EventStatus, PositionStatus, Severity, Side, Venue
from schemas.records import Alert, Fill, LedgerEntry, MarketLink, PositionEvent, Quote, ShardInput
from streams.local import LocalHost
from streams.trading.positions_processor import PositionsProcessor
from tests.unit.trading import recorded_game as game
from tests.unit.trading.test_positions_settlement import played_loop

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
T = game.KICKOFF_MS + 3_600_000
SETTLED_AT = game.FINAL_FETCHED_MS + 600_000


def settled_listing(ticker: str, ts: int = SETTLED_AT, **fields: object):  # type: ignore[no-untyped-def]
    (m,) = [m for m in json.loads((FIXTURES / "trading" / "markets_list_demo_KXNFLGAME.json").read_text())["markets"]
            if m["ticker"] == ticker]
    series = parse_series(json.loads((FIXTURES / "trading" / "series_KXNFLGAME_constructed.json").read_text()))
    return market_to_listing({**m, "status": "finalized", **fields}, ts, series)


def listing_input(ticker: str, listing, ts: int = SETTLED_AT) -> ShardInput:  # type: ignore[no-untyped-def]
    """What the router emits when a listing changes: the listing with the market's latest book."""
    base = game.quote_input(ticker, T)
    return replace(base, input_id=f"listing:{listing.listing_id}:{ts}", ts=ts, listing=listing)


def played() -> LocalHost:
    """Both positions open, the game not yet final."""
    return played_loop(final=False)


def entries(loop: LocalHost) -> list[LedgerEntry]:
    return [e for e in loop.log["ledger"] if isinstance(e, LedgerEntry)]


def alerts(loop: LocalHost) -> list[Alert]:
    return [a for a in loop.log["alerts"] if isinstance(a, Alert)]


def settled(loop: LocalHost) -> dict[str, PositionEvent]:
    return {p.market_id: p for p in loop.log["positions"] if isinstance(p, PositionEvent) and p.status is PositionStatus.SETTLED}


def test_the_venue_result_settles_before_the_final_and_the_final_only_cross_checks_it() -> None:
    loop = played()
    loop.publish(listing_input(game.GB, settled_listing(game.GB, result="yes")))
    loop.publish(listing_input(game.DET, settled_listing(game.DET, result="no")))
    pos = settled(loop)
    assert (pos[game.GB].realized_pnl_micros, pos[game.DET].realized_pnl_micros) == (9_520_000, -7_540_000)
    assert loop.state("trading-sizing", "paper").ledger.balance.value == game.FINAL_BANKROLL_MICROS == 1_001_450_000
    booked = len(entries(loop))
    loop.publish(game.final_input())  # ESPN agrees (GB won): nothing more to book, nothing to say
    assert len(entries(loop)) == booked and alerts(loop) == []
    assert loop.state("trading-sizing", "paper").ledger.balance.value == 1_001_450_000


def test_a_venue_result_that_disagrees_with_the_final_is_followed_and_alerted() -> None:
    loop = played()
    loop.publish(game.final_input())  # ESPN: GB won → settled provisionally, +$1.98 before fees
    assert loop.state("trading-sizing", "paper").ledger.balance.value == 1_001_450_000
    # made-up: the venue says DET won both markets' way (GB NO, DET YES)
    loop.publish(listing_input(game.GB, settled_listing(game.GB, result="no")))
    loop.publish(listing_input(game.DET, settled_listing(game.DET, result="yes")))
    # venue: GB 17 × (0 − 0.44) = −7.48, DET 13 × (1 − 0.58) = +5.46; fees 0.53 → 1000 − 2.02 − 0.53
    assert loop.state("trading-sizing", "paper").ledger.balance.value == 1_000_000_000 - 2_020_000 - 530_000
    fixes = [e for e in entries(loop) if e.entry_id.startswith("realized:venue:")]
    assert sorted(e.delta_micros for e in fixes) == [-17_000_000, 13_000_000]
    (gb_alert, det_alert) = sorted(alerts(loop), key=lambda a: a.message)[:2]
    assert all(a.severity is Severity.ERROR and "venue paid" in a.message for a in (gb_alert, det_alert))
    assert settled(loop)[game.GB].realized_pnl_micros == -7_480_000
    # the final arriving again changes nothing
    n = len(entries(loop))
    loop.publish(game.final_input(ts=game.FINAL_FETCHED_MS + 900_000))
    assert len(entries(loop)) == n


def test_a_final_that_disagrees_with_a_venue_result_already_booked_only_alerts() -> None:
    loop = played()
    loop.publish(listing_input(game.GB, settled_listing(game.GB, result="no")))  # made-up disagreement
    booked = len(entries(loop))
    loop.publish(game.final_input())  # ESPN: GB won; GB is already settled by the venue, DET settles at the final
    (warn,) = [a for a in alerts(loop) if "venue paid" in a.message]
    assert warn.severity is Severity.WARNING and "the venue's result stands" in warn.message
    assert settled(loop)[game.GB].realized_pnl_micros == -7_480_000
    assert len(entries(loop)) == booked + 1  # only DET's settlement


def test_a_void_pays_the_venues_settlement_value_to_both_sides() -> None:
    loop = played()
    # Kalshi's rule on the recorded market: a tie resolves 50/50 (made-up outcome)
    for ticker in (game.GB, game.DET):
        loop.publish(listing_input(ticker, settled_listing(ticker, result="", settlement_value_dollars="0.5000")))
    pos = settled(loop)
    # GB 17 × (0.50 − 0.44) = +1.02; DET 13 × (0.50 − 0.58) = −1.04
    assert (pos[game.GB].realized_pnl_micros, pos[game.DET].realized_pnl_micros) == (1_020_000, -1_040_000)
    assert pos[game.GB].mark_price_micros == 500_000
    assert loop.state("trading-sizing", "paper").ledger.balance.value == 1_000_000_000 + 1_020_000 - 1_040_000 - 530_000


def test_postponed_cancelled_and_suspended_games_alert_once_and_keep_positions_open() -> None:
    loop = played()
    state = game.final_input().state
    assert state is not None
    for i, status in enumerate((EventStatus.POSTPONED, EventStatus.POSTPONED, EventStatus.CANCELED)):
        halted = replace(state, status=status, winner=None, state_id=f"{state.state_id}:{i}", ts=state.ts + i)
        loop.publish(ShardInput(input_id=f"state:{halted.state_id}", event_id=halted.event_id, ts=halted.ts, state=halted))
    said = alerts(loop)
    assert [(a.severity, "postponed" in a.message, "canceled" in a.message) for a in said] == [
        (Severity.CRITICAL, True, False), (Severity.CRITICAL, False, True)]
    assert "stay open until the venue settles" in said[0].message
    assert len(loop.state("trading-positions", "paper").positions) == 2 and settled(loop) == {}
    # the venue then voids at a fair price: both settle at its value
    for ticker in (game.GB, game.DET):
        loop.publish(listing_input(ticker, settled_listing(ticker, result="", settlement_value_dollars="0.4800")))
    assert set(settled(loop)) == {game.GB, game.DET} and loop.state("trading-positions", "paper").positions == {}


def test_a_fill_after_the_venue_settled_is_settled_at_the_venues_payout() -> None:
    loop = played()
    loop.publish(listing_input(game.GB, settled_listing(game.GB, result="yes")))
    late = Fill(fill_id="late-gb", order_id="o-late", account="paper", ts=SETTLED_AT + 1, venue=Venue.KALSHI,
                market_id=game.GB, event_id=game.EVENT_ID, side=Side.YES, action=Action.BUY, price_micros=450_000,
                count=2.0, fee_micros=0)
    _, outs = PositionsProcessor().step(loop.state("trading-positions", "paper"), late)  # a fill of an order placed before the result
    (e,) = [e for e in outs if isinstance(e, LedgerEntry) and e.entry_id == "realized:settle:late-gb"]
    assert e.delta_micros == 2 * (1_000_000 - 450_000)


def test_a_real_resolved_polymarket_market_settles_its_position() -> None:
    raw = json.loads((FIXTURES / "polymarket" / "mlb-mil-wsh-2025-08-02_gamma_market_570439.json").read_text())
    lst = listing_from_gamma(parse_gamma_market(raw), event_of_market(raw), 1_754_181_532_000)
    cid = lst.market_id
    proc = PositionsProcessor()
    st = proc.initial("paper")
    st, _ = proc.step(st, game.deposit("paper", ts=1_754_000_000_000))
    # made-up position: 10 NO (Nationals) at $0.40 while the market was open
    fill = Fill(fill_id="pm-1", order_id="o-pm", account="paper", ts=1_754_170_000_000, venue=Venue.POLYMARKET,
                market_id=cid, event_id="espn:mlb:401696742", side=Side.NO, action=Action.BUY, price_micros=400_000,
                count=10.0, fee_micros=0)
    st, _ = proc.step(st, fill)
    q = Quote(quote_id="pm-q", venue=Venue.POLYMARKET, market_id=cid, ts=lst.ts, seq=1)
    link = MarketLink(link_id=f"POLYMARKET:{cid}", venue=Venue.POLYMARKET, market_id=cid, event_id="espn:mlb:401696742",
                      ts=lst.ts, yes_role="a", yes_entity="Milwaukee Brewers", confidence=1.0, method="test")
    st, outs = proc.step(st, ShardInput(input_id="listing:pm", event_id="espn:mlb:401696742", ts=lst.ts, quote=q,
                                        link=link, listing=lst))
    (entry,) = [o for o in outs if isinstance(o, LedgerEntry)]
    assert entry.entry_id == "realized:settle:pm-1" and entry.delta_micros == -4_000_000  # Brewers won: NO pays $0
    assert st.positions == {}
