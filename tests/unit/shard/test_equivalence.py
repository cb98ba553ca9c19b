"""Rule equivalence case by case. Made-up rules (the real pair is in test_pairing_recorded.py): each test changes
one clause of a pair that is otherwise equivalent, so each refusal reason is the one clause's."""

from __future__ import annotations

from dataclasses import replace

from schemas.enums import MarketType, OutcomeBasis, TieRule, Venue, VoidRule
from schemas.records import MarketListing, ResolutionRule
from streams.shard.equivalence import PairingPolicy, compare

START = 1_766_883_600_000  # 2025-12-28T01:00:00Z
RULE = ResolutionRule(event_date="2025-12-27", start_ts=START, outcome=OutcomeBasis.FINAL_RESULT, tie=TieRule.HALF_EACH,
                      follows_makeup=True, makeup_window_ms=14 * 86_400_000, void=VoidRule.FAIR_PRICE)


def listing(venue: Venue, league: str = "nfl", **rule: object) -> MarketListing:
    return MarketListing(listing_id=f"{venue.value}:m", venue=venue, market_id="m", ts=0, market_type=MarketType.SPORT,
                         league=league, resolution=replace(RULE, **rule))  # type: ignore[arg-type]


def verdict(**poly: object):  # type: ignore[no-untyped-def]
    return compare(listing(Venue.KALSHI), listing(Venue.POLYMARKET, **poly), PairingPolicy())


def test_identical_rules_are_equivalent_with_no_residual_risk() -> None:
    v = verdict()
    assert v.equivalent and "residual risk" not in v.reason


def test_each_differing_clause_is_refused_with_its_reason() -> None:
    assert verdict(outcome=OutcomeBasis.REGULATION).reason == (
        "not equivalent: KALSHI settles on the final result, overtime included, POLYMARKET on regulation time only")
    assert verdict(start_ts=START + 3_600_000).reason == (
        "not equivalent: scheduled starts differ: KALSHI 2025-12-28 01:00Z, POLYMARKET 2025-12-28 02:00Z")
    assert verdict(tie=TieRule.NOT_STATED).reason == (
        "not equivalent: a tie pays differently or is unstated (KALSHI HALF_EACH, POLYMARKET NOT_STATED)")
    assert verdict(follows_makeup=False).reason == (
        "not equivalent: a postponed game is not followed to its make-up on both (KALSHI True, POLYMARKET False)")
    assert "different result authorities" in compare(
        listing(Venue.KALSHI, source="https://www.nfl.com/"), listing(Venue.POLYMARKET, source="https://www.espn.com/"),
        PairingPolicy()).reason


def test_start_within_the_tolerance_and_the_same_authority_spelled_differently_pair() -> None:
    v = compare(listing(Venue.KALSHI, source="https://nfl.com"), listing(Venue.POLYMARKET, source="https://www.nfl.com/",
                                                                        start_ts=START + 10 * 60_000), PairingPolicy())
    assert v.equivalent and "same authority (nfl.com)" in v.reason


def test_a_tie_clause_does_not_matter_where_the_sport_cannot_tie() -> None:
    nba = compare(listing(Venue.KALSHI, "nba", tie=TieRule.NOT_STATED), listing(Venue.POLYMARKET, "nba"), PairingPolicy())
    assert nba.equivalent


def test_listings_without_read_rules_keep_the_source_and_settle_time_rule() -> None:
    a = MarketListing(listing_id="KALSHI:x", venue=Venue.KALSHI, market_id="x", ts=0, resolution_source="BLS", settle_ts=5)
    b = replace(a, listing_id="POLYMARKET:y", venue=Venue.POLYMARKET, market_id="y")
    assert compare(a, b, PairingPolicy()).equivalent
    assert not compare(a, replace(b, settle_ts=6), PairingPolicy()).equivalent
    assert compare(a, replace(b, settle_ts=6), PairingPolicy(settle_tolerance_ms=1)).equivalent
    assert compare(a, listing(Venue.POLYMARKET), PairingPolicy()).reason == "KALSHI x: its rules were not read"
