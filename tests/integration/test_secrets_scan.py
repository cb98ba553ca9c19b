"""No key material anywhere: a run with realistic (generated) Kalshi and Polymarket credentials, then a scan.

Kalshi: an RSA key written to a PEM file, named by KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH and loaded
as the runner loads it; discovery, REST books, the websocket and a signed live order, all against the
simulator (which verifies every signature). Polymarket: the four POLYMARKET_* secrets from the
environment; a signed order through the trading client (its venue answers as the docs show). Records go
to the real broker, the sink writes them to PostgreSQL; then every log line, every record of every topic
and every row of every table is searched for the PEM, its base64 body, the key id, the private key, the
API key, secret and passphrase (raw, base64 and hex forms).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.kalshi.feed import KalshiFeed
from connectors.kalshi.rest import KalshiRest
from connectors.kalshi.runner import signer_if_configured
from connectors.kalshi.simulator import KalshiSimulator
from connectors.kalshi.trading import KalshiTrading
from connectors.kalshi.ws import KalshiWs
from connectors.polymarket.trading import ClobTradingClient
from connectors.publisher import Publisher
from ops import db
from ops.sink.runner import Sink, SinkConfig
from ops.sink.store import conninfo
from ops.topics import ensure_topics
from schemas.enums import Action, MarketType, Side, TimeInForce, TradingMode, Venue
from schemas.records import MarketListing, Order
from schemas.topics import TOPICS
from tests.unit.kalshi.test_feed import SCRIPTED, books_match

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

WRITTEN = ("raw.kalshi", "markets.catalog", "markets.quotes", "deadletter", "orders", "fills")


def _kalshi_env(tmp: Path) -> tuple[dict[str, str], bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp / "kalshi-prod.key"
    path.write_bytes(pem)
    return {"KALSHI_API_KEY_ID": str(uuid.uuid4()), "KALSHI_PRIVATE_KEY_PATH": str(path)}, pem


def _polymarket_env() -> dict[str, str]:
    return {
        "POLYMARKET_PRIVATE_KEY": "0x" + secrets.token_hex(32),
        "POLYMARKET_API_KEY": str(uuid.uuid4()),
        "POLYMARKET_API_SECRET": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "POLYMARKET_API_PASSPHRASE": secrets.token_hex(32),
    }


def needles(kalshi: dict[str, str], pem: bytes, poly: dict[str, str]) -> dict[str, bytes]:
    """Every form of a secret that could leak: raw, base64 of the raw value, hex of the bytes, the PEM's lines."""
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    der = base64.b64decode(body)
    out = {"kalshi pem": pem, "kalshi pem body": body[:48], "kalshi der (base64)": base64.b64encode(der)[:48],
           "kalshi der (hex)": der.hex()[:64].encode(), "kalshi key id": kalshi["KALSHI_API_KEY_ID"].encode()}
    for i, line in enumerate(pem.splitlines()[1:-1]):
        out[f"kalshi pem line {i}"] = line
    for name, value in poly.items():
        out[name] = value.encode()
        out[f"{name} (base64)"] = base64.b64encode(value.encode())
    out["POLYMARKET_PRIVATE_KEY (bare hex)"] = poly["POLYMARKET_PRIVATE_KEY"][2:].encode()
    return out


async def _kalshi_run(publisher: Publisher, env: dict[str, str]) -> int:
    signer = signer_if_configured(env)
    assert signer is not None
    ticks = itertools.count(1_766_869_000_000, 7)
    clock = lambda: next(ticks)  # noqa: E731
    async with KalshiSimulator(public_key_pem=signer.public_key_pem(), gap_at=5) as sim:
        async with KalshiRest(sim.rest_url, signer=signer, clock=clock) as rest:
            feed = KalshiFeed(publisher, rest, ws_factory=lambda: KalshiWs(sim.ws_url, signer=signer, clock=clock), clock=clock)
            await feed.discover(["KXNFLGAME"])
            await feed.rest_quotes([SCRIPTED[0]])
            await asyncio.wait_for(feed.stream(list(SCRIPTED), until=lambda s: books_match(sim, s)), 30)
            order = Order(order_id="secrets-it:0", account="live-kalshi", ts=1_766_869_000_000, mode=TradingMode.LIVE,
                          venue=Venue.KALSHI, market_id=SCRIPTED[0], event_id="espn:nfl:1", side=Side.YES,
                          action=Action.BUY, limit_price_micros=20_000, count=1.0, tif=TimeInForce.GTC)
            publisher.publish("orders", order.account, order)
            status = await KalshiTrading(rest).create_order(order)
            publisher.publish("fills", order.account, status)
        assert sim.auth_failures == 0 and sim.orders  # every request was signed with the key from the file
        return len(sim.orders)


async def _polymarket_run(publisher: Publisher, env: dict[str, str]) -> None:
    seen: list[httpx.Request] = []

    def venue(request: httpx.Request) -> httpx.Response:  # the documented answer to POST /order
        seen.append(request)
        return httpx.Response(200, json={"success": True, "orderID": "0x" + "ab" * 32, "status": "live"})

    listing = MarketListing(
        listing_id="POLYMARKET:0xc8f1", venue=Venue.POLYMARKET, market_id="0xc8f1", ts=1, market_type=MarketType.POLITICS,
        tick_micros=1_000, token_yes="60590045489347122735554346200880179420435533609307820342798544098823516727807",
        token_no="76005700027045000587004110133818166617024719626220722682005164003117993034812", neg_risk=True)
    order = Order(order_id="secrets-it:1", account="live-polymarket", ts=1_767_554_656_215, mode=TradingMode.LIVE,
                  venue=Venue.POLYMARKET, market_id="0xc8f1", side=Side.YES, action=Action.BUY,
                  limit_price_micros=11_000, count=100.0, tif=TimeInForce.GTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(venue)) as http:
        client = ClobTradingClient.from_env(env, http, base_url="http://clob.test", clock=lambda: 1_767_554_656_215)
        placed = await client.place(order, listing)
    publisher.publish("orders", order.account, order)
    publisher.publish("fills", order.account, placed.status)
    assert seen and "POLY_SIGNATURE" in seen[0].headers


def _topic_bytes(bootstrap: str) -> dict[str, bytes]:
    """Every key and value of every registry topic, from the beginning (all partitions read at once)."""
    out: dict[str, list[bytes]] = {spec.name: [] for spec in TOPICS}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"secrets-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    try:
        pending: dict[tuple[str, int], int] = {}
        starts: dict[tuple[str, int], int] = {}
        for spec in TOPICS:
            for p in c.list_topics(spec.name, timeout=15).topics[spec.name].partitions:
                low, high = c.get_watermark_offsets(TopicPartition(spec.name, p), timeout=15)
                if high > low:
                    pending[(spec.name, p)], starts[(spec.name, p)] = high, low
        c.assign([TopicPartition(t, p, starts[(t, p)]) for t, p in pending])
        while pending:
            msg = c.poll(15)
            assert msg is not None, f"nothing more to read, still waiting on {sorted(pending)[:5]}"
            if msg.error() is not None:
                continue
            out[msg.topic()] += [msg.key() or b"", msg.value() or b""]
            if msg.offset() + 1 >= pending.get((msg.topic(), msg.partition()), 0):
                pending.pop((msg.topic(), msg.partition()), None)
    finally:
        c.close()
    return {t: b"\n".join(v) for t, v in out.items()}


def _table_text(url: str) -> dict[str, bytes]:
    """Every row of every table as text."""
    with psycopg.connect(conninfo(url)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_schema NOT LIKE '\\_timescaledb%'").fetchall()]
        return {t: "\n".join(r[0] for r in conn.execute(f"SELECT t::text FROM {t} t").fetchall()).encode() for t in tables}


def test_no_key_material_in_logs_topics_or_tables(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    kalshi, pem = _kalshi_env(tmp_path)
    poly = _polymarket_env()
    for name, value in {**kalshi, **poly}.items():
        monkeypatch.setenv(name, value)
    ensure_topics(kafka_bootstrap)
    db.migrate(database_url)
    publisher = Publisher(kafka_bootstrap, service="secrets-it")
    orders = asyncio.run(_kalshi_run(publisher, kalshi))
    asyncio.run(_polymarket_run(publisher, poly))
    publisher.flush(30)
    config = SinkConfig(bootstrap=kafka_bootstrap, database_url=database_url, consumer=f"secrets-{uuid.uuid4().hex[:6]}", topics=WRITTEN,
                        batch_wait_s=0.2, retention_every_s=0, maintenance_every_s=0)
    with Sink(config) as sink:
        stats = sink.run(until_caught_up=True)
    logs = capfd.readouterr()
    places: dict[str, bytes] = {"stdout": logs.out.encode(), "stderr": logs.err.encode()}
    places |= {f"topic {k}": v for k, v in _topic_bytes(kafka_bootstrap).items()}
    places |= {f"table {k}": v for k, v in _table_text(database_url).items()}
    # the scan looked at real output: the run logged, raw answers and orders reached topics and tables
    assert orders == 1 and stats.rows > 0 and places["stdout"] + places["stderr"]
    assert b"KXNFLGAME" in places["topic raw.kalshi"] and b"secrets-it:1" in places["table public.orders"]
    found = [(secret, where) for secret, needle in needles(kalshi, pem, poly).items()
             for where, text in places.items() if needle in text]
    assert found == [], found


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    """The needles match what a leak would write (made-up leak: the env dumped as JSON into a log)."""
    kalshi, pem = _kalshi_env(tmp_path)
    poly = _polymarket_env()
    leaked = (json.dumps({**kalshi, **poly}) + pem.decode()).encode()
    assert all(needle in leaked for name, needle in needles(kalshi, pem, poly).items()
               if "base64" not in name and "der" not in name)
