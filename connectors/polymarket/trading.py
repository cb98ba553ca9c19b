"""CLOB trading client: signed V2 orders, cancels, trades, and the heartbeat dead-man switch.

Credentials come only from the environment (names below); without them the
client refuses to exist. Secrets are wrapped so no repr, log line or exception
message can show them. L2 requests carry the POLY_* headers (HMAC of
timestamp+method+path+body with the API secret), as py-clob-client-v2 does.

Heartbeat: while orders rest, POST /v1/heartbeats (py-clob-client-v2
endpoints.py; docs.polymarket.com/api-reference/trade/send-heartbeat: "if
heartbeats are not sent regularly, all open orders for the user will be
automatically canceled"; the SDK documents a 10 s window). We beat every 5 s; if
a beat fails, the venue will cancel everything, so resting orders become UNKNOWN
until execution reconciles them.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from eth_account import Account

from connectors.polymarket.errors import CredentialsMissing, TransientError, VenueRejected
from connectors.polymarket.http import wall_clock_ms
from connectors.polymarket.signing import (
    POLYGON_CHAIN_ID,
    OrderSide,
    SignatureType,
    SignedOrder,
    UnsignedOrder,
    hmac_signature,
    limit_amounts,
    sign_order,
)
from schemas.enums import Action, OrderState, Side, TimeInForce
from schemas.records import MarketListing, Order, OrderStatus

log = structlog.get_logger(__name__)

CLOB_URL = "https://clob.polymarket.com"
HEARTBEAT_PATH = "/v1/heartbeats"
HEARTBEAT_INTERVAL_S = 5.0

ENV_PRIVATE_KEY = "POLYMARKET_PRIVATE_KEY"
ENV_API_KEY = "POLYMARKET_API_KEY"
ENV_API_SECRET = "POLYMARKET_API_SECRET"
ENV_API_PASSPHRASE = "POLYMARKET_API_PASSPHRASE"
ENV_FUNDER = "POLYMARKET_FUNDER"  # optional: proxy/safe wallet holding the funds
ENV_SIGNATURE_TYPE = "POLYMARKET_SIGNATURE_TYPE"  # optional: 0 EOA (default), 1 proxy, 2 safe
REQUIRED_ENV = (ENV_PRIVATE_KEY, ENV_API_KEY, ENV_API_SECRET, ENV_API_PASSPHRASE)

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "FAK", TimeInForce.FOK: "FOK"}


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class PolymarketCredentials:
    """Private key (env POLYMARKET_PRIVATE_KEY) and L2 API creds (POLYMARKET_API_KEY/_SECRET/_PASSPHRASE)."""

    private_key: Secret
    api_key: str
    api_secret: Secret
    api_passphrase: Secret
    address: str
    funder: str
    signature_type: SignatureType = SignatureType.EOA

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PolymarketCredentials:
        missing = [name for name in REQUIRED_ENV if not env.get(name, "").strip()]
        if missing:
            raise CredentialsMissing(
                "Polymarket trading is disabled: set " + ", ".join(missing)
                + " in the environment (paper mode needs none of them)"
            )
        key = env[ENV_PRIVATE_KEY].strip()
        try:
            address = Account.from_key(key).address
        except (ValueError, TypeError):
            raise CredentialsMissing(f"{ENV_PRIVATE_KEY} is not a valid secp256k1 private key") from None
        sig_type = SignatureType(int(env.get(ENV_SIGNATURE_TYPE, "0") or 0))
        return cls(
            private_key=Secret(key),
            api_key=env[ENV_API_KEY].strip(),
            api_secret=Secret(env[ENV_API_SECRET].strip()),
            api_passphrase=Secret(env[ENV_API_PASSPHRASE].strip()),
            address=address,
            funder=env.get(ENV_FUNDER, "").strip() or address,
            signature_type=sig_type,
        )


@dataclass(frozen=True)
class OrderPlacement:
    """What we sent and what the venue answered for one order."""

    signed: SignedOrder
    status: OrderStatus
    venue_order_id: str | None


@dataclass
class HeartbeatState:
    heartbeat_id: str = ""
    beats: int = 0
    tripped: bool = False
    error: str = ""
    resting: set[str] = field(default_factory=set)  # our order ids believed to rest on the book


class ClobTradingClient:
    """Live CLOB trading; construct only through `from_env` or with explicit credentials."""

    def __init__(self, creds: PolymarketCredentials, http: httpx.AsyncClient, base_url: str = CLOB_URL,
                 clock: Callable[[], int] = wall_clock_ms, chain_id: int = POLYGON_CHAIN_ID,
                 salt: Callable[[], int] = lambda: random.SystemRandom().randrange(1, 2**53)) -> None:
        self._creds = creds
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._chain_id = chain_id
        self._salt = salt
        self.heartbeat = HeartbeatState()

    @classmethod
    def from_env(cls, env: Mapping[str, str], http: httpx.AsyncClient, **kwargs: Any) -> ClobTradingClient:
        return cls(PolymarketCredentials.from_env(env), http, **kwargs)

    def __repr__(self) -> str:
        return f"ClobTradingClient(address={self._creds.address}, base_url={self.base_url})"

    # ----------------------------------------------------------------- signing

    def build_order(self, order: Order, listing: MarketListing) -> SignedOrder:
        """Sign `order` for the token of its side, on the exchange its market settles on."""
        token = listing.token_yes if order.side is Side.YES else listing.token_no
        if not token:
            raise VenueRejected(f"listing {listing.listing_id} has no CLOB token for {order.side.value}")
        side = OrderSide.BUY if order.action is Action.BUY else OrderSide.SELL
        maker_amount, taker_amount = limit_amounts(side, order.limit_price_micros, order.count, listing.tick_micros)
        signer = self._creds.address
        unsigned = UnsignedOrder(
            salt=self._salt(),
            maker=self._creds.funder,
            signer=signer,
            token_id=int(token),
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            side=side,
            signature_type=self._creds.signature_type,
            timestamp_ms=self._clock(),
        )
        return sign_order(unsigned, self._creds.private_key.reveal(), neg_risk=listing.neg_risk,
                          chain_id=self._chain_id)

    def _l2_headers(self, method: str, path: str, body: str | None) -> dict[str, str]:
        ts = str(self._clock() // 1000)
        return {
            "POLY_ADDRESS": self._creds.address,
            "POLY_SIGNATURE": hmac_signature(self._creds.api_secret.reveal(), ts, method, path, body),
            "POLY_TIMESTAMP": ts,
            "POLY_API_KEY": self._creds.api_key,
            "POLY_PASSPHRASE": self._creds.api_passphrase.reveal(),
        }

    async def _call(self, method: str, path: str, payload: Any | None = None,
                    params: Mapping[str, str] | None = None) -> Any:
        body = json.dumps(payload, separators=(",", ":")) if payload is not None else None
        headers = {**self._l2_headers(method, path, body), "Content-Type": "application/json"}
        try:
            resp = await self._http.request(method, self.base_url + path, content=body, headers=headers,
                                            params=params)
        except httpx.HTTPError as exc:
            raise TransientError(f"{method} {path}: {type(exc).__name__}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientError(f"{method} {path}: HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise VenueRejected(f"{method} {path}: HTTP {resp.status_code}: {resp.text[:200]}")
        return resp.json()

    # ----------------------------------------------------------------- orders

    async def place(self, order: Order, listing: MarketListing, *, post_only: bool = False) -> OrderPlacement:
        """Submit one order. Never retried here: on a transient error, look the order up first."""
        signed = self.build_order(order, listing)
        payload = {"order": signed.wire(), "owner": self._creds.api_key, "orderType": _TIF[order.tif],
                   "deferExec": False, "postOnly": post_only}
        answer = await self._call("POST", "/order", payload)
        now = self._clock()
        if not isinstance(answer, dict) or not answer.get("success", False):
            reason = answer.get("errorMsg", "") if isinstance(answer, dict) else str(answer)
            status = OrderStatus(f"{order.order_id}:rejected", order.order_id, order.account, OrderState.REJECTED,
                                 now, remaining_count=order.count, reason=str(reason))
            return OrderPlacement(signed, status, None)
        venue_id = str(answer.get("orderID") or signed.order_hash)
        state = {"live": OrderState.RESTING, "matched": OrderState.FILLED, "delayed": OrderState.SUBMITTED,
                 "unmatched": OrderState.CANCELED}.get(str(answer.get("status", "")).lower(), OrderState.UNKNOWN)
        if state is OrderState.RESTING:
            self.heartbeat.resting.add(order.order_id)
        status = OrderStatus(f"{order.order_id}:{state.value.lower()}", order.order_id, order.account, state, now,
                             remaining_count=order.count if state is not OrderState.FILLED else 0.0,
                             venue_order_id=venue_id)
        return OrderPlacement(signed, status, venue_id)

    async def cancel(self, venue_order_id: str) -> Any:
        return await self._call("DELETE", "/order", {"orderID": venue_order_id})

    async def trades(self, after_s: int | None = None) -> list[Any]:
        """Raw /data/trades items (parse with trades.parse_trade), following the cursor."""
        items: list[Any] = []
        cursor = "MA=="
        while cursor and cursor != "LTE=":
            params = {"next_cursor": cursor, **({"after": str(after_s)} if after_s is not None else {})}
            page = await self._call("GET", "/data/trades", params=params)
            items.extend(page.get("data", []))
            cursor = page.get("next_cursor", "")
        return items

    # -------------------------------------------------------------- heartbeat

    async def beat(self) -> str:
        answer = await self._call("POST", HEARTBEAT_PATH, {"heartbeat_id": self.heartbeat.heartbeat_id})
        self.heartbeat.heartbeat_id = str(answer.get("heartbeat_id", self.heartbeat.heartbeat_id))
        self.heartbeat.beats += 1
        return self.heartbeat.heartbeat_id

    async def keep_alive(self, interval_s: float = HEARTBEAT_INTERVAL_S) -> None:
        """Beat while any order rests; on the first failed beat, trip and stop (orders are being canceled)."""
        while self.heartbeat.resting and not self.heartbeat.tripped:
            try:
                await self.beat()
            except (TransientError, VenueRejected) as exc:
                self.heartbeat.tripped = True
                self.heartbeat.error = str(exc)
                log.error("polymarket heartbeat failed: venue will cancel resting orders",
                          resting=len(self.heartbeat.resting), error=str(exc))
                return
            await asyncio.sleep(interval_s)

    def unknown_after_trip(self, account: str) -> list[OrderStatus]:
        """Resting orders after a missed heartbeat: their state is UNKNOWN until reconciled."""
        now = self._clock()
        return [OrderStatus(f"{oid}:heartbeat-lost:{now}", oid, account, OrderState.UNKNOWN, now,
                            reason="heartbeat lost: venue cancels all resting orders; reconcile before trading")
                for oid in sorted(self.heartbeat.resting)]
