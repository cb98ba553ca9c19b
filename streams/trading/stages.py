"""The trading stages of streams/topology.py: what each does with one record, over the pure processors.

A handler gets a host `Context` (its tables, `emit`, `flush`, the sampled `Facts`) and one
record. Both hosts run these same handlers: the Faust runner (streams/agents/runner.py) and
the in-process host (streams/local.py). Crash safety is the same in both: outputs are emitted
and acknowledged before the stage's state is written, so a worker killed in between
re-processes the record and re-sends the same deterministic ids, which consumers deduplicate.

The rules that used to live in the agent shells are here, as pure functions:
`fan_out` (which accounts get a record), `size` (the operator's kill file becomes a
KILL_SWITCH risk event before a signal is sized), `track_book` (execution's book history and listing)
and `kill_refusal` (an order not yet handled is refused while the kill file exists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from schemas.enums import RiskKind, TradingMode, Venue
from schemas.records import Fill, LedgerEntry, MarketListing, Order, ShardInput, Signal
from streams.keys import account_market_key, market_key
from streams.topology import Context, Facts, ToAccount
from streams.trading import book_history, market_split
from streams.trading.config import TradingConfig
from streams.trading.execution_processor import ExecutionProcessor, LiveVenue
from streams.trading.execution_shell import ExecutionShell
from streams.trading.market_view import MarketBooks
from streams.trading.positions_processor import PositionsProcessor
from streams.trading.risk import OPERATOR_KILL_FILE, risk_event
from streams.trading.sizing_processor import SizingProcessor, SizingState

#: Per-market parts of the account states, in tables of their own (streams.trading.market_split). Sizing and
#: positions make the same top of a quote (`market_view.top_of`), so they keep one table of them: a quote writes
#: its market's top once, and the stage that runs second finds it already there.
SIZING_SPLITS = (market_split.Split("tops", "trading-tops"),)
POSITIONS_SPLITS = (market_split.Split("tops", "trading-tops"),
                    market_split.Split("links", "trading-positions-links"))

# ------------------------------------------------------------------ pure rules


def fan_out(config: TradingConfig, record: Signal | ShardInput) -> list[ToAccount]:
    """A signal, quote or event state of a traded event, once per configured account."""
    if not config.trades(record.event_id):
        return []
    if isinstance(record, ShardInput) and record.quote is None and record.state is None:
        return []  # a bare link: the quote that follows carries it
    return [ToAccount(account, record) for account in config.accounts]


def size(processor: SizingProcessor, state: SizingState, record: Any, facts: Facts) -> tuple[SizingState, list[Any]]:
    """Sizing of one record; a signal seen while the kill file exists first kills the account (once)."""
    outputs: list[Any] = []
    if isinstance(record, Signal) and facts.kill_file and not state.risk.killed:
        kill = risk_event(state.risk, RiskKind.KILL_SWITCH, OPERATOR_KILL_FILE, f"kill file {facts.kill_file} exists",
                          record.ts, ref=facts.kill_file)
        state, more = processor.step(state, kill)
        outputs += [kill, *more]
    state, more = processor.step(state, record)
    return state, outputs + more


def books_key(account: str, record: ShardInput) -> str | None:
    q = record.quote
    return None if q is None else account_market_key(account, market_key(q.venue, q.market_id))


def track_book(books: MutableMapping[str, Any], listings: MutableMapping[str, Any], key: str, record: ShardInput,
               window_ms: int) -> None:
    """Execution's history of one market's books with the quote of `record` added, and its listing when it changed
    (a quote carries the listing only when it did, streams.router)."""
    q = record.quote
    assert q is not None
    books[key] = book_history.record(books.get(key), market_key(q.venue, q.market_id), q, window_ms)
    if record.listing is not None and listings.get(key) != record.listing:
        listings[key] = record.listing


def kill_refusal(record: Any, facts: Facts, handled: str | None) -> str:
    """Why an order is refused outright (empty: it is not): a new order while the kill file exists."""
    if isinstance(record, Order) and facts.kill_file and handled is None:
        return f"kill switch: {facts.kill_file} exists"
    return ""


class TableView:
    """Execution's read-only lookups (streams.trading.execution_processor.ExecView) over its tables."""

    def __init__(self, account: str, handled: Mapping[str, Any], books: Mapping[str, Any],
                 listings: Mapping[str, Any]) -> None:
        self.account = account
        self._handled = handled
        self._books = books
        self._listings = listings

    def handled(self, order_id: str) -> str | None:
        value = self._handled.get(order_id)
        return str(value) if value is not None else None

    def books(self, key: str) -> MarketBooks | None:
        at = account_market_key(self.account, key)
        value = self._books.get(at)
        if not isinstance(value, book_history.BookHistory):
            return None
        listing = self._listings.get(at)
        return book_history.view(value, listing if isinstance(listing, MarketListing) else None)


# ------------------------------------------------------------------ handlers


class Stages:
    """The handlers of the trading stages, built once per host from the one configuration."""

    def __init__(self, config: TradingConfig, mode: TradingMode = TradingMode.PAPER,
                 venues: Callable[[], Mapping[Venue, LiveVenue]] | None = None) -> None:
        self.config = config
        self.venues = venues or dict
        self.sizing_processor = SizingProcessor(config, mode)
        self.positions_processor = PositionsProcessor(config)
        self._execution: ExecutionProcessor | None = None

    @property
    def execution_processor(self) -> ExecutionProcessor:
        """Built on first use: the live venue set is known only once the live switches are read."""
        if self._execution is None:
            self._execution = ExecutionProcessor(self.config, frozenset(self.venues()))
        return self._execution

    def ours(self, account: str) -> bool:
        """Whether this worker trades `account` (ARBEES_ACCOUNTS / the file's `accounts`). The account-keyed topics
        (orders, fills, ledger, positions, risk.state) carry every deployment's accounts on a shared broker: another
        one's records are its own workers' business. Executed here, a paper worker once answered a live worker's
        order with its own REJECTED status ("live trading ... is not enabled on this worker")."""
        return account in self.config.accounts

    async def route(self, ctx: Context, record: Signal | ShardInput) -> None:
        await ctx.emit(list(fan_out(self.config, record)))

    async def sizing(self, ctx: Context, record: Any) -> None:
        if not self.ours(ctx.key):
            return
        table = ctx.table("trading-sizing")
        stored = table.get(ctx.key) or self.sizing_processor.initial(ctx.key)
        loaded = market_split.load(stored, SIZING_SPLITS, ctx.table, ctx.key, self.sizing_processor.markets(record))
        state, outputs = size(self.sizing_processor, loaded, record, ctx.facts)
        await ctx.emit(outputs)
        self._store(ctx, "trading-sizing", SIZING_SPLITS, stored, loaded, state)

    async def execution(self, ctx: Context, record: Any) -> None:
        if not self.ours(ctx.key):
            return
        books, listings = ctx.table("trading-book-history"), ctx.table("trading-listings")
        handled = ctx.table("trading-handled-orders")
        if isinstance(record, ShardInput) and (key := books_key(ctx.key, record)) is not None:
            track_book(books, listings, key, record, self.config.book_window_ms)
        view = TableView(ctx.key, handled, books, listings)
        refuse = kill_refusal(record, ctx.facts, view.handled(record.order_id) if isinstance(record, Order) else None)

        async def emit(_: str, outputs: list[Any]) -> None:
            await ctx.emit(outputs)

        shell = ExecutionShell(self.execution_processor, self.venues, ctx.table("trading-execution"), handled, emit, ctx.flush)
        await shell.run(ctx.key, record, view, refuse=refuse)

    async def positions(self, ctx: Context, record: Fill | ShardInput | LedgerEntry) -> None:
        if not self.ours(ctx.key):
            return
        table: MutableMapping[str, Any] = ctx.table("trading-positions")
        stored = table.get(ctx.key) or self.positions_processor.initial(ctx.key)
        markets = self.positions_processor.markets(stored, record)
        loaded = market_split.load(stored, POSITIONS_SPLITS, ctx.table, ctx.key, markets)
        state, outputs = self.positions_processor.step(loaded, record)
        await ctx.emit(outputs)
        self._store(ctx, "trading-positions", POSITIONS_SPLITS, stored, loaded, state)

    @staticmethod
    def _store(ctx: Context, name: str, splits: tuple[market_split.Split, ...], stored: Any, loaded: Any,
               state: Any) -> None:
        """The step's changed markets to their tables, the account's state to `name` when it changed."""
        account_state = market_split.store(stored, loaded, state, splits, ctx.table, ctx.key)
        if account_state is not None:
            ctx.table(name)[ctx.key] = account_state
