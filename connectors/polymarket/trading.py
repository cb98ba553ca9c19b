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
until execution reconciles them. The live worker beats from its Polymarket timer
(streams.agents.trading, through streams.agents.live.PolymarketLive.tend).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from eth_account import Account

from connectors.polymarket.errors import BadPayload, CredentialsMissing, TradeStateError, TransientError, VenueRejected
from connectors.polymarket.http import classify, wall_clock_ms
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
from connectors.polymarket.trades import FeeFn, TradeTracker, parse_trade
from schemas.enums import Action, OrderState, Side, TimeInForce
from schemas.records import Fill, MarketListing, Order, OrderStatus

log = structlog.get_logger(__name__)

CLOB_URL = "https://clob.polymarket.com"
HEARTBEAT_PATH = "/v1/heartbeats"
HEARTBEAT_INTERVAL_S = 5.0
TRADES_OVERLAP_S = 60  # re-read this much before the last trade seen: a trade's later status is not missed

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
        self.tracker = TradeTracker()
        # trades from before this client existed are not ours to book (a previous worker did)
        self._trades_after: int | None = clock() // 1000 - TRADES_OVERLAP_S
        self.poll_errors: list[str] = []
        self._unplaced: set[str] = set()  # trade ids reported as ours but of no order placed here

    @classmethod
    def from_env(cls, env: Mapping[str, str], http: httpx.AsyncClient, **kwargs: Any) -> ClobTradingClient:
        return cls(PolymarketCredentials.from_env(env), http, **kwargs)

    def now_ms(self) -> int:
        return self._clock()

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
        # a refused submit is not retried here (execution looks the order up first); the Retry-After travels up
        classify(resp, path, self._clock(), method)
        return resp.json()

    # ----------------------------------------------------------------- orders

    async def place(self, order: Order, listing: MarketListing, *, post_only: bool = False) -> OrderPlacement:
        """Submit one order. Never retried here: on a transient error, look the order up first."""
        signed = self.build_order(order, listing)
        payload = {"order": signed.wire(), "owner": self._creds.api_key, "orderType": _TIF[order.tif],
                   "deferExec": False, "postOnly": post_only}
        self.tracker.register(signed.order_hash, order)  # the venue's order id: a timed-out submit can be looked up
        answer = await self._call("POST", "/order", payload)
        now = self._clock()
        if not isinstance(answer, dict) or not answer.get("success", False):
            reason = answer.get("errorMsg", "") if isinstance(answer, dict) else str(answer)
            status = OrderStatus(f"{order.order_id}:rejected", order.order_id, order.account, OrderState.REJECTED,
                                 now, remaining_count=order.count, reason=str(reason))
            self.tracker.orders.pop(signed.order_hash, None)
            return OrderPlacement(signed, status, None)
        venue_id = str(answer.get("orderID") or signed.order_hash)
        if venue_id != signed.order_hash:
            self.tracker.orders.pop(signed.order_hash, None)
        self.tracker.register(venue_id, order)
        status = placed_status(order, answer, now, venue_id)
        if status.state in (OrderState.RESTING, OrderState.PARTIALLY_FILLED):
            self.heartbeat.resting.add(order.order_id)
        if status.state in (OrderState.FILLED, OrderState.CANCELED):
            self.tracker.close(venue_id)  # its end is known; its trades are still read (a FAILED one reverses)
        return OrderPlacement(signed, status, venue_id)

    def venue_id_of(self, order_id: str) -> str | None:
        """The venue order id (order hash) this worker signed for our order `order_id`, if any."""
        return next((vid for vid, o in self.tracker.orders.items() if o.order_id == order_id), None)

    async def get_order(self, venue_order_id: str) -> dict[str, Any] | None:
        """GET /data/order/{id}: the venue's order object, or None if it has none by that id."""
        try:
            answer = await self._call("GET", f"/data/order/{venue_order_id}")
        except VenueRejected as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        return answer if isinstance(answer, dict) and answer.get("id") else None

    async def order_updates(self) -> list[OrderStatus]:
        """The venue's status of every open order this worker placed; terminal ones are closed."""
        out: list[OrderStatus] = []
        for vid, order in sorted(self.tracker.open_orders().items()):
            obj = await self.get_order(vid)
            if obj is None:
                continue
            status = venue_order_status(order, obj, self._clock(), vid)
            if status.state in (OrderState.FILLED, OrderState.CANCELED):
                self.tracker.close(vid)
                self.heartbeat.resting.discard(order.order_id)
                out.append(status)
        return out

    async def cancel(self, venue_order_id: str) -> Any:
        return await self._call("DELETE", "/order", {"orderID": venue_order_id})

    async def poll_fills(self, fee: FeeFn) -> list[Fill]:
        """Our fills from /data/trades since the last poll: MATCHED booked, FAILED reversed."""
        after = self._trades_after
        out: list[Fill] = []
        for item in await self.trades(after_s=after):
            try:
                trade = parse_trade(item, set(self.tracker.orders))
                out += self.tracker.on_trade(trade, fee)
                if not trade.legs and trade.trade_id not in self._unplaced:
                    # the endpoint lists only this account's trades: one of its orders we do not know
                    self._unplaced.add(trade.trade_id)
                    self.poll_errors.append(f"trade {trade.trade_id} ({trade.status.value}) is this account's but of no "
                                            "order this worker placed (placed before a restart?): book it by hand")
            except (BadPayload, TradeStateError) as exc:
                self.poll_errors.append(f"{type(exc).__name__}: {exc}")  # the caller alerts on each
                continue
            self._trades_after = max(self._trades_after or 0, trade.ts // 1000 - TRADES_OVERLAP_S)
        return out

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

    def unknown_after_trip(self) -> list[OrderStatus]:
        """Resting orders after a missed heartbeat, each for its own account: UNKNOWN until reconciled."""
        now = self._clock()
        accounts = {o.order_id: o.account for o in self.tracker.orders.values()}
        return [OrderStatus(f"{oid}:heartbeat-lost:{now}", oid, accounts.get(oid, ""), OrderState.UNKNOWN, now,
                            reason="heartbeat lost: venue cancels all resting orders; reconcile before trading")
                for oid in sorted(self.heartbeat.resting)]


def placed_status(order: Order, answer: dict[str, Any], now: int, venue_id: str) -> OrderStatus:
    """The POST /order answer as a status. `takingAmount` / `makingAmount` (docs.polymarket.com,
    post-a-new-order) are what matched at once: shares received on a BUY, shares given on a SELL."""
    state = {"live": OrderState.RESTING, "matched": OrderState.FILLED, "delayed": OrderState.SUBMITTED,
             "unmatched": OrderState.CANCELED}.get(str(answer.get("status", "")).lower(), OrderState.UNKNOWN)
    shares = answer.get("takingAmount") if order.action is Action.BUY else answer.get("makingAmount")
    try:
        filled = min(round(float(shares or 0), 2), order.count)
    except (TypeError, ValueError):
        filled = 0.0
    if state is OrderState.FILLED and filled == 0.0:
        filled = order.count  # "matched" without amounts: the whole order
    if state is OrderState.FILLED and filled < order.count:
        state = OrderState.PARTIALLY_FILLED if order.tif is TimeInForce.GTC else OrderState.CANCELED
    left = 0.0 if state in (OrderState.FILLED, OrderState.CANCELED) else round(order.count - filled, 2)
    return OrderStatus(f"{order.order_id}:{state.value.lower()}:{filled:.2f}", order.order_id, order.account, state, now,
                       filled_count=filled, remaining_count=left, venue_order_id=venue_id,
                       reason=f"polymarket status {answer.get('status', '')}")


_ORDER_STATES = {"LIVE": OrderState.RESTING, "MATCHED": OrderState.FILLED, "CANCELED": OrderState.CANCELED,
                 "CANCELED_MARKET_RESOLVED": OrderState.CANCELED, "INVALID": OrderState.CANCELED}


def _shares(value: Any, order: Order) -> float:
    """A size of the order object in shares. The docs show both decimal shares ("100") and fixed-point
    with 6 decimals ("100000000"); the order's own size tells which one this is."""
    x = float(value or 0)
    fixed = x / 1_000_000
    return round(fixed if abs(fixed - order.count) < abs(x - order.count) else x, 2)


def venue_order_status(order: Order, obj: dict[str, Any], now: int, venue_id: str) -> OrderStatus:
    """GET /data/order/{id} (docs.polymarket.com get-single-order-by-id: `status` LIVE / MATCHED /
    CANCELED / CANCELED_MARKET_RESOLVED / INVALID, with or without an ORDER_STATUS_ prefix;
    `original_size`, `size_matched`) as our status."""
    raw = str(obj.get("status", "")).upper().removeprefix("ORDER_STATUS_")
    state = _ORDER_STATES.get(raw, OrderState.UNKNOWN)
    try:
        original = _shares(obj.get("original_size"), order) or order.count
        matched = min(_shares(obj.get("size_matched"), order), original)
    except (TypeError, ValueError):
        raise BadPayload(f"order {venue_id}: unreadable sizes {obj.get('original_size')!r}/{obj.get('size_matched')!r}") from None
    if state is OrderState.RESTING and matched > 0:
        state = OrderState.PARTIALLY_FILLED
    if state is OrderState.FILLED and matched < original:
        state = OrderState.CANCELED  # a fill-and-kill whose rest was killed
    left = round(original - matched, 2) if state in (OrderState.RESTING, OrderState.PARTIALLY_FILLED) else 0.0
    return OrderStatus(f"{order.order_id}:{state.value.lower()}:{matched:.2f}", order.order_id, order.account, state, now,
                       filled_count=matched, remaining_count=left, venue_order_id=venue_id,
                       reason=f"polymarket order status {raw}")
