"""Execution catching up a backlog on the recorded session: orders read after newer market data still fill.

A worker catching up (after a crash, a lag) runs sizing and execution side by side on the same
inbox; execution only reads market data, so it runs ahead and reads each order, which sizing
writes on another topic, after the later books of its market. The recorded session's Kalshi
markets quote about once a second (up to 52 books in 30 s): with a history of 16 books per
market, an order read 20 s of market time late found its book dropped and was rejected ("no
longer held"), and a run of such rejections trips the execution-error breaker. The history is
bounded by event time (the stale-signal limit, how far behind the account's time sizing still
trades a signal), so every order read within it gets exactly the fills it gets read in order.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ops.backtest.inprocess import BacktestConfig, BacktestResult, InProcessEngine
from ops.sessions.replay import load_session
from schemas.records import Fill, OrderStatus, ShardInput
from streams.local import run_now
from streams.topology import Facts
from streams.trading.stages import Stages

SESSION = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3"
ACCOUNT = BacktestConfig().account


@dataclass
class Catching:
    """One stage's context: its tables and what it emitted (no broker, nothing waits)."""

    key: str
    facts: Facts = field(default_factory=Facts)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    out: list[Any] = field(default_factory=list)

    def table(self, name: str) -> MutableMapping[str, Any]:
        return self.tables.setdefault(name, {})

    async def emit(self, outputs: list[Any]) -> None:
        self.out += outputs

    async def flush(self) -> None:
        return None


@pytest.fixture(scope="module")
def in_order() -> BacktestResult:
    """The session's in-process run: every order read by execution before any later market data."""
    result = InProcessEngine(BacktestConfig()).run(load_session(SESSION))
    assert len(result.orders) >= 8, "the session trades: the test needs its orders"
    return result


def outcomes(records: list[Any]) -> dict[str, list[Any]]:
    """Fills and statuses per order id, in emission order."""
    by: dict[str, list[Any]] = {}
    for r in records:
        if isinstance(r, (Fill, OrderStatus)):
            by.setdefault(r.order_id, []).append(r)
    return by


def catch_up(result: BacktestResult, lag_ms: int, ctx: Catching | None = None) -> list[Any]:
    """Execution alone on the run's market data and orders, each order read only once market data
    `lag_ms` of event time past it has been read (the other shape a worker's read order can take)."""
    stages = Stages(BacktestConfig().trading())
    ctx = ctx or Catching(ACCOUNT)
    market: list[ShardInput] = [s for s in result.shard_inputs if s.quote is not None]
    i = 0
    for order in sorted(result.orders, key=lambda o: o.ts):
        while i < len(market) and market[i].ts <= order.ts + lag_ms:
            run_now(stages.execution(ctx, market[i]))
            i += 1
        run_now(stages.execution(ctx, order))
    for rec in market[i:]:
        run_now(stages.execution(ctx, rec))
    return ctx.out


def test_in_order_the_reorder_changes_nothing(in_order: BacktestResult) -> None:
    """The driver itself: with no lag, execution alone gives the engine's fills and statuses."""
    assert outcomes(catch_up(in_order, 0)) == outcomes(in_order.fills)


def test_orders_read_behind_the_market_fill_as_they_do_in_order(in_order: BacktestResult) -> None:
    want = outcomes(in_order.fills)
    assert sum(isinstance(r, Fill) for r in in_order.fills) >= 6
    lag = BacktestConfig().trading().risk.stale_signal_ms * 2 // 3  # 20 s: within the stale-signal limit
    got = outcomes(catch_up(in_order, lag))
    rejected = [s.reason for rs in got.values() for s in rs if isinstance(s, OrderStatus) and s.state.value == "REJECTED"]
    assert rejected == []
    assert got == want


def test_the_history_is_bounded_by_event_time(in_order: BacktestResult) -> None:
    """What the bound keeps on the session: each market's books of the window, and one before it (53 at
    most, in the busiest 30 s of the NYK market)."""
    window = BacktestConfig().trading().book_window_ms
    stages, ctx = Stages(BacktestConfig().trading()), Catching(ACCOUNT)
    most: dict[str, int] = {}
    for rec in in_order.shard_inputs:
        if rec.quote is not None:
            run_now(stages.execution(ctx, rec))
            for key, mb in ctx.tables["trading-book-history"].items():
                latest = mb.books[-1].ts
                assert all(b.ts >= latest - window for b in mb.books[1:]), key
                most[key] = max(most.get(key, 0), len(mb.books))
    assert sorted(most.values()) == [2, 45, 53]


def test_an_order_read_later_than_the_window_is_rejected_saying_so(in_order: BacktestResult) -> None:
    """Past the window the book may be gone: the order gets a terminal status at once, with the reason."""
    lag = 3 * BacktestConfig().trading().book_window_ms
    got = outcomes(catch_up(in_order, lag))
    reasons = [s.reason for rs in got.values() for s in rs if isinstance(s, OrderStatus) and s.state.value == "REJECTED"]
    assert reasons and all("no longer held" in r and "of market time late" in r for r in reasons)
    assert set(got) == {o.order_id for o in in_order.orders}  # every order has its status
