"""REST client: cursor paging, retries only for transient faults, signing only where asked."""

from __future__ import annotations

import random

import httpx
import pytest

from connectors.kalshi.auth import KalshiSigner, verify
from connectors.kalshi.errors import FatalKalshiError, TransientKalshiError
from connectors.kalshi.rest import KalshiRest, RetryPolicy
from tests.unit.kalshi.conftest import load

BASE = "https://api.elections.kalshi.com/trade-api/v2"
CLOCK = lambda: 1_766_557_486_000  # noqa: E731


def _rest(handler: object, *, signer: KalshiSigner | None = None, attempts: int = 3, slept: list[float] | None = None) -> KalshiRest:
    async def sleep(s: float) -> None:
        (slept if slept is not None else []).append(s)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return KalshiRest(BASE, signer=signer, client=client, clock=CLOCK, retry=RetryPolicy(attempts=attempts, rng=random.Random(1)), sleep=sleep)


async def test_markets_pages_follow_the_cursor_until_it_is_empty() -> None:
    first, second = load("markets_list_demo_KXNFLGAME.json"), load("markets_list_prod_KXNFLGAME_limit1.json")
    second = {**second, "cursor": ""}
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=second if request.url.params.get("cursor") == first["cursor"] else first)

    pages = [p async for p in _rest(handler).iter_markets(series_ticker="KXNFLGAME", status="open")]
    assert [len(p.json()["markets"]) for p in pages] == [5, 1]
    assert seen[0].params["series_ticker"] == "KXNFLGAME" and seen[0].params["status"] == "open" and "cursor" not in seen[0].params
    assert seen[1].params["cursor"] == first["cursor"]
    assert pages[0].endpoint == "markets" and pages[0].fetched_at == CLOCK() and pages[0].status == 200


async def test_events_are_listed_with_nested_markets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/trade-api/v2/events"
        assert request.url.params["with_nested_markets"] == "true" and request.url.params["series_ticker"] == "KXNFLGAME"
        return httpx.Response(200, json={"events": [], "cursor": ""})

    pages = [p async for p in _rest(handler).iter_events(series_ticker="KXNFLGAME", with_nested_markets=True)]
    assert len(pages) == 1


async def test_transient_faults_are_retried_and_fatal_ones_are_not() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(503) if calls["n"] < 3 else httpx.Response(200, json={"series": {}})

    slept: list[float] = []
    fetched = await _rest(flaky, slept=slept).get_series("KXNFLGAME")
    assert fetched.status == 200 and calls["n"] == 3 and len(slept) == 2 and all(0 <= s <= 8 for s in slept)

    def throttled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "2"})

    slept = []
    with pytest.raises(TransientKalshiError, match="429"):
        await _rest(throttled, slept=slept).get_series("KXNFLGAME")
    assert slept == [2.0, 2.0]

    calls["n"] = 0

    def bad(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(404, json={"error": "not found"})

    with pytest.raises(FatalKalshiError, match="404"):
        await _rest(bad).get_series("NOPE")
    assert calls["n"] == 1


async def test_orderbook_request_is_signed_over_the_full_path(key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("k", key_pem)
    got: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        got.update(request.headers)
        got["path"] = request.url.path
        return httpx.Response(200, json=load("orderbook_handwritten_fixture.json"))

    await _rest(handler, signer=signer).get_orderbook("KXNFLGAME-25DEC27BALGB-GB", depth=10)
    assert got["path"] == "/trade-api/v2/markets/KXNFLGAME-25DEC27BALGB-GB/orderbook"
    assert got["kalshi-access-timestamp"] == str(CLOCK())
    assert verify(signer.public_key_pem(), got["kalshi-access-signature"], CLOCK(), "GET", got["path"])
