"""Execution's shell over the Kalshi simulator: an exception after a live submit blocks only that
account with nothing left `submitting`, and failed lookups are retried a bounded number of times
on the account's later records, with backoff in event time, never by sleeping in a handler."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.simulator import KalshiSimulator
from schemas.enums import OrderState, RiskKind, Severity, Venue
from schemas.records import Alert, OrderStatus, RiskEvent
from streams.agents import live
from streams.trading.execution_processor import (
    BLOCK_RULE,
    RECONCILE_ATTEMPTS,
    ExecState,
    ExecutionProcessor,
    Reconcile,
    SubmitOutcome,
    backoff_ms,
)
from streams.trading.execution_shell import ExecutionShell
from streams.trading.risk import OPERATOR_RESET
from tests.unit.trading import recorded_game as game
from tests.unit.trading.test_execution import View, view_with_books
from tests.unit.trading.test_live_kalshi import ACCOUNT, kalshi_venue, live_order

OTHER = "acct-8"


class Broker:
    """Stands in for the producer: keeps what was sent; `fail_after` sends succeed, then it raises (made up)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.fail_after: int | None = None

    async def emit(self, account: str, records: list[Any]) -> None:
        for r in records:
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                raise ConnectionError("broker unreachable")
            self.sent.append((account, r))

    async def flush(self) -> None:
        return None


@pytest.fixture()
def requested() -> Iterator[None]:
    live.request_live()
    yield
    live._requested = False


@pytest.fixture()
async def sim(key_pem: bytes) -> AsyncIterator[KalshiSimulator]:
    async with KalshiSimulator(public_key_pem=KalshiSigner.from_pem("test-key", key_pem).public_key_pem()) as s:
        yield s


def shell_over(venues: dict[Venue, Any], broker: Broker) -> tuple[ExecutionShell, dict[str, ExecState], View]:
    states: dict[str, ExecState] = {}
    view = view_with_books()
    shell = ExecutionShell(ExecutionProcessor(live_venues=frozenset(venues)), lambda: venues, states,
                           view.handled_ids, broker.emit, broker.flush)
    return shell, states, view


async def test_an_exception_after_a_live_submit_blocks_only_that_account_and_leaves_nothing_submitting(
        requested: None, sim: KalshiSimulator, key_file: Path) -> None:
    venue = kalshi_venue(sim, key_file)
    broker = Broker()
    shell, states, view = shell_over({Venue.KALSHI: venue}, broker)
    order = live_order()
    broker.fail_after = 0  # the venue took the order, then the broker is gone before its status is out
    with pytest.raises(ConnectionError):
        await shell.run(ACCOUNT, order, view)  # re-raised: the agent dead-letters the input with the reason
    assert len(sim.orders) == 1  # it did reach the venue
    assert view.handled_ids[order.order_id] == OrderState.UNKNOWN.value  # not `submitting` forever
    st = states[ACCOUNT]
    assert st.blocked_by == (order.order_id,) and st.inflight == {}
    [retry] = st.retries
    assert retry.attempts == 1 and retry.due_ts == order.ts + backoff_ms(1)

    broker.fail_after = None
    # the account is blocked: a new order of it is refused, not sent
    await shell.run(ACCOUNT, live_order("sig-78:0", ts=order.ts + 1_000), view)
    assert len(sim.orders) == 1
    assert [r.state for a, r in broker.sent if isinstance(r, OrderStatus)] == [OrderState.REJECTED]
    # ... while another account trades on
    await shell.run(OTHER, live_order("sig-79:0", account=OTHER, ts=order.ts + 1_000), view)
    assert len(sim.orders) == 2 and states[OTHER].blocked_by == ()

    # once the backoff has run out in event time, the account's next record looks the order up
    broker.sent.clear()
    await shell.run(ACCOUNT, game.quote_input(game.GB, order.ts + backoff_ms(1)), view)
    assert states[ACCOUNT].blocked_by == () and states[ACCOUNT].retries == ()
    statuses = [r for a, r in broker.sent if isinstance(r, OrderStatus)]
    assert [(s.account, s.state, s.order_id) for s in statuses] == [(ACCOUNT, OrderState.RESTING, order.order_id)]
    assert len(sim.orders) == 2  # looked up by client order id, never resubmitted
    await venue.trading.rest.aclose()


async def test_a_failed_block_alert_still_leaves_the_account_blocked(
        requested: None, sim: KalshiSimulator, key_file: Path) -> None:
    venue = kalshi_venue(sim, key_file)
    broker = Broker()
    shell, states, view = shell_over({Venue.KALSHI: venue}, broker)
    broker.fail_after = 0
    with pytest.raises(ConnectionError):
        await shell.run(ACCOUNT, live_order(), view)
    assert states[ACCOUNT].blocked_by == ("sig-77:0",) and view.handled_ids["sig-77:0"] == "UNKNOWN"
    await venue.trading.rest.aclose()


async def test_failed_lookups_are_bounded_backed_off_in_event_time_and_never_sleep() -> None:
    """Polymarket's adapter cannot look an order up by client order id: every lookup fails (real code)."""
    venue = live.PolymarketLive(client=None)
    broker = Broker()
    shell, states, view = shell_over({Venue.POLYMARKET: venue}, broker)
    order = live_order(venue=Venue.POLYMARKET)
    proc = shell.processor
    st, outs = proc.step(proc.initial(ACCOUNT), order, view)
    view.absorb(outs)
    st, outs = proc.step(st, SubmitOutcome(order, order.ts, unknown="ReadTimeout"), view)  # made-up outcome
    view.absorb(outs)
    [first] = [o for o in outs if isinstance(o, Reconcile)]
    st, _ = proc.step(st, await shell.perform(first), view)  # the first lookup, at once: fails
    states[ACCOUNT] = st
    lookups = 1

    async def lookups_made(ts: int) -> int:
        before = sum(1 for a, r in broker.sent if isinstance(r, Alert) and "lookups failed" in r.message)
        t0 = time.monotonic()
        await shell.run(ACCOUNT, game.quote_input(game.GB, ts), view)
        assert time.monotonic() - t0 < 1.0  # no sleeping inside a record
        return sum(1 for a, r in broker.sent if isinstance(r, Alert) and "lookups failed" in r.message) - before

    ts = order.ts
    for attempt in range(1, RECONCILE_ATTEMPTS):
        due = ts + backoff_ms(attempt)
        retry = states[ACCOUNT].retries[0]
        assert retry.attempts == attempt and retry.due_ts == due
        await lookups_made(due - 1)  # not yet due: no lookup
        assert states[ACCOUNT].retries[0].attempts == attempt
        await lookups_made(due)
        lookups += 1
        ts = due
    assert lookups == RECONCILE_ATTEMPTS
    [retry] = states[ACCOUNT].retries
    assert retry.attempts == RECONCILE_ATTEMPTS and retry.due_ts is None  # given up: the operator's turn
    gave_up = [r for a, r in broker.sent if isinstance(r, Alert) and "lookups failed" in r.message]
    assert len(gave_up) == 1 and gave_up[0].severity is Severity.CRITICAL and "arbees risk reset" in gave_up[0].message
    assert any(isinstance(r, RiskEvent) and r.rule == BLOCK_RULE and r.kind is RiskKind.BREAKER_TRIPPED
               for a, r in broker.sent)
    await lookups_made(ts + 10 * 3_600_000)  # hours later: still no lookup, still blocked
    assert states[ACCOUNT].retries[0].attempts == RECONCILE_ATTEMPTS and states[ACCOUNT].blocked_by == (order.order_id,)

    reset = RiskEvent("r-op", ACCOUNT, RiskKind.BREAKER_RESET, ts + 11 * 3_600_000, rule=OPERATOR_RESET,
                      reason="reconciled by hand")
    await shell.run(ACCOUNT, reset, view)
    assert states[ACCOUNT].blocked_by == () and states[ACCOUNT].retries == ()


async def test_a_failed_flush_before_the_submit_leaves_the_order_unknown_never_submitting(
        requested: None, sim: KalshiSimulator, key_file: Path) -> None:
    venue = kalshi_venue(sim, key_file)
    broker = Broker()

    async def flush_fails() -> None:
        raise ConnectionError("broker unreachable")

    broker.flush = flush_fails  # type: ignore[method-assign]
    shell, states, view = shell_over({Venue.KALSHI: venue}, broker)
    with pytest.raises(ConnectionError):
        await shell.run(ACCOUNT, live_order(), view)
    assert sim.orders == {}  # the venue never saw it
    assert view.handled_ids["sig-77:0"] == "UNKNOWN" and states[ACCOUNT].blocked_by == ("sig-77:0",)
    await venue.trading.rest.aclose()
