"""The trading loop in one process: sizing → execution → positions → ledger, as the agents wire it.

Used by the fast backtest path and by tests. It routes every output exactly as the
Faust agents do (orders to execution, fills to sizing and positions, ledger entries
back to both, exit signals back to sizing), in one deterministic order, and keeps
each topic's records in `log` so a test can read what the topics would hold.
Live effects (`Submit`, `Reconcile`) are handed to an optional async-free
`live` callable; in paper mode there is none and a live effect is an error.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from schemas.enums import TradingMode
from schemas.records import Alert, Fill, LedgerEntry, Order, OrderStatus, PositionEvent, RiskEvent, ShardInput, Signal
from streams.trading.config import TradingConfig
from streams.trading.execution_processor import (
    ExecState,
    ExecutionProcessor,
    MarkHandled,
    Reconcile,
    ReconcileOutcome,
    Submit,
    SubmitOutcome,
)
from streams.trading.market_view import MarketBooks, market_key, observe_book
from streams.trading.positions_processor import PositionsProcessor, PositionsState
from streams.trading.sizing_processor import SizingProcessor, SizingState

LiveHandler = Callable[[Submit | Reconcile], SubmitOutcome | ReconcileOutcome]


@dataclass
class _View:
    handled_ids: dict[str, str] = field(default_factory=dict)
    market: dict[str, MarketBooks] = field(default_factory=dict)

    def handled(self, order_id: str) -> str | None:
        return self.handled_ids.get(order_id)

    def books(self, key: str) -> MarketBooks | None:
        return self.market.get(key)


class PaperOnlyError(RuntimeError):
    """A live effect reached a loop that has no live handler (paper mode)."""


@dataclass
class TradingLoop:
    config: TradingConfig = field(default_factory=TradingConfig)
    mode: TradingMode = TradingMode.PAPER
    live: LiveHandler | None = None
    log: dict[str, list[object]] = field(default_factory=lambda: {t: [] for t in (
        "orders", "fills", "positions", "ledger", "risk.state", "alerts", "signals")})

    def __post_init__(self) -> None:
        self.sizing = SizingProcessor(self.config, self.mode)
        self.execution = ExecutionProcessor(self.config)
        self.positions = PositionsProcessor(self.config)
        self.s: dict[str, SizingState] = {}
        self.e: dict[str, ExecState] = {}
        self.p: dict[str, PositionsState] = {}
        self.views: dict[str, _View] = {}

    def _states(self, account: str) -> tuple[SizingState, ExecState, PositionsState, _View]:
        if account not in self.s:
            self.s[account] = self.sizing.initial(account)
            self.e[account] = self.execution.initial(account)
            self.p[account] = self.positions.initial(account)
            self.views[account] = _View()
        return self.s[account], self.e[account], self.p[account], self.views[account]

    def feed(self, record: object, account: str | None = None) -> None:
        """One input record; market data and signals go to every account (or `account`)."""
        accounts = [account] if account else list(self.config.accounts)
        queue: deque[tuple[str, str, object]] = deque()
        for acc in accounts:
            if isinstance(record, (Signal, ShardInput)):
                queue.append((acc, "inbox", record))
            elif isinstance(record, LedgerEntry):
                queue.append((acc, "ledger", record))
            elif isinstance(record, RiskEvent):
                queue.append((acc, "risk.state", record))
            else:
                raise TypeError(f"the loop takes Signal, ShardInput, LedgerEntry or RiskEvent, not {type(record).__name__}")
        if isinstance(record, (LedgerEntry, RiskEvent)):
            self.log["ledger" if isinstance(record, LedgerEntry) else "risk.state"].append(record)
        while queue:
            acc, topic, rec = queue.popleft()
            self._route(acc, topic, rec, queue)

    def _route(self, acc: str, topic: str, rec: object, queue: deque[tuple[str, str, object]]) -> None:
        s, e, p, view = self._states(acc)
        if topic == "inbox" and isinstance(rec, ShardInput) and rec.quote is not None:
            q = rec.quote
            key = market_key(q.venue, q.market_id)
            view.market[key] = observe_book(view.market.get(key), key, q, rec.listing, rec.link, self.config.paper.book_history)
        outs: list[object] = []
        if topic in ("inbox", "fills", "positions", "ledger", "risk.state"):
            if topic != "positions" or isinstance(rec, PositionEvent):
                self.s[acc], so = self.sizing.step(s, rec)  # type: ignore[arg-type]
                outs += so
        if topic == "orders" or isinstance(rec, (SubmitOutcome, ReconcileOutcome)) or (
            topic == "inbox" and isinstance(rec, ShardInput)
        ):
            self.e[acc], eo = self.execution.step(e, rec, view)  # type: ignore[arg-type]
            outs += eo
        if topic in ("fills", "ledger") or (topic == "inbox" and isinstance(rec, ShardInput)):
            if not isinstance(rec, OrderStatus):
                self.p[acc], po = self.positions.step(self.p[acc], rec)  # type: ignore[arg-type]
                outs += po
        for out in outs:
            self._emit(acc, out, queue)

    def _emit(self, acc: str, out: object, queue: deque[tuple[str, str, object]]) -> None:
        view = self.views[acc]
        if isinstance(out, MarkHandled):
            view.handled_ids[out.order_id] = out.outcome
        elif isinstance(out, (Submit, Reconcile)):
            if self.live is None:
                raise PaperOnlyError(f"live effect {type(out).__name__} for {out.order.order_id} in a paper-only loop")
            queue.append((acc, "live", self.live(out)))
        elif isinstance(out, Order):
            self.log["orders"].append(out)
            queue.append((acc, "orders", out))
        elif isinstance(out, (Fill, OrderStatus)):
            self.log["fills"].append(out)
            queue.append((acc, "fills", out))
        elif isinstance(out, PositionEvent):
            self.log["positions"].append(out)
            queue.append((acc, "positions", out))
        elif isinstance(out, LedgerEntry):
            self.log["ledger"].append(out)
            queue.append((acc, "ledger", out))
        elif isinstance(out, RiskEvent):
            self.log["risk.state"].append(out)
        elif isinstance(out, Alert):
            self.log["alerts"].append(out)
        elif isinstance(out, Signal):
            self.log["signals"].append(out)
            queue.append((acc, "inbox", out))
        else:
            raise TypeError(f"unroutable output {type(out).__name__}")
