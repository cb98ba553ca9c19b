"""Kalshi trading client: create, cancel and look up orders; fills, positions, balance.

Live money only. It is never built in paper mode: the caller wires it explicitly
(no module-level client), and it refuses to exist without credentials. Our
order id travels as Kalshi's `client_order_id`, so an order whose submit timed
out is looked up by that id instead of being sent again (a blind resubmit could
double the position). Prices go out as `yes_price_dollars` / `no_price_dollars`
strings, checked against the market's tick grid first.

Request body fields: the recorded create call (fixtures/kalshi/order_create_response.json;
its cassette request had `ticker`, `action`, `side`, `count`, `type`,
`yes_price_dollars`, `client_order_id`) and the documented `time_in_force`
values `fill_or_kill`, `good_till_canceled`, `immediate_or_cancel`.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from connectors.kalshi import fixedpoint as fp
from connectors.kalshi.errors import BadPayload, CredentialsMissing, TransientKalshiError
from connectors.kalshi.portfolio import (
    Balance,
    VenueFill,
    VenueOrder,
    VenuePosition,
    parse_balance,
    parse_fill,
    parse_order,
    parse_positions,
    to_order_status,
)
from connectors.kalshi.rest import KalshiRest
from schemas.enums import OrderState, Side, TimeInForce, Venue
from schemas.records import Order, OrderStatus, TickBand

log = structlog.get_logger(__name__)

TIF = {
    TimeInForce.GTC: "good_till_canceled",
    TimeInForce.IOC: "immediate_or_cancel",
    TimeInForce.FOK: "fill_or_kill",
}


def order_body(order: Order, bands: Sequence[TickBand] | None = None) -> dict[str, object]:
    """The POST /portfolio/orders body for one of our orders (pure; raises on an unsendable order)."""
    if order.venue is not Venue.KALSHI:
        raise ValueError(f"order {order.order_id} is for {order.venue.value}, not Kalshi")
    if not order.market_id:
        raise ValueError(f"order {order.order_id} has no market ticker")
    centi = fp.contracts_to_centi(order.count)
    if centi <= 0:
        raise ValueError(f"order {order.order_id} has count {order.count}")
    price = order.limit_price_micros
    if not 0 < price < fp.ONE_DOLLAR_MICROS:
        raise ValueError(f"order {order.order_id} limit {price} is outside (0, $1)")
    if bands:
        fp.check_price(order.side, price, bands)
    body: dict[str, object] = {
        "ticker": order.market_id,
        "action": order.action.value.lower(),
        "side": order.side.value.lower(),
        "type": "limit",
        "client_order_id": order.order_id,
        "time_in_force": TIF[order.tif],
    }
    if centi % 100 == 0:
        body["count"] = centi // 100
    else:
        body["count_fp"] = fp.centi_to_count_fp(centi)
    key = "yes_price_dollars" if order.side is Side.YES else "no_price_dollars"
    body[key] = fp.micros_to_dollars(price)
    return body


class KalshiTrading:
    """Signed portfolio calls over a `KalshiRest` that carries a signer.

    One Kalshi login may serve several of our accounts, so the client has no
    account of its own: every status it builds carries the account of the order
    it is about, which is what routes it to that account's partition.
    """

    def __init__(self, rest: KalshiRest) -> None:
        if rest.signer is None:
            raise CredentialsMissing(
                "Kalshi trading refused: no credentials. Set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH "
                "(the RSA private key PEM file) and build KalshiRest with signer_from_env()."
            )
        self.rest = rest

    def __repr__(self) -> str:
        return f"KalshiTrading(rest={self.rest!r})"

    async def create_order(self, order: Order, bands: Sequence[TickBand] | None = None) -> OrderStatus:
        """Submit once. When the outcome is not known (a transient fault, or an accepted reply that
        cannot be read), look the order up by client id; if it is still unseen, UNKNOWN."""
        body = order_body(order, bands)
        try:
            fetched = await self.rest.request("POST", "/portfolio/orders", endpoint="portfolio/orders", body=body, signed=True)
        except TransientKalshiError as exc:
            log.warning("kalshi submit outcome unknown; reconciling", order_id=order.order_id, error=str(exc))
            return await self._look_up(order, str(exc))
        try:
            venue = parse_order(fetched.json())
            if venue.client_order_id not in (None, order.order_id):
                raise BadPayload("order.client_order_id", f"venue echoed {venue.client_order_id!r} for {order.order_id!r}")
        except BadPayload as exc:
            # the venue took the order (2xx) but its answer does not read: it may rest or have filled
            log.error("kalshi accepted the order but its reply is unreadable; reconciling", order_id=order.order_id,
                      error=str(exc))
            return await self._look_up(order, f"accepted, reply unreadable: {exc}")
        return to_order_status(venue, our_order_id=order.order_id, account=order.account, ts=fetched.fetched_at)

    async def _look_up(self, order: Order, why: str) -> OrderStatus:
        """The venue's status of an order whose submit outcome is unknown, or UNKNOWN if not found now."""
        try:
            found = await self.find_order(order.order_id, ticker=order.market_id)
        except (TransientKalshiError, BadPayload) as exc:
            found, why = None, f"{why}; lookup failed: {exc}"
        if found is None:
            return OrderStatus(
                status_id=f"kalshi:{order.order_id}:UNKNOWN",
                order_id=order.order_id,
                account=order.account,
                state=OrderState.UNKNOWN,
                ts=self.rest.now_ms(),
                reason=f"submit outcome unknown ({why}); reconcile by client_order_id before any new order",
            )
        return to_order_status(found, our_order_id=order.order_id, account=order.account, ts=self.rest.now_ms(),
                               reason=f"reconciled by client_order_id after: {why}")

    async def cancel_order(self, venue_order_id: str, *, our_order_id: str, account: str) -> OrderStatus:
        fetched = await self.rest.request(
            "DELETE", f"/portfolio/orders/{venue_order_id}", endpoint="portfolio/orders/{order_id}", signed=True
        )
        venue = parse_order(fetched.json())
        data = fetched.json()
        reduced = data.get("reduced_by_fp") or data.get("reduced_by")
        return to_order_status(
            venue, our_order_id=our_order_id, account=account, ts=fetched.fetched_at, reason=f"canceled, reduced by {reduced}"
        )

    async def get_order(self, venue_order_id: str) -> VenueOrder:
        fetched = await self.rest.get(f"/portfolio/orders/{venue_order_id}", endpoint="portfolio/orders/{order_id}", signed=True)
        return parse_order(fetched.json())

    async def get_orders(self, *, ticker: str | None = None, status: str | None = None) -> list[VenueOrder]:
        out: list[VenueOrder] = []
        async for page in self.rest.pages(
            "/portfolio/orders", endpoint="portfolio/orders", params={"ticker": ticker, "status": status, "limit": 200}, signed=True
        ):
            rows = page.json().get("orders")
            if not isinstance(rows, list):
                raise BadPayload("orders", "missing")
            out.extend(parse_order(o, f"orders[{i}]") for i, o in enumerate(rows))
        return out

    async def find_order(self, client_order_id: str, *, ticker: str | None = None) -> VenueOrder | None:
        """The venue order carrying our id. GET /portfolio/orders has no client-id filter, so scan (by ticker)."""
        for o in await self.get_orders(ticker=ticker):
            if o.client_order_id == client_order_id:
                return o
        return None

    async def get_fills(self, *, ticker: str | None = None, order_id: str | None = None) -> list[VenueFill]:
        out: list[VenueFill] = []
        async for page in self.rest.pages(
            "/portfolio/fills", endpoint="portfolio/fills", params={"ticker": ticker, "order_id": order_id, "limit": 200}, signed=True
        ):
            rows = page.json().get("fills")
            if not isinstance(rows, list):
                raise BadPayload("fills", "missing")
            out.extend(parse_fill(f, f"fills[{i}]") for i, f in enumerate(rows))
        return out

    async def get_positions(self) -> list[VenuePosition]:
        out: list[VenuePosition] = []
        async for page in self.rest.pages("/portfolio/positions", endpoint="portfolio/positions", params={"limit": 200}, signed=True):
            out.extend(parse_positions(page.json()))
        return out

    async def get_balance(self) -> Balance:
        fetched = await self.rest.get("/portfolio/balance", endpoint="portfolio/balance", signed=True)
        return parse_balance(fetched.json())
