"""Live venue clients for execution: built only with ARBEES_MODE=live, `--live` and credentials.

Paper mode is the default and must not be able to reach a live endpoint, so this
module imports no connector at import time, and `live_venues` returns nothing
unless all three switches are on. The adapters turn the venue clients into the
`LiveVenue` protocol of the execution processor: a submit whose outcome is unknown
raises `VenueUnknown` (execution then blocks the account and reconciles by client
order id), a refusal raises `VenueRejected`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from schemas.enums import OrderState, Severity, TradingMode, Venue
from schemas.records import Alert, Fill, MarketListing, Order, OrderStatus
from streams.config import Settings
from streams.fees import kalshi as kalshi_fees
from streams.fees import polymarket as polymarket_fees
from streams.trading.ids import stable_id
from streams.trading.execution_processor import LiveAnswer, LiveVenue, VenueRejected, VenueUnknown

log = structlog.get_logger(__name__)

LIVE_FLAG = "--live"
_requested = False


class LiveRefused(RuntimeError):
    """Live mode was asked for but a switch or a credential is missing."""


def request_live() -> None:
    """Called by the worker launcher (streams.agents.worker) when it was started with --live."""
    global _requested
    _requested = True


def live_requested() -> bool:
    return _requested


class KalshiLive:
    """KalshiTrading as a LiveVenue; our order id is Kalshi's client_order_id."""

    def __init__(self, trading: Any) -> None:
        self.trading = trading

    async def _fills(self, order: Order, venue_order_id: str | None, listing: MarketListing | None) -> tuple[Fill, ...]:
        if not venue_order_id:
            return ()
        got = await self.trading.get_fills(ticker=order.market_id, order_id=venue_order_id)
        return tuple(kalshi_fill(f, order, listing) for f in got)

    async def submit(self, order: Order, listing: MarketListing | None) -> LiveAnswer:
        from connectors.kalshi.errors import BadPayload, KalshiError, TransientKalshiError

        try:
            status = await self.trading.create_order(order, listing.tick_bands if listing is not None else None)
        except (TransientKalshiError, BadPayload) as exc:
            raise VenueUnknown(f"{type(exc).__name__}: {exc}") from exc
        except (KalshiError, ValueError) as exc:  # refused before or by the venue: nothing was placed
            raise VenueRejected(f"{type(exc).__name__}: {exc}") from exc
        if status.state is OrderState.UNKNOWN:
            raise VenueUnknown(status.reason)
        try:
            fills = await self._fills(order, status.venue_order_id, listing) if status.filled_count > 0 else ()
        except KalshiError as exc:
            raise VenueUnknown(f"placed, fills not read: {exc}") from exc
        return LiveAnswer(status, fills)

    async def lookup(self, order: Order, listing: MarketListing | None = None) -> LiveAnswer | None:
        from connectors.kalshi.errors import KalshiError
        from connectors.kalshi.portfolio import to_order_status

        try:
            found = await self.trading.find_order(order.order_id, ticker=order.market_id)
            if found is None:
                return None
            status = to_order_status(found, our_order_id=order.order_id, account=order.account,
                                     ts=self.trading.rest.now_ms(), reason="reconciled by client order id")
            fills = await self._fills(order, found.order_id, listing) if found.filled_centi > 0 else ()
        except KalshiError as exc:
            raise VenueUnknown(f"lookup failed: {exc}") from exc
        return LiveAnswer(status, fills)


def kalshi_fill(venue_fill: Any, order: Order, listing: MarketListing | None) -> Fill:
    """A Kalshi fill as our Fill. A fill without `fee_cost` (older payloads) is charged Kalshi's
    published per-fill fee at the listing's rate for its liquidity (the schedule's own rate when the
    listing is not known here), and says so in `fee_computed`."""
    from connectors.kalshi.portfolio import to_fill

    if venue_fill.is_taker:
        rate = listing.taker_fee_rate if listing is not None else kalshi_fees.TAKER_RATE
    else:
        rate = listing.maker_fee_rate if listing is not None else kalshi_fees.MAKER_RATE
    fill = to_fill(venue_fill, our_order_id=order.order_id, account=order.account, event_id=order.event_id,
                   fee_rate=rate, fee_fn=kalshi_fees.trade_fee_centicent_micros)
    return replace(fill, fee_computed=venue_fill.fee_micros is None)


class PolymarketLive:
    """ClobTradingClient as a LiveVenue.

    The venue's order id is the hash of the order we sign, known before it is sent, so an order
    whose submit outcome is unknown is looked up by it (GET /data/order/{hash}) for as long as this
    worker lives; after a restart it cannot be, and the account stays blocked for the operator.

    Fills do not come with the submit answer: a trade is MATCHED first and only final once
    CONFIRMED on chain, or FAILED. `tend` (called by the worker every heartbeat interval) polls
    the trades endpoint, books our fills at MATCHED, reverses them on FAILED, reads the end of
    every open order (FILLED, or CANCELED with what matched), and beats the heartbeat while any
    order rests (a missed beat makes the venue cancel them all: their state becomes UNKNOWN)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.listings: dict[str, MarketListing] = {}  # our order id → its listing (the fee schedule)

    async def submit(self, order: Order, listing: MarketListing | None) -> LiveAnswer:
        from connectors.polymarket.errors import PolymarketError, TransientError

        if listing is None:
            raise VenueRejected(f"no listing (token ids) known for {order.market_id}")
        self.listings[order.order_id] = listing
        try:
            placed = await self.client.place(order, listing)
        except TransientError as exc:
            raise VenueUnknown(str(exc)) from exc
        except PolymarketError as exc:
            raise VenueRejected(f"{type(exc).__name__}: {exc}") from exc
        return LiveAnswer(placed.status, ())  # fills arrive through `tend`, from the trades

    async def lookup(self, order: Order, listing: MarketListing | None = None) -> LiveAnswer | None:
        from connectors.polymarket.errors import PolymarketError
        from connectors.polymarket.trading import venue_order_status

        vid = self.client.venue_id_of(order.order_id)
        if vid is None:
            raise VenueUnknown(f"this worker signed no Polymarket order for {order.order_id} (restarted?): "
                               "reconcile by hand, then `arbees risk reset`")
        try:
            found = await self.client.get_order(vid)
            if found is None:
                self.client.tracker.close(vid)  # never placed: nothing to watch
                return None
            return LiveAnswer(venue_order_status(order, found, self.client.now_ms(), vid), ())
        except PolymarketError as exc:
            raise VenueUnknown(f"lookup failed: {exc}") from exc

    def fee(self, order: Order, price_micros: int, count: float, liquidity: str) -> int:
        """Polymarket charges takers by the listing's schedule; makers pay nothing."""
        listing = self.listings.get(order.order_id)
        if liquidity != "taker" or listing is None or not listing.taker_fee_rate:
            return 0
        return polymarket_fees.taker_fee_micros(price_micros, count, listing.taker_fee_rate, listing.fee_exponent)

    async def tend(self, now: int) -> list[Fill | OrderStatus | Alert]:
        """One heartbeat interval of live Polymarket bookkeeping; every problem is a record, never an exception."""
        from connectors.polymarket.errors import PolymarketError

        out: list[Fill | OrderStatus | Alert] = []
        hb = self.client.heartbeat
        if hb.resting and not hb.tripped:
            try:
                await self.client.beat()
            except PolymarketError as exc:
                hb.tripped, hb.error = True, str(exc)
                statuses = self.client.unknown_after_trip()
                out += statuses
                out.append(_venue_alert(Severity.CRITICAL, now, "heartbeat",
                                        f"polymarket heartbeat failed ({exc}): the venue cancels all resting orders; "
                                        f"{len(statuses)} order(s) UNKNOWN until reconciled"))
        if self.client.tracker.orders:
            try:
                out += await self.client.poll_fills(self.fee)
                out += await self.client.order_updates()
            except PolymarketError as exc:
                out.append(_venue_alert(Severity.ERROR, now, "trades", f"polymarket trades or orders not read: {exc}"))
            for err in self.client.poll_errors:
                out.append(_venue_alert(Severity.ERROR, now, "trades", f"polymarket trade not booked: {err}"))
            self.client.poll_errors.clear()
        return out


def _venue_alert(severity: Severity, ts: int, topic: str, message: str) -> Alert:
    return Alert(alert_id=f"a-{stable_id('polymarket', topic, message, ts)[:24]}", dedupe_key=f"execution:polymarket:{topic}",
                 severity=severity, ts=ts, service="execution", message=message)


def live_venues(settings: Settings, env: Mapping[str, str] | None = None) -> dict[Venue, LiveVenue]:
    """The live clients, or {} in paper mode. Never constructs anything unless every switch is on."""
    if settings.mode is not TradingMode.LIVE:
        return {}
    if not live_requested():
        raise LiveRefused("ARBEES_MODE=live but the worker was not started with --live (python -m streams.agents.worker --live worker)")
    e = dict(os.environ if env is None else env)
    venues: dict[Venue, LiveVenue] = {}
    if e.get("KALSHI_API_KEY_ID") and e.get("KALSHI_PRIVATE_KEY_PATH"):
        from connectors.kalshi.auth import signer_from_env
        from connectors.kalshi.rest import PROD_BASE_URL, KalshiRest
        from connectors.kalshi.trading import KalshiTrading

        rest = KalshiRest(e.get("KALSHI_REST_URL") or PROD_BASE_URL, signer=signer_from_env(e))
        venues[Venue.KALSHI] = KalshiLive(KalshiTrading(rest))
    if all(e.get(k) for k in ("POLYMARKET_PRIVATE_KEY", "POLYMARKET_API_KEY", "POLYMARKET_API_SECRET", "POLYMARKET_API_PASSPHRASE")):
        import httpx

        from connectors.polymarket.trading import ClobTradingClient

        venues[Venue.POLYMARKET] = PolymarketLive(ClobTradingClient.from_env(e, httpx.AsyncClient(timeout=10.0)))
    if not venues:
        raise LiveRefused("live mode needs credentials: KALSHI_API_KEY_ID + KALSHI_PRIVATE_KEY_PATH and/or POLYMARKET_*")
    log.warning("LIVE TRADING ENABLED", venues=[v.value for v in venues])
    return venues
