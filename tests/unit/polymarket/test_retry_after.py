"""Polymarket REST clients honour 429 Retry-After: never sooner than the venue asked, bounded, no burst.

The answers are the recorded gamma events page and CLOB book (tests/fixtures/polymarket)
behind scripted 429s (httpx.MockTransport); pauses go to an injected sleep, so the
test reads them instead of waiting them out.
"""

from __future__ import annotations

import asyncio
import json
import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.polymarket.clob import ClobClient
from connectors.polymarket.errors import TransientError, VenueRejected
from connectors.polymarket.feed import PolymarketFeed
from connectors.polymarket.gamma import GammaClient
from connectors.polymarket.http import Retry, retry_after_s
from connectors.polymarket.service import PolymarketService, ServiceConfig
from connectors.lifecycle import Backoff

from .conftest import ETH15_YES, load
from .test_feed_simulator import MemorySink

NOW_MS = 1_767_500_000_000


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


class LowRng(random.Random):
    """uniform(a, b) → a: no jitter, so every pause is what Retry-After alone asks."""

    def uniform(self, a: float, b: float) -> float:
        return a


def transport(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0) if len(answers) > 1 else answers[0]
    return httpx.MockTransport(handle)


def throttled(header: str | None) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": header} if header is not None else {}, json={"error": "Too Many Requests"})


async def test_gamma_waits_each_retry_after_then_publishes_the_recorded_page() -> None:
    events = load("gamma_events_list_active_2026-01-04.json")
    seen: list[httpx.Request] = []
    sleeps = Sleeps()
    answers = [throttled("2"), throttled("1.5"), httpx.Response(200, json=events)]
    async with httpx.AsyncClient(transport=transport(answers, seen)) as http:
        gamma = GammaClient(http, "https://gamma.test", clock=lambda: NOW_MS, page_limit=len(events) + 1,
                            retry=Retry(rng=LowRng(), sleep=sleeps))
        sink = MemorySink()
        listings = await PolymarketFeed(sink, gamma, ClobClient(http, "https://clob.test")).discover()
    assert sleeps.slept == [2.0, 1.5]  # exactly what the venue asked each time, nothing sooner
    assert len(seen) == 3 and listings and len(listings) == 10


async def test_retry_after_is_a_floor_over_the_jittered_backoff() -> None:
    seen: list[httpx.Request] = []
    sleeps = Sleeps()

    class HighRng(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    book = load("clob_book_2026-01-04.json")
    answers = [throttled("0.1"), throttled(None), httpx.Response(503), httpx.Response(200, json=book)]
    async with httpx.AsyncClient(transport=transport(answers, seen)) as http:
        clob = ClobClient(http, "https://clob.test", clock=lambda: NOW_MS, retry=Retry(rng=HighRng(), sleep=sleeps))
        raw, parsed = await clob.book(ETH15_YES)
    # attempt 1: jitter ceiling 0.25 > Retry-After 0.1; then 0.5 and 1.0 (no Retry-After)
    assert sleeps.slept == [0.25, 0.5, 1.0]
    assert raw.status == 200 and parsed.asset_id == ETH15_YES


async def test_a_storm_longer_than_the_budget_raises_with_the_last_retry_after_after_four_spaced_requests() -> None:
    seen: list[httpx.Request] = []
    sleeps = Sleeps()
    async with httpx.AsyncClient(transport=transport([throttled("3")], seen)) as http:
        clob = ClobClient(http, "https://clob.test", clock=lambda: NOW_MS, retry=Retry(rng=LowRng(), sleep=sleeps))
        with pytest.raises(TransientError) as caught:
            await clob.book_answer(ETH15_YES)
    assert len(seen) == 4 and sleeps.slept == [3.0, 3.0, 3.0]
    assert caught.value.status == 429 and caught.value.retry_after_s == 3.0


async def test_a_retry_after_beyond_the_cap_is_not_slept_in_the_call_and_discovery_waits_it_out() -> None:
    seen: list[httpx.Request] = []
    sleeps = Sleeps()
    later = format_datetime(datetime.fromtimestamp(NOW_MS / 1000, timezone.utc) + timedelta(seconds=120), usegmt=True)
    async with httpx.AsyncClient(transport=transport([throttled(later)], seen)) as http:
        gamma = GammaClient(http, "https://gamma.test", clock=lambda: NOW_MS, retry=Retry(rng=LowRng(), sleep=sleeps))
        feed = PolymarketFeed(MemorySink(), gamma, ClobClient(http, "https://clob.test"))
        service_sleeps = Sleeps()
        stop = asyncio.Event()

        async def pause(seconds: float) -> None:
            service_sleeps.slept.append(seconds)
            stop.set()

        svc = PolymarketService(feed, ServiceConfig(tags=(), backoff=Backoff(base_s=1.0, cap_s=60.0)), lambda assets: None,
                                sleep=pause, rng=LowRng())
        await svc.discover_forever(stop)
    assert len(seen) == 1 and sleeps.slept == []  # one request: the client hands the two minutes up
    assert service_sleeps.slept and service_sleeps.slept[0] >= 119.0  # the backoff waits at least what the venue asked


def test_retry_after_forms() -> None:
    resp = lambda v: httpx.Response(429, headers={"Retry-After": v})  # noqa: E731
    assert retry_after_s(resp("7"), NOW_MS) == 7.0
    assert retry_after_s(resp("0.3"), NOW_MS) == 0.3
    date = format_datetime(datetime.fromtimestamp(NOW_MS / 1000 + 30, timezone.utc), usegmt=True)
    assert retry_after_s(resp(date), NOW_MS) == pytest.approx(30.0)
    assert retry_after_s(resp("soon"), NOW_MS) is None
    assert retry_after_s(httpx.Response(429), NOW_MS) is None


async def test_a_4xx_is_not_retried() -> None:
    seen: list[httpx.Request] = []
    sleeps = Sleeps()
    async with httpx.AsyncClient(transport=transport([httpx.Response(404, json={"error": "No orderbook"})], seen)) as http:
        clob = ClobClient(http, "https://clob.test", retry=Retry(sleep=sleeps))
        with pytest.raises(VenueRejected):
            await clob.book_answer("nope")
    assert len(seen) == 1 and sleeps.slept == []
