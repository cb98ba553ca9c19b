"""Polymarket game rules read from recorded gamma market objects."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.polymarket.gamma import parse_gamma_market
from connectors.polymarket.rules import polymarket_rule
from schemas.enums import OutcomeBasis, TieRule, VoidRule
from tests.unit.polymarket.conftest import load

G3 = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3" / "listings"


def test_nba_moneyline_of_the_session_listing() -> None:
    rule = polymarket_rule(parse_gamma_market(json.loads((G3 / "polymarket_gamma_market_2415863_open.json").read_text())))
    assert (rule.source, rule.subject, rule.yes_entity, rule.event_date) == (
        "https://www.nba.com/", "Spurs vs. Knicks (NBA)", "Spurs", "2026-06-08")
    assert rule.start_ts == 1_780_965_000_000  # gameStartTime 2026-06-09 00:30:00+00
    assert rule.outcome is OutcomeBasis.FINAL_RESULT  # "final score including any overtime periods"
    assert rule.tie is TieRule.NOT_STATED
    assert rule.follows_makeup and rule.makeup_window_ms is None  # "remain open until the game has been completed"
    assert rule.void is VoidRule.FIFTY_FIFTY
    assert rule.expected_settle_ts is None  # endDate is a trading date, 30 min before the tip here
    assert rule.note == ""


def test_recorded_cs2_moneyline_rules() -> None:
    rule = polymarket_rule(parse_gamma_market(load("gamma_market_sports_moneyline_cs2_closed.json")))
    assert rule.event_date == "2026-04-05" and rule.yes_entity == "FaZe"
    assert rule.tie is TieRule.HALF_EACH  # "ends in a tie ... this market will resolve to 50-50"
    assert rule.makeup_window_ms == 7 * 86_400_000  # "delayed beyond 7 days"
    assert rule.void is VoidRule.FIFTY_FIFTY
    assert rule.source == "https://hltv.org"  # named in the description


def test_a_totals_market_is_not_a_winner_rule() -> None:
    m = load("gamma_market_sports_moneyline_cs2_closed.json") | {"sportsMarketType": "totals"}
    rule = polymarket_rule(parse_gamma_market(m))
    assert rule.outcome is OutcomeBasis.UNKNOWN and "not a game-winner market" in rule.note
