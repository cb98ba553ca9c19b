"""The board's pure fold: the recorded NBA Finals G3 session's states and quotes, and trading records built on it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ops.board.state import MAX_POINTS, BoardState, fold_ledger
from ops.sessions.replay import normalize
from schemas.enums import HealthStatus, PositionStatus, RiskKind, Venue
from schemas.records import EventState, Heartbeat, LedgerEntry, MarketLink, PositionEvent, Quote, RiskEvent
from streams.trading.config import RiskConfig
from streams.trading.units import Micros
from tests.unit.sink.samples import every_type

SESSION = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3"
EVENT = "espn:nba:401859965"
NYK, SAS = "KXNBAGAME-26JUN08SASNYK-NYK", "KXNBAGAME-26JUN08SASNYK-SAS"
POLY = "0x0923f4cd56ffdd032deca9984f9779303b58c6ef9317c0c6490acccb477ba150"
#: Truth read off the tickers and the Gamma title (ESPN's side a is the home team, New York): -NYK is side a,
#: -SAS and Polymarket's first ("Spurs") token side b.
LINKS = ((Venue.KALSHI, NYK, "a"), (Venue.KALSHI, SAS, "b"), (Venue.POLYMARKET, POLY, "b"))


@pytest.fixture(scope="module")
def session() -> list:
    return [p for p in normalize(SESSION) if p.topic in ("events.state", "markets.quotes")]


def link(venue: Venue, market: str, role: str) -> MarketLink:
    return MarketLink(link_id=f"l-{market}", venue=venue, market_id=market, event_id=EVENT, ts=0, yes_role=role,
                      yes_entity="", confidence=1.0, method="test", league="nba")


def test_recorded_session_draws_model_vs_market_even_when_links_arrive_after_quotes(session: list) -> None:
    board = BoardState()
    for p in session:
        board.apply(p.topic, p.record)
    for venue, market, role in LINKS:  # read last: the board still finds every quote
        board.apply("markets.links", link(venue, market, role))
    game = next(g for g in board.view(0, False)["games"] if g["event_id"] == EVENT)
    assert game["status"] == "FINAL" and game["score"] == "San Antonio Spurs 115 – 111 New York Knicks"
    quotes = [p.record for p in session if p.topic == "markets.quotes"]
    last = {q.market_id: q for q in quotes if isinstance(q, Quote) and q.yes_bid_micros is not None and q.yes_ask_micros is not None}
    nyk = last[NYK]
    assert game["market_p"]["KALSHI"] == round((nyk.yes_bid_micros + nyk.yes_ask_micros) / 2e6, 4)  # side a's own market
    poly = last[POLY]
    assert game["market_p"]["POLYMARKET"] == round(1 - round((poly.yes_bid_micros + poly.yes_ask_micros) / 2e6, 4), 4)
    path = game["market"]["KALSHI"]
    assert 100 < len(path) <= MAX_POINTS and all(a[0] <= b[0] for a, b in zip(path, path[1:]))
    assert game["model_p"] is None  # no model ran: nothing is invented


def test_ledger_positions_and_exposure_match_the_cli_rules() -> None:
    recs = every_type("b1")
    fee = next(r for r in recs if isinstance(r, LedgerEntry) and r.version == 2)
    pos = next(r for r in recs if isinstance(r, PositionEvent))
    replayed = replace(fee, version=3, balance_micros=fee.balance_micros + fee.delta_micros)  # the same entry rebuilt
    stale = replace(fee, entry_id="other", version=2)
    board = BoardState(caps=RiskConfig(max_event_exposure=Micros(10_000_000)))
    for r in [*recs, replayed, stale]:
        board.apply("x", r)
    acct = board.view(0, False)["accounts"][pos.account]
    assert acct["bankroll"] == 999.93 and acct["fees"] == -0.07 and acct["deposits"] == 1000.0  # booked once
    assert acct["refused_entries"] == 2 and acct["open_positions"] == 1
    assert fold_ledger([*[r for r in recs if isinstance(r, LedgerEntry)], replayed])[pos.account].pnl()["fees"] == -70_000
    event = next(r for r in board.exposure()["event"] if r["account"] == pos.account)
    cost = pos.quantity * pos.avg_price_micros / 1e6
    assert event["open_cost"] == pytest.approx(cost) and event["cap"] == 10.0 and event["used"] == pytest.approx(cost / 10)
    board.apply("positions", replace(pos, position_event_id="pe2", status=PositionStatus.SETTLED, ts=pos.ts + 1))
    assert board.view(0, False)["accounts"][pos.account]["open_positions"] == 0 and not board.view(0, False)["positions"]


def test_risk_health_and_a_record_it_cannot_fold() -> None:
    board = BoardState()
    board.apply("risk.state", RiskEvent(risk_id="r1", account="p", kind=RiskKind.BREAKER_TRIPPED, ts=10, reason="4 losses"))
    assert board.risk["p"]["breaker"] == "tripped"
    board.apply("risk.state", RiskEvent(risk_id="r2", account="p", kind=RiskKind.BREAKER_RESET, ts=20))
    assert board.risk["p"]["breaker"] == "ok"
    board.apply("health", Heartbeat(heartbeat_id="h", service="kalshi", instance="i", status=HealthStatus.DEGRADED,
                                    ts=1_000, lag=7, detail={"state": "unreachable, retrying", "interval_s": "5"}))
    (h,) = board.view(2_000, False)["health"]
    assert h["shown"] == "unreachable, retrying" and h["lag"] == 7 and not h["ok"]
    assert board.view(60_000, False)["health"][0]["shown"] == "silent for 59s"
    board.apply("events.state", replace(EventState(state_id="s", event_id="e", ts=5), status=None))  # type: ignore[arg-type]
    assert board.unfoldable and "events.state EventState" in board.unfoldable[0]
    board.apply("risk.state", RiskEvent(risk_id="r3", account="p", kind=RiskKind.KILL_SWITCH, ts=30))
    assert board.view(0, True)["risk"]["p"]["killed"] and board.view(0, True)["kill_switch"]


def test_a_feed_that_stops_shows_as_silent_and_one_without_records_as_stale() -> None:
    """Made-up beats in the shape telemetry.heartbeat.build gives a live feed (interval 5 s, stale after 900 s)."""
    board = BoardState()
    detail = {"state": "running", "interval_s": "5", "last_record_ms": "1000000", "stale_after_ms": "900000"}
    board.apply("health", Heartbeat(heartbeat_id="h1", service="kalshi", instance="i", status=HealthStatus.OK,
                                    ts=1_000_000, lag=0, detail=detail))
    (h,) = board.view(1_004_000, False)["health"]
    assert (h["shown"], h["ok"]) == ("running", True)
    # still beating every 5 s, but its last record is 20 minutes old: stale, not fine
    board.apply("health", Heartbeat(heartbeat_id="h2", service="kalshi", instance="i", status=HealthStatus.OK,
                                    ts=2_200_000, lag=0, detail=detail))
    (h,) = board.view(2_201_000, False)["health"]
    assert (h["shown"], h["ok"]) == ("stale: no record for 1201s", False)
    # it stops beating: silent wins
    (h,) = board.view(2_260_000, False)["health"]
    assert (h["shown"], h["ok"]) == ("silent for 60s", False)
    # the supervisor's word that it crashed (a DOWN beat in its name)
    board.apply("health", Heartbeat(heartbeat_id="h3", service="kalshi", instance="supervisor", status=HealthStatus.DOWN,
                                    ts=2_261_000, lag=0, detail={"state": "crashed", "error": "killed by signal 9"}))
    (h,) = board.view(2_262_000, False)["health"]
    assert (h["shown"], h["ok"], h["error"]) == ("crashed", False, "killed by signal 9")
