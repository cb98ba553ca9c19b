"""The discovery stage's table writes (streams/upstream_stages.py) on the recorded NFL scoreboard and Kalshi listings:
a league's state is written when it changes, never for a score or clock tick of a game it already knows."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from schemas.records import MarketLink
from streams.discovery import DiscoveryState
from streams.upstream_stages import DiscoveryStages
from tests.unit.matching.builders import espn_nfl_events, kalshi_listings
from tests.unit.test_discovery import WEEK13


class CountingTable(dict[str, Any]):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


class Context:
    def __init__(self, table: CountingTable) -> None:
        self.key, self.scope, self.emitted = "SPORT|nfl", table, []  # type: ignore[var-annotated]

    def table(self, name: str) -> CountingTable:
        assert name == "discovery-scopes"
        return self.scope

    async def emit(self, outputs: list[Any]) -> None:
        self.emitted += outputs


def test_a_tick_of_a_known_game_writes_nothing_and_links_still_come() -> None:
    stages, ctx = DiscoveryStages(), Context(CountingTable())
    events = espn_nfl_events(WEEK13)
    for e in events:
        asyncio.run(stages.discover(ctx, e))  # type: ignore[arg-type]
    first = ctx.scope.writes
    assert 1 <= first <= len(events)
    kc_dal = next(e for e in events if e.event_id == "espn:nfl:401772694")
    ticks = [replace(kc_dal, state_id=f"tick{i}", ts=kc_dal.ts + i * 1_000, score_a=(kc_dal.score_a or 0) + i,
                     clock_seconds=600.0 - i) for i in range(1, 30)]  # MADE-UP ticks of a recorded game, 29 s apart
    for t in ticks:
        asyncio.run(stages.discover(ctx, t))  # type: ignore[arg-type]
    assert ctx.scope.writes == first  # the ticks left the league's state as it was
    state: DiscoveryState = ctx.scope["SPORT|nfl"]
    assert state.events[kc_dal.event_id] == kc_dal  # it keeps what matching reads; the tick's score is not that
    asyncio.run(stages.discover(ctx, replace(ticks[-1], ts=ticks[-1].ts + 120_000, state_id="sweep")))
    assert ctx.scope.writes == first + 1  # two minutes on: the expiry sweep moves the watermark, and that is written
    for lst in kalshi_listings():
        asyncio.run(stages.discover(ctx, replace(lst, ts=ticks[-1].ts + 180_000)))  # type: ignore[arg-type]
    made = {o.market_id: o.event_id for o in ctx.emitted if isinstance(o, MarketLink)}
    assert made["KXNFLGAME-25NOV27KCDAL-KC"] == made["KXNFLGAME-25NOV27KCDAL-DAL"] == kc_dal.event_id
    assert ctx.scope.writes > first + 1
