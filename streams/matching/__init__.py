"""Entity matching: which event a venue market is about, and which entity its YES side backs.

`default_registry()` gives the matcher per market type (sports, crypto, economics, politics); other
market types raise `UnsupportedMarketType` until their matcher exists.
"""

from __future__ import annotations

from schemas.enums import MarketType
from streams.matching.aliases import AliasTable, canonical_league, default_alias_table, load_alias_table
from streams.matching.base import (
    Ambiguous,
    EntityMatcher,
    IndexKey,
    Match,
    MatcherRegistry,
    MatchResult,
    MatchScope,
    NoMatch,
)
from streams.matching.errors import AliasTableError, MatchingError, UnsupportedMarketType
from streams.matching.crypto import CryptoMatcher
from streams.matching.economics import EconomicsMatcher
from streams.matching.politics import PoliticsMatcher
from streams.matching.sports import SportsMatcher


def default_registry(table: AliasTable | None = None) -> MatcherRegistry:
    """Every matcher that exists today."""
    return MatcherRegistry({
        MarketType.SPORT: SportsMatcher(table),
        MarketType.CRYPTO: CryptoMatcher(),
        MarketType.ECONOMICS: EconomicsMatcher(),
        MarketType.POLITICS: PoliticsMatcher(),
    })


__all__ = [
    "AliasTable",
    "CryptoMatcher",
    "EconomicsMatcher",
    "PoliticsMatcher",
    "AliasTableError",
    "Ambiguous",
    "EntityMatcher",
    "IndexKey",
    "Match",
    "MatchResult",
    "MatchScope",
    "MatcherRegistry",
    "MatchingError",
    "NoMatch",
    "SportsMatcher",
    "UnsupportedMarketType",
    "canonical_league",
    "default_alias_table",
    "default_registry",
    "load_alias_table",
]
