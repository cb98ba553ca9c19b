"""Trading client over the simulator's real sockets: signed calls, refusal without keys, no key in logs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from structlog.testing import capture_logs

from connectors.kalshi import fixedpoint as fp
from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.errors import CredentialsMissing, FatalKalshiError, OffTickPrice
from connectors.kalshi.rest import KalshiRest, RetryPolicy
from connectors.kalshi.simulator import KalshiSimulator
from connectors.kalshi.trading import KalshiTrading, order_body
from schemas.enums import Action, OrderState, Side, TimeInForce, TradingMode, Venue
from schemas.records import Order
from tests.unit.kalshi.conftest import load
from tests.unit.kalshi.test_auth import _secret_fragments

TICKER = "KXNFLGAME-25DEC27BALGB-GB"
CLOCK = lambda: 1_766_557_486_000  # noqa: E731 - a fixed clock: record times are data


def _order(**kw: object) -> Order:
    base = dict(order_id="sig-123:0", account="acct-1", ts=1, mode=TradingMode.LIVE, venue=Venue.KALSHI, market_id=TICKER,
                side=Side.YES, action=Action.BUY, limit_price_micros=20_000, count=1.0, tif=TimeInForce.GTC)
    base.update(kw)
    return Order(**base)  # type: ignore[arg-type]


def test_order_body_matches_the_recorded_request_fields() -> None:
    body = order_body(_order())
    assert body == {"ticker": TICKER, "action": "buy", "side": "yes", "type": "limit", "client_order_id": "sig-123:0",
                    "time_in_force": "good_till_canceled", "count": 1, "yes_price_dollars": "0.0200"}
    no = order_body(_order(side=Side.NO, limit_price_micros=955_000, count=2.5, tif=TimeInForce.IOC),
                    fp.PRICE_LEVEL_STRUCTURES["tapered_deci_cent"])
    assert no["no_price_dollars"] == "0.9550" and no["count_fp"] == "2.50" and "count" not in no
    assert no["time_in_force"] == "immediate_or_cancel"
    with pytest.raises(OffTickPrice):
        order_body(_order(limit_price_micros=155_000), fp.PRICE_LEVEL_STRUCTURES["tapered_deci_cent"])
    with pytest.raises(ValueError, match="POLYMARKET"):
        order_body(_order(venue=Venue.POLYMARKET))
    with pytest.raises(ValueError, match="outside"):
        order_body(_order(limit_price_micros=1_000_000))


def test_without_keys_the_trading_client_refuses_clearly() -> None:
    with pytest.raises(CredentialsMissing, match="Kalshi trading refused: no credentials. Set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH"):
        KalshiTrading(KalshiRest("http://127.0.0.1:9/trade-api/v2"))


async def test_signed_call_without_signer_refuses_before_any_request() -> None:
    rest = KalshiRest("http://127.0.0.1:9/trade-api/v2")
    with pytest.raises(CredentialsMissing, match="no Kalshi credentials"):
        await rest.request("GET", "/portfolio/balance", signed=True)
    await rest.aclose()


@pytest.fixture()
async def sim(key_pem: bytes) -> AsyncIterator[KalshiSimulator]:
    signer = KalshiSigner.from_pem("test-key", key_pem)
    async with KalshiSimulator(public_key_pem=signer.public_key_pem()) as s:
        yield s


async def test_order_lifecycle_against_the_simulator(sim: KalshiSimulator, key_pem: bytes, rsa_key: rsa.RSAPrivateKey) -> None:
    signer = KalshiSigner.from_pem("test-key", key_pem)
    with capture_logs() as logs:
        async with KalshiRest(sim.rest_url, signer=signer, clock=CLOCK) as rest:
            trading = KalshiTrading(rest)
            status = await trading.create_order(_order(), fp.PRICE_LEVEL_STRUCTURES["linear_cent"])
            assert status.state is OrderState.RESTING and status.order_id == "sig-123:0"
            assert status.remaining_count == 1.0 and status.venue_order_id and status.ts == CLOCK()
            found = await trading.find_order("sig-123:0", ticker=TICKER)
            assert found is not None and found.order_id == status.venue_order_id and found.price_micros == 20_000
            canceled = await trading.cancel_order(status.venue_order_id, our_order_id="sig-123:0", account="acct-1")  # type: ignore[arg-type]
            assert canceled.state is OrderState.CANCELED and canceled.remaining_count == 0.0
            fills = await trading.get_fills()
            assert len(fills) == 1 and fills[0].side is Side.NO and fills[0].price_micros == 960_000 and fills[0].count_centi == 10_300
            positions = await trading.get_positions()
            assert positions[0].position_centi == -10_300 and positions[0].side is Side.NO
            assert positions[0].exposure_micros == 98_880_000 and positions[0].fees_paid_micros == 280_000
            balance = await trading.get_balance()
            assert balance.balance_micros == 100_000_000
    assert sim.auth_failures == 0
    shown = repr(trading) + repr(rest) + json.dumps(logs, default=repr)
    for fragment in _secret_fragments(rsa_key, key_pem):
        assert fragment not in shown


async def test_the_simulator_rejects_unsigned_and_wrongly_signed_calls(sim: KalshiSimulator) -> None:
    other = KalshiSigner(
        "test-key", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    async with KalshiRest(sim.rest_url, signer=other, clock=CLOCK) as rest:
        with pytest.raises(FatalKalshiError, match="401"):
            await KalshiTrading(rest).get_balance()
    async with httpx.AsyncClient() as client:
        resp = await client.get(sim.rest_url + "/portfolio/balance")
    assert resp.status_code == 401 and sim.auth_failures == 2


def _mock_rest(signer: KalshiSigner, handler: object) -> KalshiRest:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return KalshiRest("https://api.elections.kalshi.com/trade-api/v2", signer=signer, client=client, clock=CLOCK,
                      retry=RetryPolicy(attempts=1))


async def test_a_timed_out_submit_is_reconciled_not_resent(key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("test-key", key_pem)
    recorded = load("order_create_response.json")["order"]
    posts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request)
            raise httpx.ReadTimeout("venue slow", request=request)
        assert request.url.path == "/trade-api/v2/portfolio/orders"
        return httpx.Response(200, json={"orders": [{**recorded, "client_order_id": "sig-123:0"}], "cursor": ""})

    status = await KalshiTrading(_mock_rest(signer, handler)).create_order(_order())
    assert len(posts) == 1  # never sent twice
    assert status.state is OrderState.RESTING and status.venue_order_id == recorded["order_id"]


async def test_an_unfound_timed_out_submit_is_unknown(key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("test-key", key_pem)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(200, json={"orders": [], "cursor": ""})

    status = await KalshiTrading(_mock_rest(signer, handler)).create_order(_order())
    assert status.state is OrderState.UNKNOWN and "reconcile" in status.reason


def test_recorded_fill_fee_agrees_with_the_recorded_position() -> None:
    """The demo fill (103 NO at $0.96, taker) has no fee_cost; Kalshi's schedule gives the position's $0.28."""
    from connectors.kalshi.portfolio import expected_fee_micros, parse_fill, parse_positions, to_fill
    from streams.fees.kalshi import order_fee_micros, trade_fee_centicent_micros

    fill = parse_fill(load("portfolio_fills_demo.json")["fills"][0])
    assert fill.fee_micros is None and fill.is_taker
    assert expected_fee_micros(fill, 0.07, trade_fee_centicent_micros) == 276_900  # 0.07·103·0.96·0.04 = $0.276864 → $0.2769
    position = parse_positions(load("portfolio_positions_demo.json"))[0]
    assert order_fee_micros(fill.price_micros, 103.0, 0.07) == position.fees_paid_micros == 280_000
    record = to_fill(fill, our_order_id="o-1", account="acct-1", fee_rate=0.07, fee_fn=trade_fee_centicent_micros)
    assert (record.fill_id, record.venue_fill_id, record.price_micros, record.count, record.fee_micros, record.liquidity) == (
        "kalshi:1f1745ab-6831-701b-e811-42261ae959e6", "1f1745ab-6831-701b-e811-42261ae959e6", 960_000, 103.0, 276_900, "taker")
    assert record.ts == 1761358719000
    with pytest.raises(Exception, match="fee_cost"):
        to_fill(fill, our_order_id="o-1", account="acct-1")
    with pytest.raises(Exception, match="fee function"):
        to_fill(fill, our_order_id="o-1", account="acct-1", fee_rate=0.07)
