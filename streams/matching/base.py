"""One matching interface for every market type, and the typed results it returns.

A matcher answers "which event is this venue market about, and which entity
does its YES side back?" Every answer is typed: a `Match`, a `NoMatch` with
its reason (and whether the event may still arrive), or an `Ambiguous` with
the competing events. A market type without a matcher raises
`UnsupportedMarketType` instead of quietly matching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Mapping, Protocol, Sequence, Union

from schemas.enums import MarketType
from schemas.records import EventState, MarketListing
from streams.matching.errors import UnsupportedMarketType

#: YES-side roles: entity a (home / first-named), entity b (away / second), or the draw.
YES_ROLES = ("a", "b", "draw")


@dataclass(frozen=True)
class Match:
    event_id: str
    yes_role: str  # "a", "b" or "draw"
    yes_entity: str  # the entity's name as the event names it ("Draw" for the draw)
    confidence: float  # in (0, 1]
    method: str  # the evidence used, e.g. "kalshi_ticker+title"
    league: str


@dataclass(frozen=True)
class NoMatch:
    reason: str
    retryable: bool  # True: the event may still arrive, keep the listing waiting


@dataclass(frozen=True)
class Ambiguous:
    reason: str
    event_ids: tuple[str, ...]


MatchResult = Union[Match, NoMatch, Ambiguous]


@dataclass(frozen=True)
class IndexKey:
    """Where an event sits in the discovery index: one bucket per market type, league and day."""

    market_type: MarketType
    league: str
    day: date

    def encode(self) -> str:
        return f"{self.market_type.value}|{self.league}|{self.day.isoformat()}"


@dataclass(frozen=True)
class MatchScope:
    """The index buckets a listing's event can be in (a link never leaves them)."""

    market_type: MarketType
    league: str
    first_day: date
    last_day: date

    def keys(self) -> list[IndexKey]:
        days = (self.last_day - self.first_day).days
        return [
            IndexKey(self.market_type, self.league, date.fromordinal(self.first_day.toordinal() + i))
            for i in range(days + 1)
        ]


class EntityMatcher(Protocol):
    market_type: MarketType

    def index_key(self, event: EventState) -> IndexKey | None:
        """The bucket an event belongs in, or None when it cannot be dated (never linkable)."""
        ...

    def scope(self, listing: MarketListing) -> MatchScope | NoMatch:
        """Which buckets to search for the listing, or why it cannot be matched at all."""
        ...

    def match(self, listing: MarketListing, candidates: Sequence[EventState]) -> MatchResult:
        """Match one listing against candidate events (the matcher re-checks league and date itself)."""
        ...


class MatcherRegistry:
    """Matchers keyed by market type."""

    def __init__(self, matchers: Mapping[MarketType, EntityMatcher]) -> None:
        self._matchers = dict(matchers)

    def get(self, market_type: MarketType) -> EntityMatcher:
        matcher = self._matchers.get(market_type)
        if matcher is None:
            known = ", ".join(sorted(m.value for m in self._matchers)) or "none"
            raise UnsupportedMarketType(
                f"no entity matcher for {market_type.value} markets yet (matchers exist for: {known})"
            )
        return matcher

    def supports(self, market_type: MarketType) -> bool:
        return market_type in self._matchers
