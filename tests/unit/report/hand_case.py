"""A small backtest input whose results are checked by hand (tests/unit/report/test_hand_checked.py).

Real parts: the pregame and final ESPN states of the recorded session (2026 NBA Finals G3, NY -1.5 at
home, SA won 115-111) and its real Kalshi listing of the Knicks market, as the connectors normalize them
(data/sessions/nba-2026-finals-g3). MADE UP for this test: the Knicks book (YES bid $0.34 / ask $0.35,
1,000 contracts a side), the link records, and a second event that is a copy of the game with the
final flipped (NY won 111-115 reversed) and its own copy of the market (ticker suffix -X).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ops.backtest.records import InputRecord, as_inputs
from ops.sessions.replay import load_session
from schemas import depth
from schemas.enums import EventStatus, Venue
from schemas.records import EventState, MarketLink, MarketListing, Quote

SESSION = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3"
EVENT = "espn:nba:401859965"
TWIN = "espn:nba:401859965-x"  # made up: the same game, NY winning
NYK = "KXNBAGAME-26JUN08SASNYK-NYK"
SETTINGS = """
[trading]
accounts = ["hand"]
[trading.risk]
max_market_exposure_micros = 10000000
"""


def _book(market: str, ts: int, seq: int) -> Quote:
    return Quote(quote_id=f"KALSHI:{market}:{seq}", venue=Venue.KALSHI, market_id=market, ts=ts, seq=seq,
                 yes_bid_micros=340_000, yes_bid_size=1000.0, yes_ask_micros=350_000, yes_ask_size=1000.0,
                 no_bid_micros=650_000, no_bid_size=1000.0, no_ask_micros=660_000, no_ask_size=1000.0,
                 yes_bid_depth=depth.pack_levels([(340_000, 1000.0)]), yes_ask_depth=depth.pack_levels([(350_000, 1000.0)]),
                 no_bid_depth=depth.pack_levels([(650_000, 1000.0)]), no_ask_depth=depth.pack_levels([(660_000, 1000.0)]), source="test")


def hand_case() -> list[InputRecord]:
    session = load_session(SESSION)
    states = [r.value for r in session if isinstance(r.value, EventState)]
    pregame, final = states[0], states[-1]
    assert pregame.status is EventStatus.SCHEDULED and final.status is EventStatus.FINAL and final.winner == "b"
    listing = next(r.value for r in session if isinstance(r.value, MarketListing) and r.value.market_id == NYK)
    # the twin market names nothing discovery could match to the real game: only the test's link places it
    twin_listing = replace(listing, market_id=f"{NYK}-X", listing_id=f"KALSHI:{NYK}-X", group_id="TWIN", series=None,
                           title="made-up twin market", subtitle="", yes_outcome="", rules="", resolution=None)
    twin_pre = replace(pregame, event_id=TWIN, state_id=pregame.state_id.replace(EVENT, TWIN))
    twin_final = replace(final, event_id=TWIN, state_id=final.state_id.replace(EVENT, TWIN), winner="a",
                         score_a=final.score_b, score_b=final.score_a)
    t = pregame.ts
    items: list[tuple[str, object]] = []
    for event, lst, pre, end in ((EVENT, listing, pregame, final), (TWIN, twin_listing, twin_pre, twin_final)):
        market = lst.market_id
        items += [
            ("markets.catalog", lst),
            ("markets.links", MarketLink(link_id=f"KALSHI:{market}->{event}:a", venue=Venue.KALSHI, market_id=market,
                                         event_id=event, ts=lst.ts + 1, yes_role="a", yes_entity="New York Knicks",
                                         confidence=1.0, method="test")),
            ("markets.quotes", _book(market, t - 1_000, 1)),
            ("events.state", pre),
            ("markets.quotes", _book(market, t + 1_000, 2)),  # market data past the order's time + latency
            ("events.state", end),
        ]
    return as_inputs(items)  # type: ignore[arg-type]
