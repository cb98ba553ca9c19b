"""The discovery, targets, router and alerts stages of streams/topology.py: what each does with one record.

Handlers get a host `Context` (their tables, `emit`) and one record, as the trading stages do
(streams/trading/stages.py); the Faust runner builds their agents and routes their outputs by
the declaration. The rules that used to live in the agent shells are here: discovery re-keys
its inputs by the processor's scope and keeps one state per scope (each target processor
likewise, per asset, indicator or race); the router keeps a
market's link, listing and latest quote each in its own table and writes only the one the
record changed; alerts rate-limit and hand each alert that passes to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import structlog

from schemas.enums import Severity
from schemas.records import Alert, EventState, Fill, Heartbeat, LedgerEntry, MarketLink, MarketListing, Quote
from streams import alerting, router
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.topology import Context, ToScope, target_table_name

log = structlog.get_logger(__name__)


class DiscoveryStages:
    def __init__(self, processor: DiscoveryProcessor | None = None) -> None:
        self.processor = processor or DiscoveryProcessor()

    async def rekey(self, ctx: Context, record: MarketListing | EventState) -> None:
        await ctx.emit([ToScope(self.processor.state_key(record), record)])

    async def discover(self, ctx: Context, record: MarketListing | EventState) -> None:
        table = ctx.table("discovery-scopes")
        current = table.get(ctx.key) or DiscoveryState()
        state, outputs = self.processor.step(current, record)
        for out in outputs:
            if isinstance(out, Alert):
                log.warning("discovery", message=out.message)
        await ctx.emit(outputs)
        if state is not current:  # a tick of a known game: nothing to write (a league's whole state, megabytes at 1,000 games)
            table[ctx.key] = state


class TargetProcessor(Protocol):
    def state_key(self, record: Any) -> str | None: ...

    def initial(self, key: str) -> Any: ...

    def step(self, state: Any, record: Any) -> tuple[Any, list[EventState]]: ...


class TargetStages:
    """`<name>_rekey` and `<name>_targets` handlers for each target processor (crypto, econ, politics)."""

    def __init__(self, processors: Mapping[str, TargetProcessor]) -> None:
        for name, processor in processors.items():
            setattr(self, f"{name}_rekey", self._rekey(processor))
            setattr(self, f"{name}_targets", self._targets(target_table_name(name), processor))

    @staticmethod
    def _rekey(processor: TargetProcessor) -> Callable[[Context, Any], Awaitable[None]]:
        async def rekey(ctx: Context, record: MarketListing | EventState) -> None:
            key = processor.state_key(record)  # None: not the processor's (its own outputs come back on events.state)
            await ctx.emit([] if key is None else [ToScope(key, record)])
        return rekey

    @staticmethod
    def _targets(table_name: str, processor: TargetProcessor) -> Callable[[Context, Any], Awaitable[None]]:
        async def targets(ctx: Context, record: MarketListing | EventState) -> None:
            table = ctx.table(table_name)
            state = table.get(ctx.key) or processor.initial(ctx.key)
            state, outputs = processor.step(state, record)  # a ValueError (NotATarget) is dead-lettered by the host
            await ctx.emit(outputs)
            table[ctx.key] = state
        return targets


#: The router table each market record is kept in.
ROUTE_TABLES: dict[type, str] = {MarketLink: "router-links", MarketListing: "router-listings", Quote: "router-quotes"}


class RouterStages:
    async def route_market(self, ctx: Context, record: Quote | MarketLink | MarketListing) -> None:
        links, listings, quotes = (ctx.table(ROUTE_TABLES[c]) for c in (MarketLink, MarketListing, Quote))
        current = router.MarketRoute(link=links.get(ctx.key), listing=listings.get(ctx.key), quote=quotes.get(ctx.key))
        updated, outputs = router.step(current, record)
        await ctx.emit([value for _, value in outputs])
        kept = {MarketLink: updated.link, MarketListing: updated.listing, Quote: updated.quote}[type(record)]
        ctx.table(ROUTE_TABLES[type(record)])[ctx.key] = kept

    async def route_state(self, ctx: Context, record: EventState) -> None:
        await ctx.emit([router.route_state(record)[1]])


class AlertStages:
    """The limiter, heartbeat watch and dispatcher live here, in memory (see the alerts stage in the topology)."""

    def __init__(self, limiter: alerting.RateLimiter, dispatcher: alerting.Dispatcher,
                 deliver: Callable[[alerting.Delivery], None], now_ms: Callable[[], int | None] = lambda: None) -> None:
        self.limiter, self.dispatcher, self.deliver, self.now_ms = limiter, dispatcher, deliver, now_ms
        self.watch = alerting.HeartbeatWatch(max_age_ms=dispatcher.policy.max_age_ms)

    async def alert(self, ctx: Context, record: Any) -> None:
        if isinstance(record, Fill):
            self.dispatcher.note_fill()
            return
        if isinstance(record, LedgerEntry):
            self.dispatcher.note_balance(record.account, record.balance_micros)
            return
        if isinstance(record, Heartbeat):
            self.watch.observe(record, self.now_ms())
        self.limiter, alerts = alerting.step(self.limiter, record)
        await self.raise_alerts(ctx.emit, alerts)

    async def raise_alerts(self, emit: Callable[[list[Any]], Any], alerts: list[Alert]) -> None:
        for alert in alerts:
            level = "error" if alert.severity in (Severity.ERROR, Severity.CRITICAL) else "warning"
            getattr(log, level)("alert", key=alert.dedupe_key, message=alert.message)
        await emit(alerts)
        for alert in alerts:
            for delivery in self.dispatcher.offer(alert, self.now_ms()):
                self.deliver(delivery)

    async def watch_and_digest(self, emit: Callable[[list[Any]], Any], now_ms: int) -> None:
        """Silence is news: parts that missed their heartbeats; and the digest when due."""
        missed: list[Alert] = []
        for alert in self.watch.missed(now_ms):
            self.limiter, out = alerting.step_alert(self.limiter, alert)
            missed += out
        await self.raise_alerts(emit, missed)
        for delivery in self.dispatcher.tick(now_ms, self.limiter):
            self.deliver(delivery)
