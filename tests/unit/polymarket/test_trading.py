from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog
from eth_account import Account
from eth_account.messages import encode_typed_data

from connectors.polymarket.errors import CredentialsMissing
from connectors.polymarket.signing import NEG_RISK_CTF_EXCHANGE_V2, hmac_signature, typed_data
from connectors.polymarket.trading import ClobTradingClient, PolymarketCredentials
from schemas.enums import Action, MarketType, OrderState, Side, TimeInForce, Venue
from schemas.records import Alert, MarketListing, Order, OrderStatus
from streams.agents.live import PolymarketLive

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat dev account #1
ENV = {
    "POLYMARKET_PRIVATE_KEY": KEY,
    "POLYMARKET_API_KEY": "11111111-2222-3333-4444-555555555555",
    "POLYMARKET_API_SECRET": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
    "POLYMARKET_API_PASSPHRASE": "pass-phrase-not-for-logs",
}
LISTING = MarketListing(
    listing_id="POLYMARKET:0xc8f1", venue=Venue.POLYMARKET, market_id="0xc8f1", ts=1, market_type=MarketType.POLITICS,
    tick_micros=1_000, token_yes="60590045489347122735554346200880179420435533609307820342798544098823516727807",
    token_no="76005700027045000587004110133818166617024719626220722682005164003117993034812", neg_risk=True,
)
ORDER = Order(order_id="sig-1:0", account="acct", ts=1, market_id="0xc8f1", side=Side.YES, action=Action.BUY,
              limit_price_micros=11_000, count=100.0, tif=TimeInForce.GTC)


def test_without_keys_the_client_refuses_clearly() -> None:
    with pytest.raises(CredentialsMissing) as err:
        ClobTradingClient.from_env({}, httpx.AsyncClient())
    text = str(err.value)
    for name in ("POLYMARKET_PRIVATE_KEY", "POLYMARKET_API_KEY", "POLYMARKET_API_SECRET", "POLYMARKET_API_PASSPHRASE"):
        assert name in text
    with pytest.raises(CredentialsMissing, match="POLYMARKET_API_PASSPHRASE"):
        ClobTradingClient.from_env({**ENV, "POLYMARKET_API_PASSPHRASE": " "}, httpx.AsyncClient())


def test_secrets_never_in_reprs() -> None:
    creds = PolymarketCredentials.from_env(ENV)
    client = ClobTradingClient(creds, httpx.AsyncClient())
    for text in (repr(creds), str(creds), repr(client)):
        for secret in (KEY, KEY[2:], ENV["POLYMARKET_API_SECRET"], ENV["POLYMARKET_API_PASSPHRASE"]):
            assert secret not in text


async def test_neg_risk_order_is_signed_for_its_exchange_and_authenticated() -> None:
    seen: list[httpx.Request] = []

    def venue(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "orderID": "0xvenue1", "status": "live"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(venue)) as http:
        client = ClobTradingClient.from_env(ENV, http, base_url="http://clob.test", clock=lambda: 1767554656215,
                                            salt=lambda: 42)
        placed = await client.place(ORDER, LISTING)
    assert placed.status.state is OrderState.RESTING and placed.venue_order_id == "0xvenue1"
    assert client.heartbeat.resting == {"sig-1:0"}
    req = seen[0]
    body = json.loads(req.content)
    wire = body["order"]
    assert (wire["makerAmount"], wire["takerAmount"], wire["side"]) == ("1100000", "100000000", "BUY")
    assert wire["tokenId"] == LISTING.token_yes and body["orderType"] == "GTC"
    assert placed.signed.exchange == NEG_RISK_CTF_EXCHANGE_V2
    message = encode_typed_data(full_message=typed_data(placed.signed.order, NEG_RISK_CTF_EXCHANGE_V2, 137))
    assert Account.recover_message(message, signature=wire["signature"]) == Account.from_key(KEY).address
    assert req.headers["POLY_SIGNATURE"] == hmac_signature(
        ENV["POLYMARKET_API_SECRET"], "1767554656", "POST", "/order", req.content.decode())
    assert KEY[2:] not in req.content.decode() and ENV["POLYMARKET_API_SECRET"] not in req.content.decode()


async def test_heartbeat_failure_trips_dead_man_switch_without_leaking_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    structlog.configure(processors=[structlog.processors.JSONRenderer()],
                        logger_factory=structlog.PrintLoggerFactory(), cache_logger_on_first_use=False)
    calls = {"n": 0}

    def venue(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            return httpx.Response(200, json={"status": "ok", "heartbeat_id": f"hb-{calls['n']}"})
        return httpx.Response(503, text="unavailable")

    async with httpx.AsyncClient(transport=httpx.MockTransport(venue)) as http:
        client = ClobTradingClient.from_env(ENV, http, base_url="http://clob.test", clock=lambda: 1767554656215)
        client.heartbeat.resting.add("sig-1:0")
        live = PolymarketLive(client)
        beaten = [await live.tend(1767554656215) for _ in range(3)]
    assert client.heartbeat.tripped and client.heartbeat.beats == 2 and client.heartbeat.heartbeat_id == "hb-2"
    assert beaten[0] == beaten[1] == []
    unknown = [r for r in beaten[2] if isinstance(r, OrderStatus)]
    assert [s.state for s in unknown] == [OrderState.UNKNOWN]
    alerts = [r.message for r in beaten[2] if isinstance(r, Alert)]
    assert len(alerts) == 1 and "heartbeat failed" in alerts[0]
    out = capsys.readouterr().out + " ".join(alerts)
    for secret in (KEY[2:], ENV["POLYMARKET_API_SECRET"], ENV["POLYMARKET_API_PASSPHRASE"]):
        assert secret not in out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()
