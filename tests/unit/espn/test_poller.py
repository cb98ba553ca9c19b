"""Poll cadence with an injected clock: live vs scheduled vs final, one scoreboard per league."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import httpx

from connectors.espn.client import EspnClient, HostRateLimiter, RetryPolicy
from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from connectors.espn.pipeline import EspnPipeline
from connectors.espn.poller import EspnPoller, PollIntervals, Schedule
from schemas.enums import EventStatus
from tests.unit.espn.conftest import NBA_SB, NFL_LIVE, T_2025_12_07_19, RecordingSink, body, load

NFL, NBA = league("nfl"), league("nba")
T0 = T_2025_12_07_19
IV = PollIntervals(scoreboard_live_s=10, scoreboard_idle_s=120, summary_live_s=5, summary_scheduled_s=300, pregame_window_s=900)
NFL_LIVE_IDS = {"401772900", "401772902", "401772898", "401772899", "401772790", "401772792", "401772793", "401772791"}
NFL_SCHEDULED_IDS = {"401772794", "401772897", "401772901", "401772932", "401772822"}
NFL_FINAL_ID = "401772947"


def _nfl_schedule() -> Schedule:
    sched = Schedule([NFL], IV)
    sched.scoreboard_polled("nfl", scoreboard_states(NFL, load(NFL_LIVE), T0).states, T0)
    return sched


def test_first_scoreboard_makes_live_and_scheduled_summaries_due_and_never_the_final() -> None:
    sched = _nfl_schedule()
    due = {eid for _, eid in sched.due_summaries(T0)}
    assert due == NFL_LIVE_IDS | NFL_SCHEDULED_IDS
    assert NFL_FINAL_ID not in due


def test_live_games_every_few_seconds_scheduled_every_few_minutes() -> None:
    sched = _nfl_schedule()
    for lg, eid in sched.due_summaries(T0):
        sched.summary_polled(lg, eid, T0)
    assert sched.due_summaries(T0 + 4_999) == []
    assert {eid for _, eid in sched.due_summaries(T0 + 5_000)} == NFL_LIVE_IDS
    for lg, eid in sched.due_summaries(T0 + 5_000):
        sched.summary_polled(lg, eid, T0 + 5_000)
    assert {eid for _, eid in sched.due_summaries(T0 + 300_000)} == NFL_LIVE_IDS | NFL_SCHEDULED_IDS
    assert all(eid != NFL_FINAL_ID for _, eid in sched.due_summaries(T0 + 10**9))


def test_scoreboard_cadence_follows_the_league_state() -> None:
    sched = _nfl_schedule()
    assert sched.next_scoreboard_ms("nfl") == T0 + 10_000  # games in play
    finals = [dataclasses.replace(s, status=EventStatus.FINAL) for s in scoreboard_states(NFL, load(NFL_LIVE), T0).states]
    idle = Schedule([NFL], IV)
    idle.scoreboard_polled("nfl", finals, T0)
    assert idle.next_scoreboard_ms("nfl") == T0 + 120_000  # nothing in play or about to start
    assert idle.due_summaries(T0) == []


def test_a_game_about_to_start_makes_the_league_live_for_scoreboards() -> None:
    states = scoreboard_states(NBA, load(NBA_SB), T0).states
    scheduled_only = [s for s in states if s.status is EventStatus.SCHEDULED]
    first_tip = min(s.start_ts for s in scheduled_only if s.start_ts is not None)  # BOS @ TOR, 20:30Z
    sched = Schedule([NBA], IV)
    sched.scoreboard_polled("nba", scheduled_only, first_tip - 3_600_000)
    assert sched.next_scoreboard_ms("nba") == first_tip - 3_600_000 + 120_000
    sched.scoreboard_polled("nba", scheduled_only, first_tip - 600_000)
    assert sched.next_scoreboard_ms("nba") == first_tip - 600_000 + 10_000


def test_game_that_goes_live_is_fetched_now_and_one_last_time_when_it_ends() -> None:
    sched = _nfl_schedule()
    states = {s.event_id: s for s in scoreboard_states(NFL, load(NFL_LIVE), T0).states}
    kc = states["espn:nfl:401772932"]
    for lg, eid in sched.due_summaries(T0):
        sched.summary_polled(lg, eid, T0)
    t1 = T0 + 20_000
    sched.scoreboard_polled("nfl", [dataclasses.replace(kc, status=EventStatus.LIVE)], t1)
    assert ("nfl", "401772932") in sched.due_summaries(t1)  # not in 300 s: now
    sched.summary_polled("nfl", "401772932", t1)
    t2 = t1 + 3_000_000
    sched.scoreboard_polled("nfl", [dataclasses.replace(kc, status=EventStatus.FINAL)], t2)
    assert ("nfl", "401772932") in sched.due_summaries(t2)  # closing plays
    sched.summary_polled("nfl", "401772932", t2, dataclasses.replace(kc, status=EventStatus.FINAL))
    assert ("nfl", "401772932") not in sched.due_summaries(t2 + 10**9)


def test_postponed_game_is_never_summarized() -> None:
    sched = _nfl_schedule()
    den = next(s for s in scoreboard_states(NFL, load(NFL_LIVE), T0).states if s.event_id == "espn:nfl:401772794")
    sched.scoreboard_polled("nfl", [dataclasses.replace(den, status=EventStatus.POSTPONED)], T0 + 1)
    assert ("nfl", "401772794") not in sched.due_summaries(T0 + 10**9)


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def now(self) -> int:
        return self.ms

    async def sleep(self, s: float) -> None:
        self.ms += int(s * 1000)


async def test_poller_one_scoreboard_request_per_league_serves_every_game() -> None:
    paths: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        paths.append(req.url.path)
        if req.url.path.endswith("/football/nfl/scoreboard"):
            return httpx.Response(200, text=body(NFL_LIVE))
        if req.url.path.endswith("/basketball/nba/scoreboard"):
            return httpx.Response(200, text=body(NBA_SB))
        return httpx.Response(404, text="no summary recorded")

    clock = Clock(T0)
    client = EspnClient(
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        limiter=HostRateLimiter(0.0, clock=lambda: clock.ms / 1000, sleep=clock.sleep),
        policy=RetryPolicy(max_attempts=1),
        rng=random.Random(0),
        sleep=clock.sleep,
        now_ms=clock.now,
    )
    sink = RecordingSink()
    poller = EspnPoller(client, EspnPipeline(sink), [NFL, NBA], intervals=IV, now_ms=clock.now, sleep=clock.sleep)

    await poller.tick()
    kinds = Counter(p.rsplit("/", 1)[1] for p in paths)
    assert kinds["scoreboard"] == 2  # 14 NFL + 7 NBA games, two requests
    assert kinds["summary"] == 13 + 7  # live and scheduled games, not the final one
    assert len(sink.on("events.state")) == 21
    assert sink.order[0] == "raw.espn" and sink.order[1] in ("events.state", "events.pregame")  # raw before its states
    assert len(sink.on("raw.espn")) == 2 + 20  # the 404s are raw facts too

    paths.clear()
    clock.ms = T0 + 5_000
    await poller.tick()
    assert Counter(p.rsplit("/", 1)[1] for p in paths) == {"summary": 8 + 1}  # live games only, no scoreboard yet

    paths.clear()
    clock.ms = T0 + 10_000
    await poller.tick()
    kinds = Counter(p.rsplit("/", 1)[1] for p in paths)
    assert kinds["scoreboard"] == 2 and kinds["summary"] == 9
    assert len(sink.on("events.state")) == 21  # same scoreboards: unchanged states are not republished
