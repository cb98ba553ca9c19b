"""The recorded game the trading tests run: GB@DET, 2025-11-27 (Packers 31, Lions 24).

Records are built from real payloads (see tests/fixtures/trading/PROVENANCE.md):
the ESPN scoreboard for the final state, the Kalshi markets list and series for the
listings and fees, the Kalshi-shaped order book for the GB market (and its mirror
for the DET market). Prices quoted in comments are what the book says.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from connectors.kalshi.normalize import book_to_quote, market_to_listing, parse_series, rest_orderbook_to_book
from schemas.enums import Action, EventStatus, Side, SignalKind, Venue
from schemas.records import EventState, LedgerEntry, MarketLink, MarketListing, Quote, ShardInput, Signal, SignalLeg

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "trading"
EVENT_ID = "espn:nfl:401772891"
GB = "KXNFLGAME-25NOV27GBDET-GB"
DET = "KXNFLGAME-25NOV27GBDET-DET"
#: Kickoff of GB@DET, 2025-11-27 13:00 EST; quotes and signals are stamped during the game.
KICKOFF_MS = 1_764_266_400_000
#: When the recorded scoreboard was fetched (the capture time in PROVENANCE.md).
FINAL_FETCHED_MS = 1_764_561_360_000
ONE_THOUSAND_DOLLARS = 1_000_000_000


def _json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def final_state() -> EventState:
    result = scoreboard_states(league("nfl"), _json("nfl_scoreboard_2025-11-30_sunday_night.json"), FINAL_FETCHED_MS)
    (state,) = [s for s in result.states if s.event_id == EVENT_ID]
    assert state.status is EventStatus.FINAL and state.winner == "b" and state.entity_b_abbr == "GB"
    return state


def listing(ticker: str, ts: int = KICKOFF_MS) -> MarketListing:
    series = parse_series(_json("series_KXNFLGAME_constructed.json"))
    (market,) = [m for m in _json("markets_list_demo_KXNFLGAME.json")["markets"] if m["ticker"] == ticker]
    return market_to_listing(market, ts, series)


def link(ticker: str, event_id: str = EVENT_ID) -> MarketLink:
    role = {GB: "b", DET: "a"}[ticker]  # entity a is the home side (DET), b is GB
    return MarketLink(link_id=f"KALSHI:{ticker}", venue=Venue.KALSHI, market_id=ticker, event_id=event_id,
                      ts=KICKOFF_MS, yes_role=role, yes_entity={"a": "Detroit Lions", "b": "Green Bay Packers"}[role],
                      confidence=1.0, method="test")


def book(ticker: str, ts: int) -> Quote:
    """GB: the hand-written book; DET: its mirror (DET YES bids are GB NO bids and vice versa)."""
    payload = _json("orderbook_handwritten_fixture.json")
    if ticker == DET:
        ob = payload["orderbook_fp"]
        payload = {"orderbook_fp": {"yes_dollars": ob["no_dollars"], "no_dollars": ob["yes_dollars"]}}
    q = book_to_quote(rest_orderbook_to_book(payload, ticker, ts), source="kalshi.rest", qid=f"KALSHI:{ticker}:rest:{ts}")
    return q


def quote_input(ticker: str, ts: int, event_id: str = EVENT_ID) -> ShardInput:
    q = book(ticker, ts)
    return ShardInput(input_id=q.quote_id, event_id=event_id, ts=ts, quote=q, link=link(ticker, event_id),
                      listing=listing(ticker))


def final_input(ts: int | None = None, event_id: str = EVENT_ID) -> ShardInput:
    """The recorded final state; `event_id` other than the recorded one keeps a test run apart from
    other tests' records of the same game on the shared registry topics."""
    st = replace(final_state(), event_id=event_id)
    if ts is not None:
        st = replace(st, ts=ts)
    return ShardInput(input_id=f"state:{st.state_id}", event_id=event_id, ts=st.ts, state=st)


def edge_signal(ticker: str, ts: int, *, p: float, price: int, fee_per_contract: int, size: float, tag: str = "",
                event_id: str = EVENT_ID) -> Signal:
    leg = SignalLeg(venue=Venue.KALSHI, market_id=ticker, side=Side.YES, action=Action.BUY, price_micros=price,
                    fee_micros=fee_per_contract, size=size, outcome_role=link(ticker).yes_role)
    return Signal(signal_id=f"sig-{ticker}-{ts}{tag}", event_id=event_id, kind=SignalKind.MODEL_EDGE, ts=ts, legs=[leg],
                  model_p=p, edge=p - (price + fee_per_contract) / 1e6, size=size, model="test@1", trigger="recorded")


def gb_signal(ts: int, event_id: str = EVENT_ID) -> Signal:
    """YES GB at the book's best ask $0.44 (17 contracts); the fee of 17 @ 0.44 is $0.30 → 17,648 µ$ each."""
    return edge_signal(GB, ts, p=0.62, price=440_000, fee_per_contract=17_648, size=17.0, event_id=event_id)


def det_signal(ts: int, event_id: str = EVENT_ID) -> Signal:
    """YES DET at $0.58 (13 contracts, the mirror of GB's 0.42 bid); fee of 13 @ 0.58 is $0.23."""
    return edge_signal(DET, ts, p=0.78, price=580_000, fee_per_contract=17_693, size=13.0, event_id=event_id)


def deposit(account: str, amount: int = ONE_THOUSAND_DOLLARS, ts: int = KICKOFF_MS - 3_600_000, version: int = 1,
            balance_before: int = 0) -> LedgerEntry:
    return LedgerEntry(entry_id=f"deposit:{account}:{version}", account=account, ts=ts, delta_micros=amount,
                       balance_micros=balance_before + amount, version=version, reason="deposit: paper bankroll", ref="test")


#: Hand-computed end of the game: $1000 − 0.30 − 0.23 (fees) + 17 × (1 − 0.44) − 13 × 0.58 = $1001.45
FINAL_BANKROLL_MICROS = 1_000_000_000 - 300_000 - 230_000 + 9_520_000 - 7_540_000
