"""CoinGecko connector on recorded answers: client (tiers, retries, raw first), normalizer, pipeline."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.coingecko.client import CoinGeckoClient
from connectors.coingecko.errors import FatalCoinGeckoError, TransientCoinGeckoError
from connectors.coingecko.normalize import chart_prices, simple_prices
from connectors.coingecko.pipeline import CoinGeckoPipeline
from connectors.coingecko.tiers import DEMO, PRO, PUBLIC, auth_headers
from connectors.espn.client import HostRateLimiter, RetryPolicy
from connectors.rest import Fetched
from schemas.enums import MarketType
from schemas.records import RawFeed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coingecko"
CHART = (FIXTURES / "market_chart_bitcoin_usd_7d_hourly.json").read_text()
SIMPLE = (FIXTURES / "simple_price_ids_bitcoin_dai_binancecoin_vs_eth.json").read_text()


class Sink:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, Any]] = []
        self.dead: list[tuple[str, bytes, str]] = []

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.published.append((topic, key, record))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        self.dead.append((topic, value, str(error)))


def raw(endpoint: str, body: str, url: str, params: dict[str, str], fetched_at: int = 1_700_000_000_000) -> RawFeed:
    return Fetched("coingecko", endpoint, url, params, 200, fetched_at, body).raw_feed()


def chart_raw(body: str = CHART) -> RawFeed:
    return raw("market_chart", body, "https://api.coingecko.com/api/v3/coins/bitcoin/market_chart", {"vs_currency": "usd", "days": "7"})


def test_recorded_chart_becomes_one_spot_state_per_point() -> None:
    sink = Sink()
    out = CoinGeckoPipeline(sink).on_raw(chart_raw())
    assert sink.published[0][0] == "raw.coingecko"
    states = [r for t, _, r in sink.published if t == "events.state"]
    assert len(states) == len(out.states) == 169
    first = states[0]
    assert (first.event_id, first.ts, first.features["price"]) == ("crypto:btc:usd:spot", 1696359622085, 27309.802923311734)
    assert first.market_type is MarketType.CRYPTO and first.league == "btc" and first.entity_b == "USD"
    # A second poll overlapping the first republishes nothing.
    pipe = CoinGeckoPipeline(sink)
    pipe.on_raw(chart_raw())
    assert pipe.on_raw(chart_raw()).states == ()


def test_recorded_simple_price_in_eth() -> None:
    prices = simple_prices(json.loads(SIMPLE), fetched_at=1_737_500_000_000)
    assert [(p.coin_id, p.vs, p.price) for p in prices] == [
        ("binancecoin", "eth", 0.21387074), ("bitcoin", "eth", 31.906046), ("dai", "eth", 0.0003068)
    ]
    assert all(p.ts == 1_737_500_000_000 for p in prices)  # no last_updated_at asked: receive time
    stamped = simple_prices({"bitcoin": {"usd": 97_000.5, "last_updated_at": 1_737_500_010}}, 0)
    assert stamped[0].ts == 1_737_500_010_000


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("<html>rate limited</html>", "body"),
        ('{"prices": [[1696359622085, null]]}', "market_chart.prices[0][1]"),
        ('{"prices": [[2, 1.0], [1, 1.0]]}', "market_chart.prices[1]"),
        ('{"error": "coin not found"}', "market_chart.prices"),
    ],
)
def test_malformed_answers_are_dead_lettered_with_their_reason(body: str, where: str) -> None:
    sink = Sink()
    out = CoinGeckoPipeline(sink).on_raw(chart_raw(body))
    assert out.dead_letters == 1 and out.states == ()
    assert [t for t, _, _ in sink.published] == ["raw.coingecko"]  # the raw answer is kept
    assert sink.dead[0][0] == "raw.coingecko" and where in sink.dead[0][2]


def test_the_terra_chart_keeps_its_collapse() -> None:
    payload = json.loads((FIXTURES / "market_chart_terra-luna_usd_max_daily.json").read_text())
    prices = chart_prices(payload, "terra-luna", "usd")
    assert len(prices) == 1157 and prices[-1].price < 0.001 < prices[0].price


def test_keyed_tiers_need_their_key_and_never_put_it_in_the_url() -> None:
    assert auth_headers(PUBLIC, {}) == {}
    assert auth_headers(DEMO, {"COINGECKO_DEMO_API_KEY": "k1"}) == {"x-cg-demo-api-key": "k1"}
    with pytest.raises(FatalCoinGeckoError):
        auth_headers(PRO, {})
    assert PRO.base_url.startswith("https://pro-api.") and PRO.min_interval_s < DEMO.min_interval_s < PUBLIC.min_interval_s


def test_client_retries_429_publishes_every_answer_and_spaces_requests() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "2"}, text="slow down")
        return httpx.Response(200, text=CHART)

    seen: list[Fetched] = []
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def run() -> Fetched:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler), headers=auth_headers(DEMO, {"COINGECKO_DEMO_API_KEY": "secret"}))
        client = CoinGeckoClient(
            http, tier=DEMO, limiter=HostRateLimiter(DEMO.min_interval_s, clock=lambda: 0.0, sleep=sleep),
            policy=RetryPolicy(max_attempts=3), rng=random.Random(1), sleep=sleep, now_ms=lambda: 5, observer=seen.append,
        )
        return await client.market_chart("bitcoin", days=7)

    got = asyncio.run(run())
    assert got.status == 200 and [f.status for f in seen] == [429, 200]
    assert sleeps[0] >= 2.0  # Retry-After honoured
    assert str(calls[0].url) == "https://api.coingecko.com/api/v3/coins/bitcoin/market_chart?vs_currency=usd&days=7"
    assert calls[0].headers["x-cg-demo-api-key"] == "secret"
    assert "secret" not in json.dumps(got.raw_feed().params) + got.raw_feed().url


def test_client_gives_up_after_bounded_attempts() -> None:
    async def sleep(s: float) -> None:
        return None

    async def run() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
        client = CoinGeckoClient(http, limiter=HostRateLimiter(0.0, sleep=sleep), policy=RetryPolicy(max_attempts=2), sleep=sleep)
        await client.simple_price(["bitcoin"])

    with pytest.raises(TransientCoinGeckoError):
        asyncio.run(run())
