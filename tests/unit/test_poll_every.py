"""The polling loop every REST feed shares (CoinGecko, FRED, polls): a 429/5xx never ends the feed,
it marks the service unreachable and waits out the server's Retry-After; success clears it."""

from __future__ import annotations

import asyncio

import pytest

from connectors.lifecycle import poll_every
from connectors.rest import TransientHttpError
from telemetry import heartbeat


def test_a_transient_failure_waits_for_retry_after_then_the_feed_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    real_wait_for = asyncio.wait_for

    async def recording_wait_for(aw, timeout):  # type: ignore[no-untyped-def]
        waits.append(timeout)
        return await real_wait_for(aw, 0)  # no real sleeping in a unit test

    monkeypatch.setattr(asyncio, "wait_for", recording_wait_for)
    heartbeat.reach.ok()
    calls: list[str] = []
    seen_reach: list[tuple[bool, str]] = []

    async def main() -> None:
        stop = asyncio.Event()

        async def once() -> None:
            calls.append("poll")
            if len(calls) == 1:
                raise TransientHttpError("HTTP 429", status=429, retry_after_s=120.0)
            seen_reach.append((heartbeat.reach.reachable, heartbeat.reach.error))
            if len(calls) == 3:
                stop.set()

        await poll_every(stop, 60.0, once, "CoinGecko")

    asyncio.run(main())
    assert calls == ["poll"] * 3
    assert waits[:2] == [120.0, 60.0]  # Retry-After is longer than the round: it wins, then the normal pace
    assert seen_reach[0] == (False, "CoinGecko: HTTP 429")  # the heartbeat said why while it waited
    assert heartbeat.reach.reachable  # the next good round cleared it


def test_anything_but_a_transient_failure_ends_the_feed() -> None:
    async def main() -> None:
        async def once() -> None:
            raise KeyError("a bug, not the network")

        await poll_every(asyncio.Event(), 1.0, once, "FRED")

    with pytest.raises(KeyError):
        asyncio.run(main())
