"""The imperative shell of execution: runs the processor's effects against live venues, safely.

The execution stage (streams/trading/stages.py, run by the Faust runner or in process) hands every
record of an account here with its tables; tests hand in dicts and a venue simulator. Order of writes for crash safety: records are sent and
awaited, then handled marks written, then (producer flushed, so the `submitting` mark is durable)
the venue is called and its answer stepped through the processor; the account's state is written
last. A lookup that fails is not retried here (no waiting inside one account's record, which would
stall every account on the partition): the processor schedules it on a later record.

An exception after a live submit leaves every order sent in the call with an unknown outcome: the
shell blocks that account (only it), writes its state and an UNKNOWN mark (never `submitting`
forever), sends the alert and risk event if the broker takes them, and re-raises so the input is
dead-lettered with its reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import structlog

from schemas.enums import Venue
from schemas.records import Order
from streams.trading.execution_processor import (
    SUBMITTING,
    ExecState,
    ExecutionProcessor,
    ExecView,
    LiveVenue,
    MarkHandled,
    Reconcile,
    ReconcileOutcome,
    Submit,
    SubmitOutcome,
    VenueRejected,
    VenueUnknown,
)

log = structlog.get_logger(__name__)

LOOKUP_TIMEOUT_S = 15.0  # one reconcile lookup; a failed one is retried on a later record, after a backoff

Emit = Callable[[str, list[Any]], Awaitable[None]]


class ExecutionShell:
    def __init__(self, processor: ExecutionProcessor, venues: Callable[[], Mapping[Venue, LiveVenue]],
                 states: MutableMapping[str, ExecState], handled: MutableMapping[str, str], emit: Emit,
                 flush: Callable[[], Awaitable[Any]], lookup_timeout_s: float = LOOKUP_TIMEOUT_S) -> None:
        self.processor = processor
        self.venues = venues
        self.states = states
        self.handled = handled
        self.emit = emit
        self.flush = flush
        self.lookup_timeout_s = lookup_timeout_s

    async def run(self, account: str, record: Any, view: ExecView, refuse: str = "") -> None:
        """Step one record of `account` and carry out its effects; `refuse` rejects an order outright."""
        state = self.states.get(account) or self.processor.initial(account)
        sent: dict[str, Order] = {}  # live orders submitted in this call whose answer is not yet written
        try:
            if refuse and isinstance(record, Order):
                state, pending = self.processor.reject(state, record, record.ts, refuse, view)
            else:
                state, pending = self.processor.step(state, record, view)
            while pending:
                pending, state = await self._round(account, state, view, list(pending), sent)
        except Exception as exc:
            if not sent:
                raise  # nothing reached a venue: the input is dead-lettered with its reason
            await self._after_fault(account, state, view, record.ts, sent, exc)
            raise
        self.states[account] = state

    async def _round(self, account: str, state: ExecState, view: ExecView, pending: list[Any],
                     sent: dict[str, Order]) -> tuple[list[Any], ExecState]:
        """One round of the effect loop: emit records, write marks, perform venue effects, step their outcomes."""
        await self.emit(account, [o for o in pending if not isinstance(o, (MarkHandled, Submit, Reconcile))])
        for mark in (o for o in pending if isinstance(o, MarkHandled)):
            self.handled[mark.order_id] = mark.outcome
            if mark.outcome != SUBMITTING:
                sent.pop(mark.order_id, None)  # its answer is out and written
        more: list[Any] = []
        for effect in (o for o in pending if isinstance(o, (Submit, Reconcile))):
            if isinstance(effect, Submit):  # from here on a failure may leave it `submitting`: it counts as sent
                sent[effect.order.order_id] = effect.order
            await self.flush()  # the `submitting` mark is durable before the venue sees the order
            outcome = await self.perform(effect)
            state, out = self.processor.step(state, outcome, view)
            more += out
        return more, state

    async def perform(self, effect: Submit | Reconcile) -> SubmitOutcome | ReconcileOutcome:
        """Venue I/O for a live effect; every failure becomes a record, never an exception, and nothing
        here waits beyond one bounded venue call."""
        venue = self.venues().get(effect.order.venue)
        if isinstance(effect, Submit):
            now = effect.order.ts
            if venue is None:
                return SubmitOutcome(effect.order, now, rejected=f"no live client for {effect.order.venue.value}")
            try:
                return SubmitOutcome(effect.order, now, answer=await venue.submit(effect.order, effect.listing))
            except VenueRejected as exc:
                return SubmitOutcome(effect.order, now, rejected=str(exc))
            except VenueUnknown as exc:
                return SubmitOutcome(effect.order, now, unknown=str(exc) or "timeout")
            except Exception as exc:  # noqa: BLE001 - the venue may have the order: unknown, never rejected
                return SubmitOutcome(effect.order, now, unknown=f"{type(exc).__name__}: {exc}")
        now = effect.ts or effect.order.ts
        if venue is None:
            return ReconcileOutcome(effect.order, now, error=f"no live client for {effect.order.venue.value}")
        try:
            answer = await asyncio.wait_for(venue.lookup(effect.order, effect.listing), self.lookup_timeout_s)
            return ReconcileOutcome(effect.order, now, answer=answer)
        except Exception as exc:  # noqa: BLE001 - a lookup changes nothing at the venue: any failure is "still unknown"
            return ReconcileOutcome(effect.order, now, error=f"{type(exc).__name__}: {exc}")

    async def _after_fault(self, account: str, state: ExecState, view: ExecView, ts: int, sent: dict[str, Order],
                           exc: Exception) -> None:
        why = f"{type(exc).__name__}: {exc}"
        log.error("execution failed after a live submit; account blocked", account=account, orders=sorted(sent), error=why)
        records: list[Any] = []
        for order in sent.values():
            state, out = self.processor.fault(state, order, ts, why, view)
            for o in out:
                if isinstance(o, MarkHandled):
                    self.handled[o.order_id] = o.outcome
                else:
                    records.append(o)
        self.states[account] = state
        try:
            await self.emit(account, records)
        except Exception as send_exc:  # noqa: BLE001 - the block is already written; the dead letter still says why
            log.critical("could not send the block alert", account=account, error=f"{type(send_exc).__name__}: {send_exc}")
