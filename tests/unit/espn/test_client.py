"""The ESPN client against httpx.MockTransport serving the recorded payloads."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

import httpx
import pytest

from connectors.espn.client import EspnClient, Fetched, HostRateLimiter, RetryPolicy
from connectors.espn.errors import FatalEspnError, TransientEspnError
from connectors.espn.leagues import league
from tests.unit.espn.conftest import NBA_SB, NFL_LIVE, body

NFL = league("nfl")


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def make(handler: Callable[[httpx.Request], httpx.Response], t: FakeTime, *, seen: list[Fetched] | None = None, **kw: object) -> EspnClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return EspnClient(
        http=http,
        limiter=HostRateLimiter(0.0, clock=t.clock, sleep=t.sleep),
        rng=random.Random(7),
        sleep=t.sleep,
        now_ms=lambda: int(t.now * 1000),
        observer=seen.append if seen is not None else None,
        **kw,  # type: ignore[arg-type]
    )


async def test_scoreboard_returns_the_recorded_body_and_what_was_asked() -> None:
    requests: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        requests.append(req)
        return httpx.Response(200, text=body(NFL_LIVE))

    t = FakeTime()
    got = await make(handler, t).scoreboard(NFL, date(2025, 12, 7))
    assert str(requests[0].url) == "https://site.api.espn.com/apis/site/v2/sports/football/nfl/scoreboard?dates=20251207"
    assert (got.endpoint, got.league, got.status, got.params, got.fetched_at) == ("scoreboard", "nfl", 200, {"dates": "20251207"}, 1_000_000)
    assert got.body == body(NFL_LIVE)
    raw = got.raw_feed()
    assert raw.raw_id.startswith("espn:scoreboard:nfl:1000000:") and raw.ts == raw.fetched_at == 1_000_000
    assert (raw.source, raw.endpoint, raw.url, raw.status, raw.body) == ("espn", "scoreboard", got.url, 200, got.body)
    assert t.sleeps == []


async def test_college_scoreboard_asks_for_every_division_one_game() -> None:
    urls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        urls.append(str(req.url))
        return httpx.Response(200, text="{}")

    await make(handler, FakeTime()).scoreboard(league("ncaab"))
    assert urls == ["https://site.api.espn.com/apis/site/v2/sports/basketball/mens-college-basketball/scoreboard?groups=50&limit=400"]


async def test_429_then_200_waits_at_least_retry_after_and_reports_both_answers() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"), httpx.Response(200, text=body(NBA_SB))]

    def handler(req: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    t, seen = FakeTime(), []
    got = await make(handler, t, seen=seen).summary(league("nba"), "401810212")
    assert got.status == 200 and got.body == body(NBA_SB)
    assert [f.status for f in seen] == [429, 200]  # both reach the observer (raw.espn)
    assert seen[0].body == "slow down"
    assert len(t.sleeps) == 1 and 2.0 <= t.sleeps[0] <= 30.0


async def test_timeout_then_200_retries_with_jittered_backoff() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadTimeout("read timed out", request=req)
        return httpx.Response(200, text=body(NFL_LIVE))

    t, seen = FakeTime(), []
    got = await make(handler, t, seen=seen).scoreboard(NFL)
    assert calls == 2 and got.status == 200
    assert [f.status for f in seen] == [200]  # a timeout has no answer to record
    assert len(t.sleeps) == 1 and 0.0 <= t.sleeps[0] <= RetryPolicy().base_s


async def test_5xx_until_attempts_run_out_raises_transient() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, text="unavailable")

    t = FakeTime()
    policy = RetryPolicy(max_attempts=4, base_s=1.0, cap_s=8.0)
    with pytest.raises(TransientEspnError, match="gave up after 4 attempts: HTTP 503") as info:
        await make(handler, t, policy=policy).scoreboard(NFL)
    assert info.value.status == 503
    assert calls == 4 and len(t.sleeps) == 3
    assert all(0.0 <= s <= c for s, c in zip(t.sleeps, (1.0, 2.0, 4.0)))


async def test_404_is_fatal_and_not_retried() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(404, text="not found")

    t = FakeTime()
    with pytest.raises(FatalEspnError, match="HTTP 404"):
        await make(handler, t).summary(NFL, "1")
    assert calls == 1 and t.sleeps == []


async def test_plain_http_is_refused_before_any_request() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be called")

    client = make(handler, FakeTime(), base_url="http://site.api.espn.com/apis/site/v2/sports")
    with pytest.raises(FatalEspnError, match="non-HTTPS"):
        await client.scoreboard(NFL)


async def test_rate_limiter_spaces_requests_to_one_host() -> None:
    t = FakeTime()
    limiter = HostRateLimiter(0.5, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        await limiter.acquire("site.api.espn.com")
    await limiter.acquire("cdn.espn.com")  # another host does not wait
    assert t.sleeps == [0.5, 0.5]


def test_backoff_is_bounded_and_jittered() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=4.0)
    rng = random.Random(1)
    delays = [policy.delay(a, rng) for a in range(8) for _ in range(50)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) == len(delays)  # jitter: no two equal
    assert max(policy.delay(0, rng) for _ in range(100)) <= 0.5
    assert policy.delay(0, rng, retry_after_s=10.0) == 10.0  # a longer Retry-After wins over the cap
