"""Records for sink tests and the sink benchmark, built from recorded payloads (tests/fixtures/sink).

The Polymarket CLOB book (20 levels a side) gives the quotes, the Kalshi market
list gives a listing, ESPN's live NFL scoreboard gives the event state and the
last play, an ESPN NBA game package gives a whole game's plays; the trading records are built on those same markets and event.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from connectors.espn.plays import SummaryResult, summary
from connectors.kalshi.normalize import market_to_listing
from schemas import depth
from schemas.enums import (
    Action, HealthStatus, OrderState, PositionStatus, RiskKind, Severity, Side, SignalKind, TimeInForce, Venue,
)
from schemas.records import (
    Alert, EventState, Fill, Heartbeat, LedgerEntry, MarketLink, MarketListing, Order, OrderStatus, Play,
    PositionEvent, Probability, Quote, RawFeed, RiskEvent, Signal, SignalLeg,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sink"
GAME_TS = 1_765_134_000_000  # 2025-12-07 19:00 UTC, the scoreboard capture time
BOOK_TS = 1_767_554_656_215  # the CLOB book's own timestamp
NBA_FINAL_TS = 1_781_222_400_000  # 2026-06-12 00:00 UTC, after the recorded game's final play


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    """A recorded payload, parsed once (callers only read it)."""
    return json.loads((FIXTURES / name).read_text())


def micros(price: str) -> int:
    whole, _, frac = price.partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


Level = tuple[int, float]  # (price micro-dollars, size in contracts)


def clob_ladders() -> tuple[list[Level], list[Level], list[Level], list[Level]]:
    """YES bids/asks from the recorded book (best first); NO is the complement of YES."""
    book = load("clob_book_2026-01-04.json")
    yes_bids = sorted(((micros(b["price"]), float(b["size"])) for b in book["bids"]), key=lambda lv: -lv[0])
    yes_asks = sorted((micros(a["price"]), float(a["size"])) for a in book["asks"])
    no_bids = [(1_000_000 - p, c) for p, c in yes_asks]
    no_asks = [(1_000_000 - p, c) for p, c in yes_bids]
    return yes_bids, yes_asks, no_bids, no_asks


def clob_quote(i: int = 0, market_id: str | None = None) -> Quote:
    """The recorded book as the i-th quote of a stream (distinct id, seq and ts per i)."""
    book = load("clob_book_2026-01-04.json")
    yb, ya, nb, na = clob_ladders()
    mid = market_id or book["market"]
    return Quote(
        quote_id=f"POLYMARKET:{mid}:{BOOK_TS + i}:{book['hash'][:16]}", venue=Venue.POLYMARKET, market_id=mid,
        ts=BOOK_TS + i, seq=i, yes_bid_micros=yb[0][0], yes_bid_size=yb[0][1],
        yes_ask_micros=ya[0][0], yes_ask_size=ya[0][1], no_bid_micros=nb[0][0],
        no_bid_size=nb[0][1], no_ask_micros=na[0][0], no_ask_size=na[0][1], source="polymarket.rest",
        yes_bid_depth=depth.pack_levels(yb), yes_ask_depth=depth.pack_levels(ya),
        no_bid_depth=depth.pack_levels(nb), no_ask_depth=depth.pack_levels(na),
    )


def kalshi_listing(ts: int = GAME_TS) -> MarketListing:
    market = load("markets_list_prod_KXNFLGAME_limit1.json")["markets"][0]
    return market_to_listing(market, ts)


def nfl_state() -> EventState:
    """MIN vs WSH, live, from the recorded scoreboard."""
    payload = load("nfl_scoreboard_2025-12-07_live.json")
    return next(s for s in scoreboard_states(league("nfl"), payload, GAME_TS).states if s.event_id == "espn:nfl:401772899")


def nfl_last_play(state: EventState) -> Play:
    payload = load("nfl_scoreboard_2025-12-07_live.json")
    event = next(e for e in payload["events"] if e["id"] == "401772899")
    lp = event["competitions"][0]["situation"]["lastPlay"]
    return Play(
        play_id=f"{state.event_id}:{lp['id']}", event_id=state.event_id, ts=GAME_TS, league="nfl",
        sequence=int(lp["id"][-4:]), period=state.period, clock_seconds=state.clock_seconds,
        team_id=lp["team"]["id"], play_type=lp["type"]["text"], text=lp["text"], score_a=state.score_a,
        score_b=state.score_b, scoring_play=False, score_value=lp["scoreValue"],
        source_home_win_prob=lp["probability"]["homeWinPercentage"],
    )


def nba_finals_game() -> SummaryResult:
    """SA@NY, 2026 NBA Finals game 3, final 107-106: every play of the recorded game package."""
    return summary(league("nba"), load("nba_game_cdn_core_401859966_finals_g3.json"), NBA_FINAL_TS)


def every_type(run: str) -> list[Any]:
    """One record of every sunk type (ids made unique by `run`), as a trading day would produce them."""
    state = replace(nfl_state(), state_id=f"st-{run}")
    eid = state.event_id
    listing = replace(kalshi_listing(), listing_id=f"KALSHI:{run}", market_id=run)
    quote = replace(clob_quote(0), quote_id=f"q-{run}")
    acct = f"paper-{run}"
    price = quote.yes_ask_micros or 0
    leg = SignalLeg(Venue.POLYMARKET, quote.market_id, Side.YES, Action.BUY, price, 7_000, 10.0, "a")
    return [
        RawFeed(raw_id=f"raw-{run}", ts=GAME_TS, source="kalshi", endpoint="markets", url="https://api.elections.kalshi.com/trade-api/v2/markets",
                params={"series_ticker": "KXNFLGAME", "limit": "1"}, status=200, fetched_at=GAME_TS,
                body=(FIXTURES / "markets_list_prod_KXNFLGAME_limit1.json").read_text()),
        state,
        replace(nfl_last_play(state), play_id=f"play-{run}"),
        listing,
        MarketLink(link_id=f"link-{run}", venue=Venue.KALSHI, market_id=run, event_id=eid, ts=GAME_TS,
                   yes_role="a", yes_entity=state.entity_a, confidence=0.97, method="fuzzy", league="nfl"),
        quote,
        Probability(prob_id=f"p-{run}", event_id=eid, ts=GAME_TS, outcomes={"a": 0.8348, "b": 0.1652},
                    model="nfl-wp", version="1", inputs_digest="d41d8cd9", state_id=state.state_id),
        Signal(signal_id=f"sig-{run}", event_id=eid, kind=SignalKind.MODEL_EDGE, ts=GAME_TS, legs=[leg], model_p=0.8348,
               edge=0.8348 - (price + 7_000) / 1e6, ev_micros=834_800 - price - 7_000, size=10.0, model="nfl-wp",
               trigger=f"p-{run}"),
        Order(order_id=f"o-{run}", account=acct, ts=GAME_TS, signal_id=f"sig-{run}", venue=Venue.POLYMARKET,
              market_id=quote.market_id, event_id=eid, limit_price_micros=price, count=10.0, tif=TimeInForce.IOC,
              reason="model_edge", model_p=0.8348),
        Fill(fill_id=f"f-{run}", order_id=f"o-{run}", account=acct, ts=GAME_TS + 5, venue=Venue.POLYMARKET,
             market_id=quote.market_id, event_id=eid, price_micros=price, count=10.0, fee_micros=70_000),
        OrderStatus(status_id=f"os-{run}", order_id=f"o-{run}", account=acct, state=OrderState.FILLED, ts=GAME_TS + 5,
                    filled_count=10.0, remaining_count=0.0, avg_price_micros=price),
        PositionEvent(position_event_id=f"pe-{run}", position_id=f"pos-{run}", account=acct, status=PositionStatus.OPEN,
                      ts=GAME_TS + 5, event_id=eid, venue=Venue.POLYMARKET, market_id=quote.market_id, quantity=10.0,
                      avg_price_micros=price, mark_price_micros=quote.yes_bid_micros, fees_micros=70_000),
        LedgerEntry(entry_id=f"le1-{run}", account=acct, ts=GAME_TS - 1_000, delta_micros=1_000_000_000,
                    balance_micros=1_000_000_000, version=1, reason="deposit: paper bankroll", ref="init"),
        LedgerEntry(entry_id=f"le2-{run}", account=acct, ts=GAME_TS + 5, delta_micros=-70_000,
                    balance_micros=999_930_000, version=2, reason="fee: fill", ref=f"f-{run}"),
        RiskEvent(risk_id=f"r-{run}", account=acct, kind=RiskKind.LIMIT_HIT, ts=GAME_TS + 6, rule="event_exposure",
                  reason="event exposure at cap", ref=f"o-{run}", value=99.9, limit=100.0),
        Alert(alert_id=f"a-{run}", dedupe_key=f"risk:{acct}", severity=Severity.WARNING, ts=GAME_TS + 7,
              service="risk", message="event exposure at cap"),
        Heartbeat(heartbeat_id=f"hb-{run}", service="shard", instance="w1", status=HealthStatus.OK, ts=GAME_TS + 8,
                  lag=3, detail={"partitions": "0-11"}),
    ]
