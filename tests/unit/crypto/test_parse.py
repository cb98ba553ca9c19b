"""Parsing real venue crypto listings into targets, and the matcher that links only equal bets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas.enums import Venue
from streams.crypto.parse import NotATarget, asset_of, parse_listing
from streams.crypto.target import ResolutionRule, TargetKind
from streams.matching import Match, NoMatch, default_registry
from schemas.enums import MarketType

from tests.unit.crypto.venues import kalshi_frames, kalshi_listing, polymarket_listings


def test_asset_aliases() -> None:
    assert {asset_of(x) for x in ("BTC", "Bitcoin", "XBT")} == {"btc"}
    assert {asset_of(x) for x in ("ETH", "Ether", "Ethereum")} == {"eth"}
    assert asset_of("Solana") == "sol" and asset_of("Dogwifhat") is None


def test_every_recorded_kalshi_threshold_ticker_parses() -> None:
    parsed = {}
    for msg in kalshi_frames():
        try:
            parsed[msg["market_ticker"]] = parse_listing(kalshi_listing(msg["market_ticker"]))
        except NotATarget as exc:
            parsed[msg["market_ticker"]] = str(exc)
    btc = parsed["KXBTCD-26FEB1217-T72749.99"]
    assert (btc.asset, btc.kind, btc.strike) == ("btc", TargetKind.ABOVE, 72_749.99)
    assert btc.expiry_ts == 1_770_933_600_000  # 2026-02-12 17:00 EST = 22:00 UTC
    assert btc.rule == ResolutionRule("cfbenchmarks:BRTI", 60)
    sol = parsed["KXSOLD-26FEB1317-T73.9999"]
    assert (sol.asset, sol.strike, sol.expiry_ts) == ("sol", 73.9999, 1_770_933_600_000 + 86_400_000)
    eth = [t for k, t in parsed.items() if k.startswith("KXETHD")]
    assert len(eth) == 6 and {t.rule.index for t in eth} == {"cfbenchmarks:ETHUSD_RTI"}
    # A range needs its bounds from the subtitle, which the frames do not carry; the monthly
    # minimum series is not a price target we parse: both are refused with the reason.
    assert "subtitle" in parsed["KXXRP-26FEB1317-B1.3899500"]
    assert "KXETHMINMON" in parsed["KXETHMINMON-ETH-26FEB28-175000"]


def test_kalshi_range_with_subtitle() -> None:
    # Made-up subtitle in Kalshi's range wording (the recorded frames have none).
    t = parse_listing(kalshi_listing("KXXRP-26FEB1317-B1.3899500", subtitle="$1.38 to 1.39999"))
    assert (t.kind, t.strike, t.strike_high) == (TargetKind.BETWEEN, 1.38, 1.39999)
    tail = parse_listing(kalshi_listing("KXBTC-26FEB1217-T60000", subtitle="$59,999.99 or below"))
    assert (tail.kind, tail.strike) == (TargetKind.BELOW, 60_000.0)


def test_recorded_polymarket_up_down_markets() -> None:
    listings = polymarket_listings()
    targets = {x.title: parse_listing(x) for x in listings}
    btc = targets["Bitcoin Up or Down - January 5, 2:15PM-2:20PM ET"]
    assert (btc.asset, btc.kind, btc.strike) == ("btc", TargetKind.UP, None)
    assert (btc.window_start_ts, btc.expiry_ts) == (1_767_640_500_000, 1_767_640_800_000)
    assert btc.rule == ResolutionRule("chainlink:btc-usd", 0)
    eth15 = targets["Ethereum Up or Down - January 5, 2:15PM-2:30PM ET"]
    assert eth15.expiry_ts - eth15.window_start_ts == 15 * 60_000 and eth15.rule.index == "chainlink:eth-usd"
    assert {t.asset for t in targets.values()} == {"btc", "eth", "sol", "xrp"}


def test_polymarket_threshold_and_unknown_index() -> None:
    # Made-up titles/rules in Polymarket's wording (no recorded threshold market is available).
    base = polymarket_listings()[0]
    above = replace(base, title="Will the price of Bitcoin be above $100,000 on January 5?", rules="Resolves per the Binance BTC/USDT 1 minute candle.")
    t = parse_listing(above)
    assert (t.kind, t.strike, t.rule) == (TargetKind.ABOVE, 100_000.0, ResolutionRule("binance:BTCUSDT", 0))
    reach = parse_listing(replace(above, title="Will Ethereum reach $5,000 in January?"))
    assert (reach.asset, reach.kind, reach.strike) == ("eth", TargetKind.TOUCH, 5_000.0)
    with pytest.raises(NotATarget, match="resolution index"):
        parse_listing(replace(above, rules="Resolves per the price on some website."))


def test_matcher_links_only_the_same_bet() -> None:
    matcher = default_registry().get(MarketType.CRYPTO)
    k = kalshi_listing("KXBTCD-26FEB1217-T72749.99")
    target = parse_listing(k)
    from streams.crypto.target import to_state
    from schemas.enums import EventStatus

    ev = to_state(target, spot=70_000.0, sigma=0.5, ts=k.ts, state_id="s", status=EventStatus.LIVE)
    assert matcher.index_key(ev).encode() == "CRYPTO|btc|2026-02-12"
    scope = matcher.scope(k)
    assert [x.encode() for x in scope.keys()] == ["CRYPTO|btc|2026-02-12"]
    m = matcher.match(k, [ev])
    assert isinstance(m, Match) and (m.event_id, m.yes_role) == (ev.event_id, "a")
    # Same asset, strike and hour but settled on another index: not the same event.
    other = replace(ev, event_id=replace(target, rule=ResolutionRule("binance:BTCUSDT", 0)).event_id)
    res = matcher.match(k, [other])
    assert isinstance(res, NoMatch) and res.retryable
    refused = matcher.scope(kalshi_listing("KXETHMINMON-ETH-26FEB28-175000"))
    assert isinstance(refused, NoMatch) and not refused.retryable
    assert matcher.index_key(replace(ev, source="coingecko")) is None
    assert Venue.KALSHI is k.venue
