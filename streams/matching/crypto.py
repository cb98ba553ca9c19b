"""Crypto listings -> price-target events: a link only where the bet is the very same.

The target events come from `streams.crypto.targets`, which builds them from
these same listings; a listing matches the event whose id its parsed target
produces (asset, kind, strike(s), resolution time and resolution rule), so two
venues' markets share an event, and can be arbitraged, only when they settle
identically. The YES side is always the target's condition (role "a").
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Sequence

from schemas.enums import MarketType, Venue
from schemas.records import EventState, MarketListing
from streams.crypto.parse import NotATarget, parse_listing
from streams.crypto.target import TARGET_SOURCE
from streams.matching.base import IndexKey, Match, MatchResult, MatchScope, NoMatch


def _expiry_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date()


class CryptoMatcher:
    market_type = MarketType.CRYPTO

    def index_key(self, event: EventState) -> IndexKey | None:
        if event.source != TARGET_SOURCE or "expiry_ts" not in event.features:
            return None  # spot states are inputs of the targets, never linked
        return IndexKey(MarketType.CRYPTO, event.league, _expiry_day(int(event.features["expiry_ts"])))

    def scope(self, listing: MarketListing) -> MatchScope | NoMatch:
        try:
            target = parse_listing(listing)
        except NotATarget as exc:
            return NoMatch(str(exc), retryable=False)
        day = _expiry_day(target.expiry_ts)
        return MatchScope(MarketType.CRYPTO, target.asset, day, day)

    def match(self, listing: MarketListing, candidates: Sequence[EventState]) -> MatchResult:
        try:
            target = parse_listing(listing)
        except NotATarget as exc:
            return NoMatch(str(exc), retryable=False)
        wanted = target.event_id
        for event in candidates:
            if event.event_id == wanted:
                method = "kalshi_ticker" if listing.venue is Venue.KALSHI else "polymarket_title+rules"
                return Match(wanted, "a", event.entity_a, 1.0, method, target.asset)
        return NoMatch(f"target event {wanted} not seen yet", retryable=True)
