"""What a venue listing says about trading and settling its market (pure, domain-level).

The connectors normalize each venue's lifecycle into `MarketListing.lifecycle` and its
published payout into `settlement_micros`; the shard, sizing and positions ask here,
so one rule decides whether a market may be traded and what it paid.
"""

from __future__ import annotations

from schemas.enums import ListingStatus
from schemas.records import MarketListing

#: Venue status words that mean "not trading", for listings written before `lifecycle` existed.
_CLOSED_WORDS = frozenset({"closed", "settled", "finalized", "determined", "disputed", "amended", "deactivated",
                           "inactive", "initialized", "unopened", "paused"})


def is_open(listing: MarketListing | None) -> bool:
    """May an order be sent to this market now? Unknown listings (old records) count as open."""
    if listing is None:
        return True
    if listing.lifecycle is ListingStatus.UNKNOWN:
        return listing.status.strip().lower() not in _CLOSED_WORDS
    return listing.lifecycle is ListingStatus.OPEN


def venue_payout(listing: MarketListing | None) -> int | None:
    """What one YES contract paid, once the venue has settled the market (micro-dollars), else None."""
    if listing is None or listing.lifecycle is not ListingStatus.SETTLED:
        return None
    return listing.settlement_micros


def why_closed(listing: MarketListing) -> str:
    return f"{listing.listing_id} is {listing.lifecycle.value.lower()} (venue status {listing.status!r})"
