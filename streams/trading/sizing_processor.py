"""Sizing and risk, per account: `step(state, record) -> (state, outputs)`, pure.

A signal becomes orders (fractional Kelly, capped by exposure, cash and the
signal's own executable size, rounded down to venue steps and ticks) or a
`RiskEvent` saying why not: every decision is a record. The bankroll is the
ledger's balance as this processor has read it from the `ledger` topic, never
the wall clock or a database; exposure comes from fills (open cost) plus the
reserved cost of working orders. Exit signals (from positions) take the same
path, but only the kill switch, price band and rate limits apply to them:
stopping exits would add risk, not remove it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable
from schemas.enums import Action, OrderState, PositionStatus, RiskKind, SignalKind, TimeInForce, TradingMode
from schemas.records import Fill, LedgerEntry, Order, OrderStatus, PositionEvent, RiskEvent, ShardInput, Signal, SignalLeg
from streams.fees import FeeSchedule, order_fee_micros
from streams.trading import ledger as ledger_rule
from streams.trading import risk
from streams.trading.config import TradingConfig
from streams.trading.exposure import Exposures, Holding, Working
from streams.trading.memo import IdentityMemo
from streams.trading.ids import fill_key, group_id, order_id, position_id
from streams.trading.kelly import SizingError, floor_to_tick, kelly_size
from streams.trading.market_view import Top, market_key, top_of
from streams.trading.units import Contracts, Micros, Probability, UnitError, contracts_affordable

Record = Signal | Fill | OrderStatus | PositionEvent | LedgerEntry | RiskEvent | ShardInput
Output = Order | RiskEvent
TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})
#: Kelly is re-run on the fee at the ordered size at most this often (it settles in one or two).
FEE_ROUNDS = 6
RECENT = 2048


@dataclass(frozen=True)
class SizingState:
    account: str
    risk: risk.RiskState = field(default_factory=risk.RiskState)
    ledger: ledger_rule.LedgerState = field(default_factory=ledger_rule.LedgerState)
    holdings: dict[str, Holding] = field(default_factory=dict)
    working: dict[str, Working] = field(default_factory=dict)
    tops: dict[str, Top] = field(default_factory=dict)
    #: Recent signal, fill and status ids, oldest first (replays are ignored): an insertion-ordered
    #: set, so a lookup is a hash, not a scan of 2,048 ids (a changelog written before held a tuple).
    seen: tuple[str, ...] = ()  # recent signal and fill ids (replays are ignored)

    @property
    def bankroll(self) -> Micros:
        return self.ledger.balance

    def open_cost(self) -> Micros:
        return sum((h.cost for h in self.holdings.values()), Micros(0))


class SizingProcessor:
    def __init__(self, config: TradingConfig | None = None, mode: TradingMode = TradingMode.PAPER) -> None:
        self.config = config or TradingConfig()
        self.mode = mode
        # Derived from a state's parts, kept beside it (never inside, never persisted): exposure
        # sums per (holdings, working) and a set of each `seen` tuple, so a signal reads them instead
        # of rescanning every holding per leg and 2,048 ids per record (issue 13).
        self._sums: IdentityMemo[Exposures] = IdentityMemo()
        self._seen: IdentityMemo[set[str]] = IdentityMemo()

    def exposures(self, state: SizingState) -> Exposures:
        """The state's exposure sums: kept ones when taken over its very holdings and working, else afresh."""
        got = self._sums.get(state.holdings, state.working)
        if got is None:
            got = self._sums.put((state.holdings, state.working), Exposures.scan(state.holdings, state.working))
        return got

    def _rebook(self, state: SizingState, holdings: dict[str, Holding], working: dict[str, Working],
                gone: Iterable[Holding | Working], came: Iterable[Holding | Working]) -> SizingState:
        """New holdings and working orders; the sums moved by the entries that changed (`gone` → `came`)."""
        self._sums.put((holdings, working), self.exposures(state).moved(gone, came))
        return replace(state, holdings=holdings, working=working)

    def _seen_before(self, state: SizingState, rid: str) -> bool:
        ids = self._seen.get(state.seen)
        if ids is None:
            ids = self._seen.put((state.seen,), set(state.seen))
        return rid in ids

    def _remember(self, state: SizingState, rid: str) -> SizingState:
        """`rid` appended to the recent ids (the oldest beyond RECENT dropped); the index moves along."""
        seen = (*state.seen, rid)[-RECENT:]
        ids = self._seen.pop(state.seen)
        if ids is not None:
            ids.add(rid)
            ids.difference_update(state.seen[:max(0, len(state.seen) + 1 - RECENT)])
            if len(ids) == len(seen):
                self._seen.put((seen,), ids)
        return replace(state, seen=seen)

    @staticmethod
    def markets(record: Record) -> tuple[str, ...]:
        """The markets whose tops a step of `record` reads or moves (streams.trading.market_split): a quote's own, a
        signal's legs; no other record reads a top."""
        if isinstance(record, ShardInput):
            return (market_key(record.quote.venue, record.quote.market_id),) if record.quote is not None else ()
        if isinstance(record, Signal):
            return tuple(market_key(leg.venue, leg.market_id) for leg in record.legs)
        return ()

    def initial(self, account: str) -> SizingState:
        return SizingState(account=account, risk=risk.RiskState(account=account),
                           ledger=ledger_rule.LedgerState(account=account))

    # ------------------------------------------------------------------ step

    def step(self, state: SizingState, record: Record) -> tuple[SizingState, list[Output]]:
        rs, out = risk.advance(state.risk, self.config.risk, record.ts) if not isinstance(record, Signal) else (state.risk, [])
        if rs is not state.risk:  # most records leave the risk state as it was: no copy of the state then
            state = replace(state, risk=rs)
        outputs: list[Output] = list(out)
        if isinstance(record, Signal):
            state, more = self._signal(state, record)
        elif isinstance(record, Fill):
            state, more = self._fill(state, record)
        elif isinstance(record, OrderStatus):
            state, more = self._status(state, record)
        elif isinstance(record, PositionEvent):
            state, more = self._position(state, record), []
        elif isinstance(record, LedgerEntry):
            state, more = self._ledger(state, record)
        elif isinstance(record, RiskEvent):
            rs = risk.on_operator(state.risk, record)[0] if record.rule.startswith("operator.") else state.risk
            state, more = replace(state, risk=rs), []
        elif isinstance(record, ShardInput):
            state, more = self._market(state, record), []
        else:
            raise TypeError(f"sizing cannot step a {type(record).__name__}")
        return state, outputs + more

    # --------------------------------------------------------------- inputs

    def _market(self, state: SizingState, rec: ShardInput) -> SizingState:
        if rec.quote is None:
            return state
        key = market_key(rec.quote.venue, rec.quote.market_id)
        top = top_of(rec.quote, rec.listing, state.tops.get(key))
        if top is None:
            return state
        return replace(state, tops={**state.tops, key: top})

    def _fill(self, state: SizingState, fill: Fill) -> tuple[SizingState, list[Output]]:
        fid = fill_key(fill.fill_id, fill.reversed)
        if self._seen_before(state, fid):
            return state, []
        state = self._remember(state, fid)
        pos = position_id(state.account, fill.venue.value, fill.market_id, fill.side.value)
        held = state.holdings.get(pos) or Holding(fill.event_id, fill.venue.value, fill.market_id)
        n = Contracts.of(fill.count)
        buy = (fill.action is Action.BUY) != fill.reversed
        if buy:
            held = replace(held, qty=held.qty + n, cost=held.cost + n.cost(Micros(fill.price_micros)))
        elif held.qty.is_positive():
            part = Micros(held.cost.value * min(n.centi, held.qty.centi) // held.qty.centi)
            held = replace(held, qty=held.qty - n.min(held.qty), cost=held.cost - part)
        before = state.holdings.get(pos)
        holdings = {**state.holdings, pos: held} if held.qty.is_positive() else {k: v for k, v in state.holdings.items() if k != pos}
        gone: list[Holding | Working] = [before] if before is not None else []
        came: list[Holding | Working] = [held] if held.qty.is_positive() else []
        working = dict(state.working)
        w = working.get(fill.order_id)
        if w is not None and not fill.reversed:
            left = w.remaining - n.min(w.remaining)
            working[fill.order_id] = replace(w, remaining=left)
            gone.append(w)
            came.append(working[fill.order_id])
        return self._rebook(state, holdings, working, gone, came), []

    def _status(self, state: SizingState, status: OrderStatus) -> tuple[SizingState, list[Output]]:
        if self._seen_before(state, status.status_id):
            return state, []
        state = self._remember(state, status.status_id)
        rs, events = risk.on_status(state.risk, self.config.risk, status)
        state = replace(state, risk=rs)
        done = state.working.get(status.order_id) if status.state in TERMINAL else None
        if done is not None:
            working = {k: v for k, v in state.working.items() if k != status.order_id}
            state = self._rebook(state, state.holdings, working, [done], [])
        return state, list(events)

    def _position(self, state: SizingState, ev: PositionEvent) -> SizingState:
        if ev.status not in (PositionStatus.SETTLED, PositionStatus.CLOSED):
            return state
        pos = position_id(state.account, ev.venue.value, ev.market_id, ev.side.value)
        done = state.holdings.get(pos)
        if done is None:
            return state
        return self._rebook(state, {k: v for k, v in state.holdings.items() if k != pos}, state.working, [done], [])

    def _ledger(self, state: SizingState, entry: LedgerEntry) -> tuple[SizingState, list[Output]]:
        led, verdict = ledger_rule.apply(state.ledger, entry)
        if verdict is not ledger_rule.Verdict.ACCEPTED:
            return state, []
        rs, events = risk.on_ledger(state.risk, self.config.risk, entry)
        return replace(state, ledger=led, risk=rs), list(events)

    # -------------------------------------------------------------- signals

    def _refuse(self, state: SizingState, sig: Signal, r: risk.Refusal, ts: int) -> list[Output]:
        return [risk.risk_event(state.risk, r.kind, r.rule, f"signal {sig.signal_id} refused: {r.reason}", ts,
                                ref=sig.signal_id, value=r.value, limit=r.limit)]

    def _signal(self, state: SizingState, sig: Signal) -> tuple[SizingState, list[Output]]:
        if self._seen_before(state, sig.signal_id):
            return state, []
        state = self._remember(state, sig.signal_id)
        legs = [state.tops.get(market_key(leg.venue, leg.market_id)) for leg in sig.legs]
        venue_ts = min((t.ts for t in legs if t is not None), default=None) if legs and None not in legs else None
        stale = risk.on_stale(state.risk, self.config.risk, sig.ts, sig.signal_id, venue_ts)
        out: list[Output] = []
        if stale is not None and sig.kind is not SignalKind.EXIT:
            rs, trip_events, refusal = stale
            state = replace(state, risk=rs)
            out += trip_events
            return state, out + self._refuse(state, sig, refusal, state.risk.now)
        rs, adv = risk.advance(state.risk, self.config.risk, sig.ts)
        if rs is not state.risk:
            state = replace(state, risk=rs)
        out += adv
        ts = max(sig.ts, state.risk.now)
        entry = sig.kind is not SignalKind.EXIT
        if not sig.legs:
            return state, out + self._refuse(state, sig, risk.Refusal(RiskKind.ORDER_REFUSED, "malformed", "signal has no legs"), ts)
        blocked = risk.gate(state.risk, entry=entry)
        if blocked is not None:
            return state, out + self._refuse(state, sig, blocked, ts)
        for leg in sig.legs:
            top = state.tops.get(market_key(leg.venue, leg.market_id))
            if top is not None and not top.open:
                return state, out + self._refuse(state, sig, risk.Refusal(
                    RiskKind.ORDER_REFUSED, "market_not_open",
                    f"{leg.venue.value}:{leg.market_id} is not open at the venue (closed, paused or settled)"), ts)
            band = risk.price_band(self.config.risk, Micros(leg.price_micros), top.price(leg.side, leg.action) if top else None)
            if band is not None:
                return state, out + self._refuse(state, sig, band, ts)
        rate = risk.rate_limit(state.risk, self.config.risk, ts, len(sig.legs))
        if rate is not None:
            return state, out + self._refuse(state, sig, rate, ts)
        try:
            if sig.kind is SignalKind.EXIT:
                sized = self._size_exit(state, sig)
            elif sig.kind is SignalKind.CROSS_VENUE_ARB:
                sized = self._size_arb(state, sig)
            else:
                sized = self._size_edge(state, sig)
        except (SizingError, UnitError) as exc:
            return state, out + self._refuse(state, sig, risk.Refusal(RiskKind.ORDER_REFUSED, "sizing", str(exc)), ts)
        if isinstance(sized, risk.Refusal):
            return state, out + self._refuse(state, sig, sized, ts)
        count, note = sized
        orders = self._orders(state, sig, count, note, ts)
        working = dict(state.working)
        gone = [working[o.order_id] for o in orders if o.order_id in working]
        for o, leg in zip(orders, sig.legs):
            pos = position_id(state.account, leg.venue.value, leg.market_id, leg.side.value)
            working[o.order_id] = Working(pos, sig.event_id, leg.venue.value, leg.market_id, leg.action,
                                          Contracts.of(o.count), Micros(o.limit_price_micros))
        state = self._rebook(state, state.holdings, working, gone, [working[o.order_id] for o in orders])
        rs = risk.record_orders(state.risk, ts, len(orders))
        return replace(state, risk=rs), out + list(orders)

    def _orders(self, state: SizingState, sig: Signal, count: Contracts, note: str, ts: int) -> list[Order]:
        gid = group_id(sig.signal_id, len(sig.legs)) if len(sig.legs) > 1 else None
        tif = TimeInForce.FOK if gid else TimeInForce.IOC
        out = []
        for i, leg in enumerate(sig.legs):
            tick = Micros(self._tick(state, leg))
            limit = floor_to_tick(Micros(leg.price_micros), tick) if leg.action is Action.BUY else Micros(leg.price_micros)
            out.append(Order(
                order_id=order_id(state.account, sig.signal_id, i),
                account=state.account,
                ts=ts,
                signal_id=sig.signal_id,
                mode=self.mode,
                venue=leg.venue,
                market_id=leg.market_id,
                event_id=sig.event_id,
                side=leg.side,
                action=leg.action,
                limit_price_micros=limit.value,
                count=count.count,
                tif=tif,
                reason=f"{sig.kind.value.lower()}: {note}",
                group_id=gid,
                model_p=sig.model_p,
            ))
        return out

    # --------------------------------------------------------------- sizing

    def _tick(self, state: SizingState, leg: SignalLeg) -> int:
        top = state.tops.get(market_key(leg.venue, leg.market_id))
        return top.tick if top is not None and top.tick else self.config.sizing.default_tick.value

    def _exposure(self, state: SizingState, leg: SignalLeg, event_id: str) -> risk.Exposure:
        return self.exposures(state).of_leg(event_id, market_key(leg.venue, leg.market_id), leg.venue.value)

    def _cash(self, state: SizingState) -> Micros:
        exp = self.exposures(state)
        return Micros(state.bankroll.value - exp.open_cost - exp.reserved)

    def _caps(self, state: SizingState, sig: Signal, legs: list[SignalLeg], unit_cost: Micros,
              want: Contracts, note: str) -> tuple[Contracts, str] | risk.Refusal:
        """Cap `want` by the signal's size, every leg's exposure room and the cash; round to steps."""
        count, binds = want, "kelly"
        caps = [(Contracts.of(sig.size) if sig.size > 0 else want, "signal_size")]
        caps += [(Contracts.of(leg.size), "leg_size") for leg in legs if leg.size > 0]
        for leg in legs:
            room, rule = risk.exposure_room(self.config.risk, self._exposure(state, leg, sig.event_id))
            caps.append((contracts_affordable(room, Micros(max(leg.price_micros, 1))), rule))
        caps.append((contracts_affordable(self._cash(state), unit_cost), "cash"))
        for cap, rule in caps:
            if cap < count:
                count, binds = cap, rule
        step = max((self.config.sizing.step_for(leg.venue) for leg in legs), key=lambda s: s.centi)
        count = count.floor_to(step)
        minimum = self.config.sizing.min_contracts
        for leg in legs:
            top = state.tops.get(market_key(leg.venue, leg.market_id))
            if top is not None and top.min_size:
                minimum = max(minimum, Contracts.of(top.min_size))
        if count < minimum or not count.is_positive():
            return risk.Refusal(RiskKind.LIMIT_HIT if binds not in ("kelly", "signal_size", "leg_size") else RiskKind.ORDER_REFUSED,
                                binds, f"size {count} below the minimum {minimum} ({note}; bound by {binds})",
                                count.count, minimum.count)
        return count, f"{note}; {count} bound by {binds}"

    def _size_edge(self, state: SizingState, sig: Signal) -> tuple[Contracts, str] | risk.Refusal:
        if sig.model_p is None:
            return risk.Refusal(RiskKind.ORDER_REFUSED, "malformed", "model-edge signal without a model probability")
        leg = sig.legs[0]
        top = state.tops.get(market_key(leg.venue, leg.market_id))
        fee = leg.fee_micros  # per contract at the signal's size, until the ordered size is known
        for _ in range(FEE_ROUNDS):
            cost = Micros(leg.price_micros + fee)
            k = kelly_size(Probability(sig.model_p), cost, state.bankroll, self.config.sizing.kelly_fraction,
                           self.config.sizing.step_for(leg.venue))
            if not k.contracts.is_positive():
                return risk.Refusal(RiskKind.ORDER_REFUSED, "kelly",
                                    f"no Kelly size: f*={k.kelly_fraction:.4f}, bankroll {state.bankroll}, all-in cost {cost}",
                                    k.kelly_fraction, None)
            note = f"p={sig.model_p:.4f} cost={cost} f*={k.kelly_fraction:.4f} x{self.config.sizing.kelly_fraction} stake={k.stake}"
            sized = self._caps(state, sig, [leg], cost, k.contracts, note)
            if isinstance(sized, risk.Refusal) or top is None or top.fees is None:
                return sized
            at_size = fee_per_contract(top.fees, Micros(leg.price_micros), sized[0])
            if at_size <= fee:
                return sized
            fee = at_size  # the fee of the smaller order is dearer per contract: size again on it
        return risk.Refusal(RiskKind.ORDER_REFUSED, "kelly", f"the fee per contract did not settle in {FEE_ROUNDS} rounds ({fee})")

    def _size_arb(self, state: SizingState, sig: Signal) -> tuple[Contracts, str] | risk.Refusal:
        pair = Micros(sum(leg.price_micros + leg.fee_micros for leg in sig.legs))
        if pair.value >= 1_000_000:
            return risk.Refusal(RiskKind.ORDER_REFUSED, "arb_cost", f"legs cost {pair} per pair: no locked-in profit")
        budget = state.bankroll.scale(self.config.sizing.arb_max_fraction)
        want = contracts_affordable(budget, pair)
        note = f"pair cost {pair}, budget {budget} ({self.config.sizing.arb_max_fraction:.0%} of {state.bankroll})"
        return self._caps(state, sig, list(sig.legs), pair, want, note)

    def _size_exit(self, state: SizingState, sig: Signal) -> tuple[Contracts, str] | risk.Refusal:
        leg = sig.legs[0]
        if leg.action is not Action.SELL:
            return risk.Refusal(RiskKind.ORDER_REFUSED, "malformed", "exit signal must sell")
        pos = position_id(state.account, leg.venue.value, leg.market_id, leg.side.value)
        held = state.holdings.get(pos)
        selling = sum((w.remaining for w in state.working.values() if w.pos == pos and w.action is Action.SELL), Contracts(0))
        free = (held.qty if held else Contracts(0)) - selling
        count = Contracts.of(leg.size).min(free) if leg.size > 0 else free
        if not count.is_positive():
            return risk.Refusal(RiskKind.ORDER_REFUSED, "exit_size", f"nothing left to sell in {pos} ({selling} already selling)")
        return count, f"exit {sig.trigger or 'rule'}: sell {count} of {pos}"


def fee_per_contract(fees: FeeSchedule, price: Micros, count: Contracts) -> int:
    """The venue's fee of one order of `count` at `price`, per contract, rounded up (micro-dollars)."""
    total = order_fee_micros(fees, [(price.value, count.count)])
    return -(-total * 100 // count.centi)
