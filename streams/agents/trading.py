"""Trading agents: thin Faust wrappers over the sizing, execution and positions processors.

Topology (all account-keyed streams have the account family's partition count, so one account's tables,
inbox, orders, fills, positions, ledger and risk records live on one partition):
- `route_signals` / `route_inputs` fan `signals` and `shard.inputs` out to every
  configured account on the internal `<app id>-trading-inbox` topic;
- `sizing` consumes inbox, fills, positions, ledger, risk.state → orders, risk.state;
- `execution` consumes orders, inbox (books) and risk.state (the operator's reset of a blocked
  account) → fills, alerts, risk.state, unwind orders;
- `positions` consumes fills, inbox (marks, final states) and ledger → positions,
  ledger, alerts, exit signals (into the inbox).

Crash safety: for every record the outputs are sent and their delivery awaited
before the processor state is written to its changelog-backed table. A worker
killed in between re-processes the record and re-sends the same deterministic
ids, which every consumer deduplicates; it never loses one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import faust
import structlog

from schemas.enums import RiskKind, TradingMode, Venue
from schemas.records import (
    Alert,
    Fill,
    LedgerEntry,
    Order,
    OrderStatus,
    PositionEvent,
    RiskEvent,
    ShardInput,
    Signal,
)
from schemas.topics import Family, partitions
from streams.agents.live import PolymarketLive
from streams.app import app, settings
from streams.codecs import AVRO, UTF8
from streams.deadletter import good_records, send_dead_letter
from streams.topics import topic
from streams.config_file import load as load_config
from streams.trading.execution_processor import ExecutionProcessor
from streams.trading.execution_shell import ExecutionShell
from streams.trading.market_view import MarketBooks, market_key, observe_book
from streams.trading.positions_processor import PositionsProcessor
from streams.trading.risk import OPERATOR_KILL_FILE, risk_event
from streams.trading.sizing_processor import SizingProcessor
from telemetry.meter import observe_trading

log = structlog.get_logger(__name__)

ACCOUNT_PARTITIONS = partitions(Family.ACCOUNT)
CONFIG = load_config().trading  # arbees.toml or ARBEES_CONFIG, accounts scoped by ARBEES_ACCOUNTS
KILL_FILE = Path(os.environ.get("ARBEES_KILL_FILE", ".stack/KILL"))
INBOX = f"{settings.app_id}-trading-inbox"


def _channel(*names: str) -> faust.TopicT:
    """Account-keyed topics as one channel; internal so the inbox is created by the worker."""
    return app.topic(*names, partitions=ACCOUNT_PARTITIONS, internal=True, key_serializer=UTF8, value_serializer=AVRO)


inbox = _channel(INBOX)


def _table(name: str) -> Any:
    """A changelog-backed table of processor state (pickled dataclasses: internal, never a contract)."""
    return app.Table(name, partitions=ACCOUNT_PARTITIONS, key_serializer=UTF8, value_serializer="pickle")


sizing_table = _table("trading-sizing")
execution_table = _table("trading-execution")
handled_table = _table("trading-handled-orders")  # order id → outcome; the dedupe set
books_table = _table("trading-books")  # "<account>|<venue:market>" → MarketBooks
positions_table = _table("trading-positions")

sizing_processor = SizingProcessor(CONFIG, settings.mode)
positions_processor = PositionsProcessor(CONFIG)
_live: dict[Venue, Any] | None = None


def _live_venues() -> dict[Venue, Any]:
    """Built once, on first use, and only when every live switch is on (streams.agents.live)."""
    global _live
    if _live is None:
        from streams.agents.live import live_venues

        _live = live_venues(settings)
    return _live


def execution_processor() -> ExecutionProcessor:
    return ExecutionProcessor(CONFIG, frozenset(_live_venues()))


def kill_file_on() -> bool:
    return KILL_FILE.exists()


# ------------------------------------------------------------------- emitting


def _destination(account: str, out: Any) -> tuple[faust.TopicT, str]:
    if isinstance(out, Order):
        return topic("orders"), out.account
    if isinstance(out, (Fill, OrderStatus)):
        return topic("fills"), out.account
    if isinstance(out, PositionEvent):
        return topic("positions"), out.account
    if isinstance(out, LedgerEntry):
        return topic("ledger"), out.account
    if isinstance(out, RiskEvent):
        return topic("risk.state"), out.account
    if isinstance(out, Alert):
        return topic("alerts"), out.dedupe_key
    if isinstance(out, Signal):
        return inbox, account  # exit signals go back through sizing
    raise TypeError(f"no topic for output {type(out).__name__}")


async def emit(account: str, outputs: list[Any]) -> None:
    """Send every record output now (not attached to the offset commit) and wait until the broker has them."""
    futures = []
    for out in outputs:
        dest, key = _destination(account, out)
        futures.append(await dest.send(key=key, value=out, force=True))
        observe_trading(out)
    for fut in futures:
        await fut


async def _each(stream: faust.StreamT, service: str, handle: Callable[[str, Any], Awaitable[None]]) -> None:
    async for event, record in good_records(stream, service):
        account = event.key if isinstance(event.key, str) else ""
        try:
            await handle(account, record)
        except Exception as exc:  # noqa: BLE001 - routed to deadletter with the reason; the agent keeps running
            log.error("trading record failed", service=service, error=f"{type(exc).__name__}: {exc}")
            await send_dead_letter(event, f"{type(exc).__name__}: {exc}", service)


# -------------------------------------------------------------------- routers


@app.agent(topic("signals"))
async def route_signals(stream: faust.StreamT) -> None:
    async def handle(_: str, record: Any) -> None:
        if isinstance(record, Signal) and CONFIG.trades(record.event_id):
            futures = [await inbox.send(key=acc, value=record, force=True) for acc in CONFIG.accounts]
            for fut in futures:
                await fut

    await _each(stream, "trading.route", handle)


@app.agent(topic("shard.inputs"))
async def route_inputs(stream: faust.StreamT) -> None:
    async def handle(_: str, record: Any) -> None:
        if not isinstance(record, ShardInput) or not CONFIG.trades(record.event_id):
            return
        if record.quote is not None or record.state is not None:
            futures = [await inbox.send(key=acc, value=record, force=True) for acc in CONFIG.accounts]
            for fut in futures:
                await fut

    await _each(stream, "trading.route", handle)


# --------------------------------------------------------------------- sizing


@app.agent(_channel(INBOX, "fills", "positions", "ledger", "risk.state"))
async def sizing(stream: faust.StreamT) -> None:
    async def handle(account: str, record: Any) -> None:
        if not account:
            return
        state = sizing_table.get(account) or sizing_processor.initial(account)
        outputs: list[Any] = []
        if isinstance(record, Signal) and kill_file_on() and not state.risk.killed:
            kill = risk_event(state.risk, RiskKind.KILL_SWITCH, OPERATOR_KILL_FILE, f"kill file {KILL_FILE} exists", record.ts, ref=str(KILL_FILE))
            state, more = sizing_processor.step(state, kill)
            outputs += [kill, *more]
        state, more = sizing_processor.step(state, record)
        outputs += more
        await emit(account, outputs)
        sizing_table[account] = state

    await _each(stream, "trading.sizing", handle)


# ------------------------------------------------------------------ execution


class _TableView:
    def __init__(self, account: str) -> None:
        self.account = account

    def handled(self, order_id: str) -> str | None:
        value = handled_table.get(order_id)
        return str(value) if value is not None else None

    def books(self, key: str) -> MarketBooks | None:
        value = books_table.get(f"{self.account}|{key}")
        return value if isinstance(value, MarketBooks) else None


@app.agent(_channel("orders", INBOX, "risk.state"))
async def execution(stream: faust.StreamT) -> None:
    shell = ExecutionShell(execution_processor(), _live_venues, execution_table, handled_table, emit, app.producer.flush)

    async def handle(account: str, record: Any) -> None:
        if not account or not isinstance(record, (Order, ShardInput, RiskEvent)):
            return
        if isinstance(record, ShardInput) and record.quote is not None:
            q = record.quote
            key = f"{account}|{market_key(q.venue, q.market_id)}"
            books_table[key] = observe_book(books_table.get(key), market_key(q.venue, q.market_id), q, record.listing,
                                            record.link, CONFIG.paper.book_history)
        view = _TableView(account)
        kill = isinstance(record, Order) and kill_file_on() and view.handled(record.order_id) is None
        await shell.run(account, record, view, refuse=f"kill switch: {KILL_FILE} exists" if kill else "")

    await _each(stream, "trading.execution", handle)


HEARTBEAT_INTERVAL_S = 5.0  # Polymarket cancels every resting order ~10 s after the last beat


@app.timer(interval=HEARTBEAT_INTERVAL_S)
async def polymarket_live() -> None:
    """Live Polymarket bookkeeping: fills from the trades endpoint (MATCHED booked, FAILED reversed),
    FILLED statuses, and the heartbeat dead-man switch while orders rest. Nothing in paper mode."""
    if settings.mode is not TradingMode.LIVE:
        return
    venue = _live_venues().get(Venue.POLYMARKET)
    if not isinstance(venue, PolymarketLive):
        return
    for rec in await venue.tend(int(time.time() * 1000)):
        await emit(getattr(rec, "account", ""), [rec])


# ------------------------------------------------------------------ positions


@app.agent(_channel("fills", INBOX, "ledger"))
async def positions(stream: faust.StreamT) -> None:
    async def handle(account: str, record: Any) -> None:
        if not account or not isinstance(record, (Fill, ShardInput, LedgerEntry)):
            return
        state = positions_table.get(account) or positions_processor.initial(account)
        state, outputs = positions_processor.step(state, record)
        await emit(account, outputs)
        positions_table[account] = state

    await _each(stream, "trading.positions", handle)
