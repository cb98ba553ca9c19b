"""Builders for shard tests: venue books from the recorded payloads, links, listings, a fixed model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from schemas.enums import EventStatus, MarketType, Venue
from schemas import depth
from schemas.records import EventState, MarketLink, MarketListing, Quote, ShardInput

#: One depth level as tests write it: (price micro-dollars, size in contracts).
Level = tuple[int, float]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shard"
GAME_TS = 1_765_134_000_000  # 2025-12-07 19:00 UTC, the scoreboard capture time
SETTLE_TS = 1_765_162_800_000


def dollars(s: str) -> int:
    whole, _, frac = s.partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


def kalshi_book() -> tuple[list[Level], list[Level]]:
    """Kalshi's orderbook lists bids of each side; an ask of one side is a bid of the other at 1 − p."""
    ob = json.loads((FIXTURES / "orderbook_handwritten_fixture.json").read_text())["orderbook_fp"]
    yes_bids = [(dollars(p), float(c)) for p, c in ob["yes_dollars"]]
    no_bids = [(dollars(p), float(c)) for p, c in ob["no_dollars"]]
    yes_asks = sorted((1_000_000 - p, c) for p, c in no_bids)
    no_asks = sorted((1_000_000 - p, c) for p, c in yes_bids)
    return yes_asks, no_asks


def polymarket_book() -> tuple[list[Level], list[Level]]:
    """The recorded CLOB book of a YES token; its NO asks are the complement of its bids."""
    book = json.loads((FIXTURES / "clob_book_2026-01-04.json").read_text())
    yes_asks = sorted((dollars(a["price"]), float(a["size"])) for a in book["asks"])
    no_asks = sorted((1_000_000 - dollars(b["price"]), float(b["size"])) for b in book["bids"])
    return yes_asks, no_asks


def shift(levels: Sequence[Level], delta_micros: int) -> list[Level]:
    """The same ladder moved by a price delta (levels pushed out of (0, 1) are dropped)."""
    moved = [(p + delta_micros, c) for p, c in levels]
    return [lv for lv in moved if 0 < lv[0] < 1_000_000]


def arrays(levels: Sequence[Level]) -> tuple[np.ndarray, np.ndarray]:
    """(prices micro-dollars, sizes hundredths): the arrays `state.ladder_arrays` takes."""
    return depth.unpack(depth.pack_levels(levels))


def listing(
    venue: Venue,
    market_id: str,
    rate: float,
    exponent: float = 1.0,
    source: str = "NFL official result",
    settle_ts: int | None = SETTLE_TS,
) -> MarketListing:
    return MarketListing(
        listing_id=f"{venue.value}:{market_id}",
        venue=venue,
        market_id=market_id,
        ts=GAME_TS,
        market_type=MarketType.SPORT,
        league="nfl",
        taker_fee_rate=rate,
        fee_exponent=exponent,
        settle_ts=settle_ts,
        resolution_source=source,
    )


def link(venue: Venue, market_id: str, event_id: str, role: str) -> MarketLink:
    return MarketLink(
        link_id=f"{venue.value}:{market_id}", venue=venue, market_id=market_id, event_id=event_id,
        ts=GAME_TS, yes_role=role, confidence=1.0, method="test",
    )


def quote_input(
    event_id: str,
    venue: Venue,
    market_id: str,
    yes_asks: Sequence[Level],
    no_asks: Sequence[Level],
    ts: int,
    role: str = "a",
    rate: float = 0.07,
    exponent: float = 1.0,
    seq: int = 0,
    lst: MarketListing | None = None,
) -> ShardInput:
    q = Quote(
        quote_id=f"q-{market_id}-{ts}-{seq}", venue=venue, market_id=market_id, ts=ts, seq=seq,
        yes_ask_micros=yes_asks[0][0] if yes_asks else None,
        yes_ask_size=yes_asks[0][1] if yes_asks else 0.0,
        no_ask_micros=no_asks[0][0] if no_asks else None,
        no_ask_size=no_asks[0][1] if no_asks else 0.0,
        yes_ask_depth=depth.pack_levels(yes_asks), no_ask_depth=depth.pack_levels(no_asks), source="test",
    )
    return ShardInput(
        input_id=f"in-{market_id}-{ts}-{seq}", event_id=event_id, ts=ts, quote=q,
        link=link(venue, market_id, event_id, role),
        listing=lst or listing(venue, market_id, rate, exponent),
    )


def state_input(state: EventState, input_id: str | None = None) -> ShardInput:
    return ShardInput(input_id=input_id or f"st-{state.state_id}", event_id=state.event_id, ts=state.ts, state=state)


def game_state(event_id: str = "espn:nfl:1", ts: int = GAME_TS, status: EventStatus = EventStatus.LIVE, **kw: object) -> EventState:
    return EventState(
        state_id=f"{event_id}@{ts}", event_id=event_id, ts=ts, source="test", market_type=MarketType.SPORT,
        league="nfl", status=status, entity_a="Home", entity_b="Away", period=2, clock_seconds=300.0, **kw,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class FixedModel:
    """A WinProbabilityModel with hand-set probabilities, so edges are hand-computable."""

    probs: dict[str, float]
    name: str = "fixed"
    version: str = "1"

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return tuple(self.probs)

    def probabilities(self, state: EventState) -> dict[str, float]:
        return dict(self.probs)

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        return np.array([[self.probs[k] for k in self.probs] for _ in states])


def fixed_lookup(probs: dict[str, float]):  # type: ignore[no-untyped-def]
    model = FixedModel(probs)
    return lambda market_type, league: model
