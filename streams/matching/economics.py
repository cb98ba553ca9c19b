"""Economics listings -> release-target events (built by `streams.economics.targets` from the same listings).

A listing links to the event of its parsed target (indicator, period, threshold on
the publication grid); "below X" markets link to the NO side (role "b") of ">= X",
so "above"/"below" markets of two venues share one event.
"""

from __future__ import annotations

from datetime import date
from typing import Sequence

from schemas.enums import MarketType, Venue
from schemas.records import EventState, MarketListing
from streams.economics.parse import NotATarget, parse_listing
from streams.economics.target import TARGET_SOURCE
from streams.matching.base import IndexKey, Match, MatchResult, MatchScope, NoMatch


class EconomicsMatcher:
    market_type = MarketType.ECONOMICS

    def index_key(self, event: EventState) -> IndexKey | None:
        if event.source != TARGET_SOURCE:
            return None  # observations and calendar states feed the targets, they are not linked
        return IndexKey(MarketType.ECONOMICS, event.league, date.fromisoformat(event.event_id.split(":")[2]))

    def scope(self, listing: MarketListing) -> MatchScope | NoMatch:
        try:
            target, _ = parse_listing(listing)
        except NotATarget as exc:
            return NoMatch(str(exc), retryable=False)
        day = date.fromisoformat(target.period)
        return MatchScope(MarketType.ECONOMICS, target.indicator, day, day)

    def match(self, listing: MarketListing, candidates: Sequence[EventState]) -> MatchResult:
        try:
            target, role = parse_listing(listing)
        except NotATarget as exc:
            return NoMatch(str(exc), retryable=False)
        for event in candidates:
            if event.event_id == target.event_id:
                method = "kalshi_ticker" if listing.venue is Venue.KALSHI else "polymarket_title"
                return Match(event.event_id, role, event.entity_a if role == "a" else event.entity_b, 1.0, method, target.indicator)
        return NoMatch(f"release target {target.event_id} not seen yet", retryable=True)
