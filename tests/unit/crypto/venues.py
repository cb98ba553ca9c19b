"""Real crypto listings of both venues, built from the recorded payloads.

Kalshi: the archived `ticker` frames (tests/fixtures/kalshi/ws_ticker_frames.ndjson) carry only
market tickers and top of book, so a Kalshi listing here is the real ticker in the MarketListing
shape the Kalshi normalizer produces (title/subtitle empty: the frames do not have them).
Polymarket: the recorded Gamma /events answer through the real normalizer.
"""

from __future__ import annotations

import json
from pathlib import Path

from connectors.polymarket.gamma import parse_gamma_event
from connectors.polymarket.normalize import listing_from_gamma
from schemas import depth
from schemas.enums import MarketType, Venue
from schemas.records import MarketListing, Quote

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: When the Kalshi frames were archived: 2026-02-12 12:06:16 UTC.
KALSHI_FRAME_TS = 1_770_897_976_000


def kalshi_frames() -> list[dict]:
    lines = (FIXTURES / "kalshi" / "ws_ticker_frames.ndjson").read_text().splitlines()
    return [json.loads(x)["msg"] for x in lines if x.strip()]


def kalshi_listing(ticker: str, subtitle: str = "", ts: int = KALSHI_FRAME_TS) -> MarketListing:
    return MarketListing(
        listing_id=f"KALSHI:{ticker}", venue=Venue.KALSHI, market_id=ticker, ts=ts,
        group_id=ticker.rsplit("-", 1)[0], series=ticker.split("-", 1)[0], subtitle=subtitle, yes_outcome=subtitle,
        market_type=MarketType.CRYPTO, status="active", taker_fee_rate=0.07,
    )


def kalshi_quote(msg: dict, ts: int | None = None) -> Quote:
    """Top of book from a recorded ticker frame: YES bid/ask; the NO side is implied (1 - the other)."""
    ticker = msg["market_ticker"]
    yb, ya = round(float(msg["yes_bid_dollars"]) * 1e6), round(float(msg["yes_ask_dollars"]) * 1e6)
    bsz, asz = float(msg["yes_bid_size_fp"]), float(msg["yes_ask_size_fp"])
    yes_asks = [(ya, asz)] if asz > 0 and ya < 1_000_000 else []
    no_asks = [(1_000_000 - yb, bsz)] if bsz > 0 and yb > 0 else []
    yes_bids = [(yb, bsz)] if bsz > 0 and yb > 0 else []
    no_bids = [(1_000_000 - ya, asz)] if asz > 0 and ya < 1_000_000 else []
    t = ts if ts is not None else msg["ts"] * 1000
    return Quote(
        quote_id=f"KALSHI:{ticker}:ticker:{msg['Clock']}", venue=Venue.KALSHI, market_id=ticker, ts=t, seq=msg["Clock"],
        yes_bid_micros=yes_bids[0][0] if yes_bids else None, yes_bid_size=bsz,
        yes_ask_micros=yes_asks[0][0] if yes_asks else None, yes_ask_size=asz,
        no_bid_micros=no_bids[0][0] if no_bids else None, no_bid_size=asz,
        no_ask_micros=no_asks[0][0] if no_asks else None, no_ask_size=bsz, source="kalshi.ws.ticker",
        yes_bid_depth=depth.pack_levels(yes_bids), yes_ask_depth=depth.pack_levels(yes_asks),
        no_bid_depth=depth.pack_levels(no_bids), no_ask_depth=depth.pack_levels(no_asks),
    )


def polymarket_listings(ts: int = 1_767_554_000_000) -> list[MarketListing]:
    out = []
    for raw in json.loads((FIXTURES / "polymarket" / "gamma_events_list_active_2026-01-04.json").read_text()):
        event = parse_gamma_event(raw)
        out += [listing_from_gamma(m, event, ts=ts) for m in event.markets]
    return out
