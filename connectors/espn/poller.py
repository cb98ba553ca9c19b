"""Adaptive polling: one scoreboard per league for all its games, summaries by game status.

The schedule is pure (time is an argument) so its cadence is unit-tested with
a fake clock; `EspnPoller` is the thin async shell that asks it what is due,
fetches, and feeds each response through the pipeline.

Cadence: a league's scoreboard is polled every `scoreboard_live_s` while any of
its games is in play or about to start, `scoreboard_idle_s` otherwise — one
request whatever the number of games. A live game's summary (plays) every
`summary_live_s`, a scheduled game's every `summary_scheduled_s` (pregame odds
move), a finished game's never — except one last fetch when a game we watched
live ends, so its final plays are not lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog

from telemetry import heartbeat

from connectors.espn.client import EspnClient, Fetched
from connectors.espn.errors import EspnError, FatalEspnError
from connectors.espn.leagues import League, league
from connectors.espn.pipeline import EspnPipeline, Outcome
from schemas.enums import EventStatus
from schemas.records import EventState

log = structlog.get_logger(__name__)

IN_PLAY = frozenset({EventStatus.LIVE, EventStatus.BREAK, EventStatus.SUSPENDED})
NEVER = frozenset({EventStatus.FINAL, EventStatus.POSTPONED, EventStatus.CANCELED})


@dataclass(frozen=True)
class PollIntervals:
    scoreboard_live_s: float = 10.0
    scoreboard_idle_s: float = 120.0
    summary_live_s: float = 5.0
    summary_scheduled_s: float = 300.0
    pregame_window_s: float = 900.0  # a game starting this soon makes its league "live" for scoreboards


@dataclass
class _Game:
    league: str
    espn_id: str
    status: EventStatus
    start_ts: int | None
    next_summary_ms: int | None


def espn_id_of(event_id: str) -> str:
    return event_id.rsplit(":", 1)[1]


class Schedule:
    """What to fetch when, from the states seen so far. Never reads the clock."""

    def __init__(self, leagues: Sequence[League], intervals: PollIntervals = PollIntervals()) -> None:
        self.leagues = {lg.key: lg for lg in leagues}
        self.iv = intervals
        self.games: dict[tuple[str, str], _Game] = {}
        self._next_scoreboard: dict[str, int] = {lg.key: 0 for lg in leagues}

    # ---------------------------------------------------------------- scoreboards
    def due_scoreboards(self, now_ms: int) -> list[str]:
        return [k for k, at in self._next_scoreboard.items() if at <= now_ms]

    def next_scoreboard_ms(self, league_key: str) -> int:
        return self._next_scoreboard[league_key]

    def scoreboard_polled(self, league_key: str, states: Iterable[EventState], now_ms: int) -> None:
        for s in states:
            self._observe(league_key, s, now_ms)
        self._next_scoreboard[league_key] = now_ms + int(1000 * self._scoreboard_interval(league_key, now_ms))

    def scoreboard_failed(self, league_key: str, now_ms: int) -> None:
        """The client already retried with backoff; try again at the live cadence."""
        self._next_scoreboard[league_key] = now_ms + int(1000 * self.iv.scoreboard_live_s)

    def _scoreboard_interval(self, league_key: str, now_ms: int) -> float:
        soon = now_ms + int(1000 * self.iv.pregame_window_s)
        for g in self.games.values():
            if g.league != league_key:
                continue
            if g.status in IN_PLAY:
                return self.iv.scoreboard_live_s
            if g.status is EventStatus.SCHEDULED and g.start_ts is not None and g.start_ts <= soon:
                return self.iv.scoreboard_live_s
        return self.iv.scoreboard_idle_s

    # ------------------------------------------------------------------ summaries
    def due_summaries(self, now_ms: int) -> list[tuple[str, str]]:
        due = [g for g in self.games.values() if g.next_summary_ms is not None and g.next_summary_ms <= now_ms]
        return [(g.league, g.espn_id) for g in sorted(due, key=lambda g: (g.next_summary_ms, g.league, g.espn_id))]

    def summary_polled(self, league_key: str, espn_id: str, now_ms: int, state: EventState | None = None) -> None:
        g = self.games.get((league_key, espn_id))
        if g is None:
            return
        if state is not None:
            g.status = state.status
        g.next_summary_ms = self._after_summary(g.status, now_ms)

    def summary_failed(self, league_key: str, espn_id: str, now_ms: int) -> None:
        g = self.games.get((league_key, espn_id))
        if g is not None:
            g.next_summary_ms = self._after_summary(g.status, now_ms) if g.status not in NEVER else None

    def _after_summary(self, status: EventStatus, now_ms: int) -> int | None:
        if status in IN_PLAY:
            return now_ms + int(1000 * self.iv.summary_live_s)
        if status is EventStatus.SCHEDULED:
            return now_ms + int(1000 * self.iv.summary_scheduled_s)
        return None

    def _observe(self, league_key: str, s: EventState, now_ms: int) -> None:
        lg = self.leagues[league_key]
        key = (league_key, espn_id_of(s.event_id))
        g = self.games.get(key)
        wants_summary = not lg.individual  # tennis and MMA plays are not followed
        if g is None:
            first = now_ms if wants_summary and s.status not in NEVER else None
            self.games[key] = _Game(league_key, key[1], s.status, s.start_ts, first)
            return
        was = g.status
        g.status, g.start_ts = s.status, s.start_ts
        if not wants_summary:
            return
        if s.status in NEVER:
            # one last look at a game we followed live, to catch its closing plays
            g.next_summary_ms = now_ms if was in IN_PLAY and s.status is EventStatus.FINAL else None
        elif s.status in IN_PLAY and was not in IN_PLAY:
            g.next_summary_ms = now_ms  # it just started: plays now, not in five minutes
        elif g.next_summary_ms is None:
            g.next_summary_ms = now_ms


class EspnPoller:
    """The async shell: asks the schedule what is due, fetches it, feeds the pipeline."""

    def __init__(
        self,
        client: EspnClient,
        pipeline: EspnPipeline,
        leagues: Sequence[League],
        *,
        intervals: PollIntervals = PollIntervals(),
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tick_s: float = 1.0,
    ) -> None:
        self.client = client
        self.pipeline = pipeline
        self.leagues = {lg.key: lg for lg in leagues}
        self.schedule = Schedule(leagues, intervals)
        self.now_ms = now_ms
        self.sleep = sleep
        self.tick_s = tick_s
        client.observer = self._observe_failure  # 429/5xx answers are raw facts too

    def _observe_failure(self, fetched: Fetched) -> None:
        if fetched.status != 200:
            self.pipeline.on_raw(fetched.raw_feed())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            await self.sleep(self.tick_s)

    async def tick(self) -> list[Outcome]:
        """One round: every due scoreboard, then every due summary."""
        outcomes: list[Outcome] = []
        for key in self.schedule.due_scoreboards(self.now_ms()):
            out = await self._fetch(self.client.scoreboard(self.leagues[key]))
            now = self.now_ms()
            if out is None:
                self.schedule.scoreboard_failed(key, now)
            else:
                self.schedule.scoreboard_polled(key, out.states, now)
                outcomes.append(out)
        due = self.schedule.due_summaries(self.now_ms())
        results = await asyncio.gather(*(self._fetch(self.client.summary(self.leagues[k], eid)) for k, eid in due))
        now = self.now_ms()
        for (key, eid), out in zip(due, results):
            if out is None:
                self.schedule.summary_failed(key, eid, now)
            else:
                self.schedule.summary_polled(key, eid, now, out.states[0] if out.states else None)
                outcomes.append(out)
        return outcomes

    async def _fetch(self, request: Awaitable[Fetched]) -> Outcome | None:
        try:
            fetched = await request
        except FatalEspnError as exc:
            log.error("espn request refused", error=str(exc), status=exc.status)
            return None
        except EspnError as exc:
            log.warning("espn request failed", error=str(exc))
            heartbeat.reach.failed(f"ESPN: {exc}")
            return None
        heartbeat.reach.ok()
        return self.pipeline.on_raw(fetched.raw_feed())


def leagues_of(keys: Iterable[str]) -> list[League]:
    """Resolve league keys up front: an unknown league stops the connector before it starts."""
    return [league(k) for k in keys]
