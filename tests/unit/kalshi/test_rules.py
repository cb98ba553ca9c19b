"""Kalshi game-winner rules read from the recorded market objects."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.kalshi.normalize import market_to_listing, parse_series
from connectors.kalshi.rules import kalshi_rule
from schemas.enums import OutcomeBasis, TieRule, VoidRule
from tests.unit.kalshi.conftest import load

G3 = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3" / "listings"


def test_recorded_nfl_market_rules() -> None:
    market = load("markets_list_prod_KXNFLGAME_limit1.json")["markets"][0]
    rule = kalshi_rule(market)
    assert (rule.yes_entity, rule.subject, rule.event_date) == (
        "Green Bay", "Baltimore at Green Bay professional football game", "2025-12-27")
    assert rule.outcome is OutcomeBasis.FINAL_RESULT
    assert rule.tie is TieRule.HALF_EACH  # "If the game is declared a tie, the market will resolve to 50/50"
    assert rule.follows_makeup and rule.makeup_window_ms == 14 * 86_400_000  # "(within two weeks)"
    assert rule.void is VoidRule.FAIR_PRICE
    assert rule.expected_settle_ts == 1_766_894_400_000  # 2025-12-28T04:00:00Z
    assert rule.latest_settle_ts == 1_768_093_200_000  # 2026-01-11T01:00:00Z
    assert rule.start_ts is None and rule.note == ""


def test_the_listing_carries_the_rule_and_the_series_settlement_source() -> None:
    market = load("markets_list_prod_KXNFLGAME_limit1.json")["markets"][0]
    series = parse_series({"series": {"ticker": "KXNFLGAME", "fee_type": "quadratic", "category": "Sports",
                                      "settlement_sources": [{"name": "NFL", "url": "https://www.nfl.com/"}]}})
    listing = market_to_listing(market, 0, series)
    assert listing.resolution_source == "https://www.nfl.com/"
    assert listing.resolution is not None and listing.resolution.source == "https://www.nfl.com/"
    assert listing.resolution.parsed_from.endswith(",series.settlement_sources")


def test_nba_finals_game_rules_of_the_session_listing() -> None:
    market = json.loads((G3 / "kalshi_markets_KXNBAGAME-26JUN08SASNYK_active.json").read_text())["markets"][1]
    rule = kalshi_rule(market)
    assert (rule.yes_entity, rule.event_date, rule.tie, rule.void) == (
        "San Antonio", "2026-06-08", TieRule.NOT_STATED, VoidRule.FAIR_PRICE)
    assert rule.subject == "Game 3: San Antonio at New York professional basketball game"


def test_a_stated_start_time_is_read_in_eastern_time() -> None:
    # the clock-bearing KXMLBGAME wording ("... scheduled for Jul 14, 2026 at 8:00 PM EDT ...")
    rule = kalshi_rule({"rules_primary": "If AL wins the AL vs NL professional baseball game originally scheduled for "
                                         "Jul 14, 2026 at 8:00 PM EDT, then the market resolves to Yes."})
    assert rule.start_ts == 1_784_073_600_000  # 2026-07-15T00:00:00Z
    assert rule.event_date == "2026-07-14"


def test_words_that_are_not_a_game_winner_are_not_understood() -> None:
    partial = kalshi_rule({"rules_primary": "If Cincinnati wins the first 3 innings of the Cincinnati vs Toronto "
                                            "professional baseball game originally scheduled for Sep 27, 2026 at "
                                            "3:07 PM EDT, then the market resolves to Yes."})
    assert partial.outcome is OutcomeBasis.UNKNOWN and "part of the game" in partial.note
    total = kalshi_rule({"rules_primary": "If the teams collectively score more than 227.5 points in the Oklahoma "
                                          "City vs San Antonio game, then the market resolves to Yes."})
    assert total.outcome is OutcomeBasis.UNKNOWN and "not a game-winner sentence" in total.note
