"""Execution, per account: orders in, fills and statuses out, pure; venue I/O is an effect.

Effectively once: an order id already handled is refused (the agent keeps the
handled ids in a changelog-backed table). Paper orders (the default) fill in the
paper engine. Live orders become a `Submit` effect that the agent performs through
an injected `LiveVenue`; its answer comes back as a `SubmitOutcome` record. The
handled mark `submitting` is written before the submit, so an order found
`submitting` after a restart has an unknown outcome: the account is blocked and a
`Reconcile` effect looks the order up by its client order id. Nothing here ever
resubmits an order whose outcome is unknown. A lookup that fails is retried with
backoff in event time, on the account's own later records (never by waiting
inside one), at most `RECONCILE_ATTEMPTS` times; then the account stays blocked,
with a critical alert, until the operator's `arbees risk reset` says the order
was reconciled by hand.

Arbitrage legs share a group id (which carries the leg count). When every leg is
terminal, a leg that filled more than the others is unwound: a SELL of the excess
at the best bid minus a band, recorded as an Alert and a RiskEvent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from schemas.enums import Action, OrderState, RiskKind, Severity, TimeInForce, TradingMode, Venue
from schemas.records import Alert, Fill, MarketListing, Order, OrderStatus, Quote, RiskEvent, ShardInput
from streams.fees import FeeSchedule
from streams.fees.fixed import FeeError
from streams.trading import paper_engine
from streams.trading.config import TradingConfig
from streams.trading.ids import legs_in_group, stable_id, unwind_order_id
from streams.trading.market_view import MarketBooks, held_from, market_key
from streams.trading.risk import OPERATOR_RESET
from streams.trading.units import Contracts, Micros

SUBMITTING = "submitting"
TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})
RECONCILE_ATTEMPTS = 6  # lookups of one unknown order before the account waits for the operator
RECONCILE_BACKOFF_MS = 5_000  # event time before the 2nd lookup; doubles each time
RECONCILE_BACKOFF_MAX_MS = 300_000
BLOCK_RULE = "execution.unknown_outcome"


class VenueRejected(Exception):
    """The venue refused the order (its outcome is known: nothing was placed)."""


class VenueUnknown(Exception):
    """The outcome is not known (timeout, dropped connection): reconcile, never resubmit."""


@dataclass(frozen=True)
class LiveAnswer:
    status: OrderStatus
    fills: tuple[Fill, ...] = ()


class LiveVenue(Protocol):
    """A live trading client, as execution needs it. Built only in live mode (streams.agents)."""

    async def submit(self, order: Order, listing: MarketListing | None) -> LiveAnswer: ...

    async def lookup(self, order: Order, listing: MarketListing | None) -> LiveAnswer | None:
        """The venue's view of `order`, found by its client order id; None if the venue never saw it."""
        ...


# --------------------------------------------------------------- effects and inputs


@dataclass(frozen=True)
class Submit:
    order: Order
    listing: MarketListing | None


@dataclass(frozen=True)
class Reconcile:
    order: Order
    listing: MarketListing | None = None
    ts: int = 0  # event time of the record that asked for this lookup


@dataclass(frozen=True)
class MarkHandled:
    order_id: str
    outcome: str


@dataclass(frozen=True)
class SubmitOutcome:
    order: Order
    ts: int
    answer: LiveAnswer | None = None
    rejected: str = ""
    unknown: str = ""


@dataclass(frozen=True)
class ReconcileOutcome:
    order: Order
    ts: int
    answer: LiveAnswer | None = None
    error: str = ""  # the lookup itself failed: still unknown


Effect = Submit | Reconcile | MarkHandled
Output = Fill | OrderStatus | Alert | RiskEvent | Order | Effect
Record = Order | SubmitOutcome | ReconcileOutcome | ShardInput | RiskEvent


class ExecView(Protocol):
    """Read-only lookups the agent answers from its tables."""

    def handled(self, order_id: str) -> str | None: ...

    def books(self, key: str) -> MarketBooks | None: ...


@dataclass(frozen=True)
class LegResult:
    order: Order
    filled: Contracts


@dataclass(frozen=True)
class Retry:
    """An unknown order's lookups so far and the event time the next one is due (None: given up)."""

    order: Order
    attempts: int
    due_ts: int | None


@dataclass(frozen=True)
class ExecState:
    account: str
    blocked_by: tuple[str, ...] = ()  # order ids whose outcome is unknown
    inflight: dict[str, Order] = field(default_factory=dict)  # live submits awaiting their answer
    groups: dict[str, dict[str, LegResult]] = field(default_factory=dict)
    parked: dict[str, Order] = field(default_factory=dict)  # paper orders waiting for the book as of their time
    #: The latest event time of the market data read (inputs of one event arrive in order): every
    #: book up to it is known, so a paper order at t fills once this passes t + latency.
    watermark: int = 0
    retries: tuple[Retry, ...] = ()  # lookups of blocked orders, each with its next attempt (streams.state_codec stores it)


def backoff_ms(attempts: int) -> int:
    """Event time between a failed lookup (the `attempts`-th) and the next one."""
    return min(RECONCILE_BACKOFF_MS * 2 ** max(attempts - 1, 0), RECONCILE_BACKOFF_MAX_MS)


def _alert(order: Order, severity: Severity, message: str, ts: int, topic: str) -> Alert:
    return Alert(alert_id=f"a-{stable_id(order.order_id, topic, ts)[:24]}", dedupe_key=f"execution:{topic}:{order.account}",
                 severity=severity, ts=ts, service="execution", message=message)


def _block_event(order: Order, ts: int, reason: str) -> RiskEvent:
    """The account's block on an unknown order, on `risk.state` where the operator and the sink see it."""
    return RiskEvent(risk_id=f"r-{stable_id(order.account, BLOCK_RULE, order.order_id, reason, ts)[:24]}",
                     account=order.account, kind=RiskKind.BREAKER_TRIPPED, ts=ts, rule=BLOCK_RULE, reason=reason,
                     ref=order.order_id)


def _status(order: Order, state: OrderState, ts: int, reason: str) -> OrderStatus:
    return paper_engine.status_of(order, state, ts, Contracts(0), None, reason)


class ExecutionProcessor:
    def __init__(self, config: TradingConfig | None = None, live_venues: frozenset[Venue] = frozenset()) -> None:
        self.config = config or TradingConfig()
        self.live_venues = live_venues

    def initial(self, account: str) -> ExecState:
        return ExecState(account=account)

    def step(self, state: ExecState, record: Record, view: ExecView) -> tuple[ExecState, list[Output]]:
        if isinstance(record, SubmitOutcome):
            return self._submitted(state, record, view)
        if isinstance(record, ReconcileOutcome):
            return self._reconciled(state, record, view)
        state, due = self._due_lookups(state, record.ts, view)
        if isinstance(record, Order):
            state, out = self._order(state, record, view)
        elif isinstance(record, ShardInput):
            state, out = self._market(state, record, view)
        elif isinstance(record, RiskEvent):
            state, out = self._operator(state, record)
        else:
            raise TypeError(f"execution cannot step a {type(record).__name__}")
        return state, due + out

    # ---------------------------------------------------------------- orders

    def _order(self, state: ExecState, order: Order, view: ExecView) -> tuple[ExecState, list[Output]]:
        done = view.handled(order.order_id)
        if done == SUBMITTING and order.order_id not in state.inflight and order.order_id not in state.blocked_by:
            return self._unknown(state, order, order.ts, "worker restarted while the submit was in flight", view)
        if done is not None or order.order_id in state.parked:
            return state, []  # already handled (or waiting for its book): refused, whatever the replay
        if state.blocked_by:
            reason = f"account {state.account} blocked until order(s) {', '.join(state.blocked_by)} are reconciled"
            return self._reject(state, order, order.ts, reason, view)
        if order.mode is TradingMode.LIVE:
            if order.venue not in self.live_venues:
                return self._reject(state, order, order.ts, f"live trading on {order.venue.value} is not enabled on this worker", view)
            books = view.books(market_key(order.venue, order.market_id))
            inflight = {**state.inflight, order.order_id: order}
            return replace(state, inflight=inflight), [MarkHandled(order.order_id, SUBMITTING),
                                                         Submit(order, books.listing if books else None)]
        return self._paper(state, order, view)

    def _paper(self, state: ExecState, order: Order, view: ExecView) -> tuple[ExecState, list[Output]]:
        books = view.books(market_key(order.venue, order.market_id))
        latency = self.config.paper.latency_ms
        at = order.ts + latency
        book = paper_engine.book_as_of(books.history, at) if books else None
        if order.order_id not in state.parked and self._may_still_come(state, books, book, at):
            # the book as of order time + latency is not known yet: market data comes on another topic and
            # may still be on its way (a book at the same instant, or the market's first). Wait for it, in
            # event time, so the fill is the same whichever topic a worker happened to read first.
            return replace(state, parked={**state.parked, order.order_id: order}), []
        state = replace(state, parked={k: v for k, v in state.parked.items() if k != order.order_id})
        if book is None and books is not None and self._evicted(books, at):
            latest, window = books.history[-1].ts, self.config.book_window_ms
            return self._reject(state, order, at, f"paper: the book as of {at} is no longer held (history from "
                                                  f"{books.history[0].ts}, {window} ms before the latest book): the "
                                                  f"order was read {latest - at} ms of market time late", view)
        fees: FeeSchedule | None = None
        if books is not None and books.listing is not None:
            try:
                fees = FeeSchedule.from_listing(books.listing)
            except FeeError as exc:
                return self._reject(state, order, at, f"paper: {exc}", view)
        result = paper_engine.execute(order, book, fees, latency)
        return self._finished(state, order, result.status, result.fills, view)

    def _may_still_come(self, state: ExecState, books: MarketBooks | None, book: Quote | None, at: int) -> bool:
        """Whether market data still to be read can change this order's book as of `at`.

        Until data past `at` is read, a book of that instant may come. After it, a market with no
        book yet may still get its first from another shard partition, for up to the wait; a book
        the bounded history has already dropped never comes back, nor does anything past the wait.
        """
        if state.watermark <= at:
            return True
        if book is not None:
            return False
        gone = books is not None and self._evicted(books, at)
        return not gone and state.watermark <= at + self.config.paper.max_book_wait_ms

    def _evicted(self, books: MarketBooks, at: int) -> bool:
        """`at` is older than the history's window and its first book: the book of that time was dropped."""
        held = held_from(books, self.config.book_window_ms)
        return held is not None and at < held

    def _market(self, state: ExecState, rec: ShardInput, view: ExecView) -> tuple[ExecState, list[Output]]:
        """Market data: fill parked orders whose book is now known; reject those that waited too long."""
        out: list[Output] = []
        wait = self.config.paper.max_book_wait_ms
        state = replace(state, watermark=max(state.watermark, rec.ts))
        for oid, order in sorted(state.parked.items()):
            books = view.books(market_key(order.venue, order.market_id))
            at = order.ts + self.config.paper.latency_ms
            ready = books is not None and rec.ts > at and (paper_engine.book_as_of(books.history, at) is not None
                                                           or self._evicted(books, at))
            if ready or rec.ts > at + wait:
                state, more = self._paper(replace(state, parked={**state.parked, oid: order}), order, view)
                out += more
        return state, out

    def _finished(self, state: ExecState, order: Order, status: OrderStatus, fills: tuple[Fill, ...],
                  view: ExecView) -> tuple[ExecState, list[Output]]:
        out: list[Output] = [*fills, status, MarkHandled(order.order_id, status.state.value)]
        if status.state is OrderState.REJECTED:
            out.append(_alert(order, Severity.ERROR, f"order {order.order_id} rejected: {status.reason}", status.ts, "rejected"))
        if order.group_id and status.state in TERMINAL:
            state, more = self._leg_done(state, order, Contracts.of(status.filled_count), status.ts, view)
            out += more
        return state, out

    def reject(self, state: ExecState, order: Order, ts: int, reason: str, view: ExecView) -> tuple[ExecState, list[Output]]:
        """Refuse an order outright (the agent's kill-file check uses this)."""
        return self._reject(state, order, ts, reason, view)

    def _reject(self, state: ExecState, order: Order, ts: int, reason: str, view: ExecView) -> tuple[ExecState, list[Output]]:
        return self._finished(state, order, _status(order, OrderState.REJECTED, ts, reason), (), view)

    def _unknown(self, state: ExecState, order: Order, ts: int, why: str, view: ExecView,
                 lookup_now: bool = True) -> tuple[ExecState, list[Output]]:
        """Block the account on `order`, say so (status, alert, risk event) and look it up: now, or
        (after a fault in processing, when more I/O would be unwise) after the first backoff."""
        blocked = tuple(dict.fromkeys((*state.blocked_by, order.order_id)))
        inflight = {k: v for k, v in state.inflight.items() if k != order.order_id}
        reason = f"outcome unknown ({why}); account blocked until reconciled by client order id"
        state = replace(state, blocked_by=blocked, inflight=inflight)
        out: list[Output] = [
            _status(order, OrderState.UNKNOWN, ts, reason),
            MarkHandled(order.order_id, OrderState.UNKNOWN.value),
            _alert(order, Severity.CRITICAL, f"order {order.order_id}: {reason}", ts, "unknown"),
            _block_event(order, ts, reason),
        ]
        if lookup_now:
            return self._retry(state, order, 0, ts), [*out, self._reconcile(order, ts, view)]
        return self._retry(state, order, 1, ts), out

    def fault(self, state: ExecState, order: Order, ts: int, why: str, view: ExecView) -> tuple[ExecState, list[Output]]:
        """An exception after `order` went to the venue: its outcome is unknown, whatever was
        computed before. Block the account (only this one), alert, and look it up later."""
        return self._unknown(state, order, ts, f"processing failed after the live submit: {why}", view, lookup_now=False)

    def _reconcile(self, order: Order, ts: int, view: ExecView) -> Reconcile:
        books = view.books(market_key(order.venue, order.market_id))
        return Reconcile(order, books.listing if books else None, ts)

    @staticmethod
    def _retry(state: ExecState, order: Order, attempts: int, ts: int) -> ExecState:
        """Record `attempts` lookups of `order` so far; the next is due after the backoff, if any is left."""
        due = ts + backoff_ms(attempts) if 0 < attempts < RECONCILE_ATTEMPTS else (ts if attempts == 0 else None)
        others = tuple(r for r in state.retries if r.order.order_id != order.order_id)
        return replace(state, retries=(*others, Retry(order, attempts, due)))

    def _due_lookups(self, state: ExecState, ts: int, view: ExecView) -> tuple[ExecState, list[Output]]:
        """Lookups whose backoff has run out by this record's event time (each is asked once)."""
        out: list[Output] = []
        for r in state.retries:
            if r.attempts > 0 and r.due_ts is not None and r.due_ts <= ts and r.order.order_id in state.blocked_by:
                out.append(self._reconcile(r.order, ts, view))
                state = replace(state, retries=tuple(
                    replace(x, due_ts=None) if x.order.order_id == r.order.order_id else x for x in state.retries))
        return state, out

    def _operator(self, state: ExecState, ev: RiskEvent) -> tuple[ExecState, list[Output]]:
        """`arbees risk reset`: the operator has reconciled the blocked orders by hand; release them."""
        if ev.rule != OPERATOR_RESET or ev.account != state.account or not state.blocked_by:
            return state, []
        released = ", ".join(state.blocked_by)
        alert = Alert(alert_id=f"a-{stable_id(state.account, 'released', released, ev.ts)[:24]}",
                      dedupe_key=f"execution:released:{state.account}", severity=Severity.WARNING, ts=ev.ts,
                      service="execution", message=f"operator reset released account {state.account} from "
                                                   f"unreconciled order(s) {released}")
        return replace(state, blocked_by=(), retries=()), [alert]

    # ------------------------------------------------------------ live answers

    def _submitted(self, state: ExecState, rec: SubmitOutcome, view: ExecView) -> tuple[ExecState, list[Output]]:
        order = rec.order
        if rec.unknown:
            return self._unknown(state, order, rec.ts, rec.unknown, view)
        state = replace(state, inflight={k: v for k, v in state.inflight.items() if k != order.order_id})
        if rec.answer is None:
            return self._reject(state, order, rec.ts, f"venue rejected: {rec.rejected or 'no reason given'}", view)
        return self._answered(state, order, rec.answer, view)

    def _answered(self, state: ExecState, order: Order, answer: LiveAnswer, view: ExecView) -> tuple[ExecState, list[Output]]:
        # the order is the authority on whose it is: its status and fills go to its own account's partition
        status = replace(answer.status, account=order.account, order_id=order.order_id)
        fills = tuple(replace(f, account=order.account, order_id=order.order_id) for f in answer.fills)
        return self._finished(state, order, status, fills, view)

    def _reconciled(self, state: ExecState, rec: ReconcileOutcome, view: ExecView) -> tuple[ExecState, list[Output]]:
        order = rec.order
        if order.order_id not in state.blocked_by:
            return state, []
        if rec.error:  # still unknown: stay blocked, look again after the backoff, a bounded number of times
            done = next((r.attempts for r in state.retries if r.order.order_id == order.order_id), 0) + 1
            state = self._retry(state, order, done, rec.ts)
            if done < RECONCILE_ATTEMPTS:
                return state, []
            msg = (f"order {order.order_id}: {done} lookups failed (last: {rec.error}); account {state.account} stays "
                   "blocked: reconcile it by hand, then `arbees risk reset`")
            return state, [_alert(order, Severity.CRITICAL, msg, rec.ts, "reconcile"), _block_event(order, rec.ts, msg)]
        state = replace(state, blocked_by=tuple(o for o in state.blocked_by if o != order.order_id),
                        retries=tuple(r for r in state.retries if r.order.order_id != order.order_id))
        if rec.answer is None:
            return self._reject(state, order, rec.ts,
                                "reconciled: the venue has no order with this client order id; not resubmitted", view)
        return self._answered(state, order, rec.answer, view)

    # --------------------------------------------------------------- arb legs

    def _leg_done(self, state: ExecState, order: Order, filled: Contracts, ts: int,
                  view: ExecView) -> tuple[ExecState, list[Output]]:
        gid = order.group_id
        assert gid is not None
        legs = {**state.groups.get(gid, {}), order.order_id: LegResult(order, filled)}
        if len(legs) < legs_in_group(gid):
            return replace(state, groups={**state.groups, gid: legs}), []
        groups = {k: v for k, v in state.groups.items() if k != gid}
        state = replace(state, groups=groups)
        matched = min(r.filled for r in legs.values())
        out: list[Output] = []
        for leg in sorted(legs.values(), key=lambda r: r.order.order_id):
            excess = leg.filled - matched
            if excess.is_positive():
                out += self._unwind(state, leg.order, excess, matched, ts, view)
        return state, out

    def _unwind(self, state: ExecState, leg: Order, excess: Contracts, matched: Contracts, ts: int,
                view: ExecView) -> list[Output]:
        books = view.books(market_key(leg.venue, leg.market_id))
        book: Quote | None = books.history[-1] if books and books.history else None
        bid = None
        if book is not None:
            levels = paper_engine.ladder(book, leg.side, Action.SELL)
            bid = levels[0][0] if levels else None
        episode = (f"arbitrage {leg.group_id}: leg {leg.order_id} filled {excess + matched}, other legs {matched}; "
                   f"unwinding {excess} of {leg.side.value} {leg.venue.value}:{leg.market_id}")
        risk_ev = RiskEvent(risk_id=f"r-{stable_id(leg.account, 'unwind', leg.order_id)[:24]}", account=leg.account,
                            kind=RiskKind.LIMIT_HIT, ts=ts, rule="arb_leg_unwind", reason=episode, ref=leg.group_id or "",
                            value=excess.count, limit=matched.count)
        if bid is None:
            msg = f"{episode}: NO BID to unwind against; position left open for the positions agent's exits"
            return [_alert(leg, Severity.CRITICAL, msg, ts, "unwind"), replace(risk_ev, reason=msg)]
        tick = books.listing.tick_micros if books is not None and books.listing is not None else 10_000
        limit = max(bid - self.config.exits.sell_band.value, tick)
        unwind = Order(
            order_id=unwind_order_id(leg.order_id), account=leg.account, ts=ts, signal_id=leg.signal_id, mode=leg.mode,
            venue=leg.venue, market_id=leg.market_id, event_id=leg.event_id, side=leg.side, action=Action.SELL,
            limit_price_micros=limit, count=excess.count, tif=TimeInForce.IOC, reason=f"unwind: {episode}", group_id=None,
        )
        return [unwind, _alert(leg, Severity.WARNING, f"{episode} at {Micros(limit)} or better", ts, "unwind"), risk_ev]
