"""Positions, per account: fills in; positions, ledger entries and exit signals out, pure.

A position is one side (YES or NO) of one market: quantity, cost basis (average
price), fees and realized P&L, marked to the side's best bid. Buying books its fee
in the ledger at once; selling or settling books the realized P&L.

Settlement follows the venue. When a market's listing reaches positions SETTLED
(`streams.listings.venue_payout`: Kalshi's result or settlement value, Polymarket's
resolution), its positions settle at what the venue paid a YES contract — $1, $0,
or a void/fair-price value such as 50¢ — and NO at $1 minus that. The event's FINAL
state (ESPN) settles a position whose venue has not published yet: YES pays $1 when
the winner is the entity the market's YES side backs (the link's `yes_role`), else
$0; when the venue's result arrives later and differs, the difference is booked per
fill (`realized:venue:<fill id>:<payout>`) and an Alert says the two sources
disagree; a FINAL that disagrees with a venue result already booked only alerts.
If neither source can tell the payout the position stays open and an Alert says
why: it never defaults to a side. A postponed, cancelled or suspended event with
open positions alerts once per status: they stay open until the venue settles them
by its rule (a Kalshi fair price, a Polymarket 50-50). No exit is sent to a market
that is not open.

Settlement is booked per fill, not per position: each fill of the open position
leaves a `Lot` (its signed change to quantity and cost basis), and settling books
`realized:settle:<fill id>` = lot quantity × payout − lot cost for every lot. The
lots telescope to exactly the position's quantity × payout − cost, and each entry
depends only on its fill and the final state, never on when the final state was
seen. So the cross-topic race (the final state read before some fills of the
event, e.g. by a worker catching up after a restart) and any replay order give the
same entries under the same ids: a fill that arrives for an event already final is
settled at once under its own id, and a replay that settles it again is refused by
the ledger as a duplicate. Settled positions keep their accounting (`settled`) so
a late sell is booked against what was settled.

Ledger entries use the optimistic version rule (streams.trading.ledger): new
entries are built on the tip (confirmed version + pending), and when the log shows
another writer took a version first, the pending entries are rebuilt on the new
tip and sent again under the same entry ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from schemas.enums import Action, EventStatus, PositionStatus, Severity, Side, SignalKind, Venue
from schemas.records import Alert, EventState, Fill, LedgerEntry, MarketListing, PositionEvent, ShardInput, Signal, SignalLeg
from streams.listings import venue_payout
from streams.trading import ledger as L
from streams.trading.config import TradingConfig
from streams.trading.ids import fill_key, position_id, stable_id
from streams.trading.market_view import LinkFacts, Top, link_facts, market_key, top_of
from streams.trading.units import ONE_DOLLAR, Contracts, Micros

Record = Fill | ShardInput | LedgerEntry
Output = PositionEvent | LedgerEntry | Signal | Alert
RECENT = 2048
#: An exit signal is sent again if the position is still open this long (event time) after the last one.
EXIT_RETRY_MS = 60_000
OUTCOMES = ("a", "b", "draw")
#: Final events remembered (with their settled positions) to settle fills that arrive after the final state.
FINALS_KEPT = 256


@dataclass(frozen=True)
class Lot:
    """One fill's signed change to an open position: what settling it books is centi × payout − cost."""

    fill_id: str
    centi: int
    cost: int


@dataclass(frozen=True)
class Final:
    """An event's final state as settlement needs it."""

    event_id: str
    winner: str | None
    state_id: str
    ts: int


@dataclass(frozen=True)
class VenueResult:
    """A venue's published settlement of one market: what one YES contract pays."""

    market: str  # venue:market_id
    yes_payout: int
    listing_id: str
    status: str
    ts: int


HALTED = frozenset({EventStatus.POSTPONED, EventStatus.CANCELED, EventStatus.SUSPENDED})


@dataclass(frozen=True)
class Position:
    position_id: str
    event_id: str
    venue: str
    market: str
    side: Side
    qty: Contracts = Contracts(0)
    cost: Micros = Micros(0)  # cost basis of the open quantity
    fees: Micros = Micros(0)
    realized: Micros = Micros(0)  # before fees
    last_exit_ts: int | None = None
    lots: tuple[Lot, ...] = ()  # fills since the position last opened (quantity 0 → positive)
    payout: int | None = None  # what one contract of this side was settled at (micro-dollars), once settled

    def avg(self) -> int:
        return self.cost.value * 100 // self.qty.centi if self.qty.is_positive() else 0


@dataclass(frozen=True)
class PositionsState:
    account: str
    ledger: L.LedgerState = field(default_factory=L.LedgerState)
    pending: tuple[LedgerEntry, ...] = ()
    positions: dict[str, Position] = field(default_factory=dict)
    links: dict[str, LinkFacts] = field(default_factory=dict)
    tops: dict[str, Top] = field(default_factory=dict)
    seen: tuple[str, ...] = ()
    finals: dict[str, Final] = field(default_factory=dict)  # event id → its final state, oldest first
    settled: dict[str, Position] = field(default_factory=dict)  # position id → accounting of a settled position
    venue_results: dict[str, VenueResult] = field(default_factory=dict)  # market key → the venue's settlement
    halted: dict[str, str] = field(default_factory=dict)  # event id → the halting status already alerted

    def tip(self) -> tuple[int, Micros]:
        if self.pending:
            last = self.pending[-1]
            return last.version, Micros(last.balance_micros)
        return self.ledger.version, self.ledger.balance


class PositionsProcessor:
    def __init__(self, config: TradingConfig | None = None) -> None:
        self.config = config or TradingConfig()

    @staticmethod
    def markets(state: PositionsState, record: Record) -> tuple[str, ...]:
        """The markets whose tops and links a step of `record` reads or moves (streams.trading.market_split): a
        quote's or fill's own (its positions are in that market), and for an event state those of the event's open
        and settled positions (its final settles and cross-checks them); a ledger entry reads none."""
        if isinstance(record, Fill):
            return (market_key(record.venue, record.market_id),)
        if not isinstance(record, ShardInput):
            return ()
        if record.quote is not None:
            return (market_key(record.quote.venue, record.quote.market_id),)
        if record.state is None:
            return ()
        event = record.state.event_id
        return tuple(sorted({f"{p.venue}:{p.market}" for p in (*state.positions.values(), *state.settled.values())
                             if p.event_id == event}))

    def initial(self, account: str) -> PositionsState:
        return PositionsState(account=account, ledger=L.LedgerState(account=account))

    def step(self, state: PositionsState, record: Record) -> tuple[PositionsState, list[Output]]:
        if isinstance(record, Fill):
            return self._fill(state, record)
        if isinstance(record, LedgerEntry):
            return self._ledger(state, record)
        if isinstance(record, ShardInput):
            if record.state is not None:
                return self._event(state, record.state)
            if record.quote is not None:
                return self._quote(state, record)
            return state, []
        raise TypeError(f"positions cannot step a {type(record).__name__}")

    # ---------------------------------------------------------------- ledger

    def _book(self, state: PositionsState, out: list[Output], entry_id: str, ts: int, delta: Micros,
              kind: L.EntryKind, note: str, ref: str) -> PositionsState:
        version, balance = state.tip()
        entry = L.build_entry(version, balance, entry_id=entry_id, account=state.account, ts=ts, delta=delta,
                              kind=kind, note=note, ref=ref)
        out.append(entry)
        return replace(state, pending=(*state.pending, entry))

    def _ledger(self, state: PositionsState, entry: LedgerEntry) -> tuple[PositionsState, list[Output]]:
        led, verdict = L.apply(state.ledger, entry)
        state = replace(state, ledger=led)
        if not state.pending:
            return state, []
        head = state.pending[0]
        if verdict is L.Verdict.ACCEPTED and (entry.entry_id, entry.version) == (head.entry_id, head.version):
            return replace(state, pending=state.pending[1:]), []  # ours landed as built
        as_built = any((p.entry_id, p.version) == (entry.entry_id, entry.version) for p in state.pending)
        if verdict is L.Verdict.ACCEPTED or as_built:
            return self._rebuild(state)  # another entry took our version, or ours was refused
        return state, []  # a refused foreign entry or an old copy of one we rebuilt

    def _rebuild(self, state: PositionsState) -> tuple[PositionsState, list[Output]]:
        """Drop pending entries already booked; rebuild the rest on the confirmed tip and send them again."""
        booked = {eid for _, eid in state.ledger.recent}
        version, balance = state.ledger.version, state.ledger.balance
        rebuilt: list[LedgerEntry] = []
        for p in state.pending:
            if p.entry_id in booked:
                continue
            nxt = L.rebase(p, version, balance)
            rebuilt.append(nxt)
            version, balance = nxt.version, Micros(nxt.balance_micros)
        return replace(state, pending=tuple(rebuilt)), list(rebuilt)

    # ----------------------------------------------------------------- fills

    def _fill(self, state: PositionsState, fill: Fill) -> tuple[PositionsState, list[Output]]:
        fid = fill_key(fill.fill_id, fill.reversed)  # a reversal undoes fill_id: its own entries
        if fid in state.seen:
            return state, []
        state = replace(state, seen=(*state.seen, fid)[-RECENT:])
        pid = position_id(state.account, fill.venue.value, fill.market_id, fill.side.value)
        pos = (state.positions.get(pid) or state.settled.get(pid)
               or Position(pid, fill.event_id, fill.venue.value, fill.market_id, fill.side))
        opened = not pos.qty.is_positive()
        n = Contracts.of(fill.count)
        price = Micros(fill.price_micros)
        fee = Micros(fill.fee_micros)
        sign = -1 if fill.reversed else 1
        out: list[Output] = []
        if (fill.action is Action.BUY) != fill.reversed:
            lot = Lot(fid, n.centi, n.cost(price).value)
            pos = replace(pos, qty=pos.qty + n, cost=pos.cost + n.cost(price), event_id=pos.event_id or fill.event_id,
                          lots=(*(pos.lots if pos.qty.is_positive() else ()), lot))
        else:
            n = n.min(pos.qty)
            if not n.is_positive():
                alert = self._alert(state, fill.ts, Severity.ERROR, f"fill {fid} sells {fill.count} of {pid} but none is held",
                                    f"oversell:{fid}")
                return state, [alert]
            basis = Micros(pos.cost.value * n.centi // pos.qty.centi)
            pnl = n.cost(price) - basis
            lot = Lot(fid, -n.centi, -basis.value)
            pos = replace(pos, qty=pos.qty - n, cost=pos.cost - basis, realized=pos.realized + pnl, lots=(*pos.lots, lot))
            state = self._book(state, out, f"realized:{fid}", fill.ts, pnl, L.EntryKind.REALIZED,
                               f"sold {n} of {pid} at {price}, basis {basis}", fid)
        fee_delta = Micros(-fee.value * sign)
        pos = replace(pos, fees=pos.fees + Micros(fee.value * sign))
        if fee.value:
            state = self._book(state, out, f"fee:{fid}", fill.ts, fee_delta, L.EntryKind.FEE,
                               f"{fill.venue.value} fee on {fill.count} at {price}", fid)
        status = PositionStatus.OPEN if opened else (PositionStatus.CLOSED if not pos.qty.is_positive() else PositionStatus.UPDATE)
        out.append(self._event_of(state, pos, status, fill.ts, fid, f"fill {fid}"))
        venue = state.venue_results.get(f"{pos.venue}:{pos.market}")
        if venue is not None:  # the venue settled the market before this fill was read: settle its lot now
            return self._settle(state, out, pos, _side_payout(pos, venue.yes_payout), (lot,), f"settle:{fid}",
                                venue.ts, venue.listing_id, _venue_note(venue))
        final = state.finals.get(pos.event_id)
        if final is not None:  # the event ended before this fill was read: settle the fill's lot now
            return self._settle(state, out, pos, self._payout(state, pos, final), (lot,), f"settle:{fid}",
                                final.ts, final.state_id, _final_note(final))
        return self._store(state, pos), out

    def _store(self, state: PositionsState, pos: Position) -> PositionsState:
        if pos.lots and not pos.qty.is_positive():
            pos = replace(pos, lots=())  # closed: the lots telescope to nothing left to settle
        if pos.position_id in state.settled:
            return replace(state, settled={**state.settled, pos.position_id: pos})
        if pos.qty.is_positive():
            return replace(state, positions={**state.positions, pos.position_id: pos})
        return replace(state, positions={k: v for k, v in state.positions.items() if k != pos.position_id})

    # ---------------------------------------------------------------- quotes

    def _quote(self, state: PositionsState, rec: ShardInput) -> tuple[PositionsState, list[Output]]:
        q = rec.quote
        assert q is not None
        key = market_key(q.venue, q.market_id)
        facts = link_facts(rec.link)
        if facts is not None and state.links.get(key) != facts:
            state = replace(state, links={**state.links, key: facts})
        top = top_of(q, rec.listing, state.tops.get(key))
        if top is None:
            return state, []
        state = replace(state, tops={**state.tops, key: top})
        out: list[Output] = []
        paid = venue_payout(rec.listing)
        if paid is not None and rec.listing is not None:
            state = self._venue_settles(state, out, key, rec.listing, paid)
        if not top.open:
            return state, out  # closed, paused or settled at the venue: no exit can trade there
        held = [p for p in state.positions.values() if f"{p.venue}:{p.market}" == key]
        for pos in held:
            bid = top.yes_bid if pos.side is Side.YES else top.no_bid
            if bid is None:
                continue
            state, more = self._exit_rule(state, pos, bid, q.ts, q.quote_id)
            out += more
        return state, out

    def _exit_rule(self, state: PositionsState, pos: Position, bid: int, ts: int, ref: str) -> tuple[PositionsState, list[Output]]:
        cfg = self.config.exits
        avg = pos.avg()
        status: PositionStatus | None = None
        if cfg.stop_loss is not None and bid <= avg * (1.0 - cfg.stop_loss):
            status = PositionStatus.STOP_LOSS
        elif cfg.take_profit is not None and bid >= avg + cfg.take_profit * (ONE_DOLLAR - avg):
            status = PositionStatus.TAKE_PROFIT
        if status is None or (pos.last_exit_ts is not None and ts < pos.last_exit_ts + EXIT_RETRY_MS):
            return state, []
        limit = max(bid - cfg.sell_band.value, 10_000)
        why = f"{status.value.lower()}: bid {Micros(bid)} vs average {Micros(avg)}"
        sig = Signal(
            signal_id=f"x-{stable_id(state.account, pos.position_id, status.value, ref)[:24]}",
            event_id=pos.event_id,
            kind=SignalKind.EXIT,
            ts=ts,
            legs=[SignalLeg(venue=_venue(pos.venue), market_id=pos.market, side=pos.side, action=Action.SELL,
                            price_micros=limit, fee_micros=0, size=pos.qty.count)],
            size=pos.qty.count,
            trigger=why,
        )
        pos = replace(pos, last_exit_ts=ts)
        ev = self._event_of(state, pos, status, ts, f"{status.value}:{ref}", why, mark=bid)
        return self._store(state, pos), [ev, sig]

    # ------------------------------------------------------------ settlement

    def _event(self, state: PositionsState, ev: EventState) -> tuple[PositionsState, list[Output]]:
        if ev.status in HALTED:
            return self._halted(state, ev)
        if ev.event_id in state.halted:
            state = replace(state, halted={k: v for k, v in state.halted.items() if k != ev.event_id})
        if ev.status is not EventStatus.FINAL:
            return state, []
        final = Final(ev.event_id, ev.winner, ev.state_id, ev.ts)
        first = ev.event_id not in state.finals
        if first:
            finals = {**state.finals, ev.event_id: final}
            dropped = set(list(finals)[:-FINALS_KEPT])
            state = replace(state, finals={k: v for k, v in finals.items() if k not in dropped},
                            settled={k: v for k, v in state.settled.items() if v.event_id not in dropped})
        out: list[Output] = []
        for pos in sorted((p for p in state.settled.values() if p.event_id == ev.event_id), key=lambda p: p.position_id):
            venue = state.venue_results.get(f"{pos.venue}:{pos.market}")
            if venue is not None and first:  # the venue settled first: the final only cross-checks it
                self._cross_check(state, out, pos, final, venue)
        held = sorted((p for p in state.positions.values() if p.event_id == ev.event_id), key=lambda p: p.position_id)
        for pos in held:
            state, _ = self._settle(state, out, pos, self._payout(state, pos, final), pos.lots, f"settle:{ev.event_id}",
                                    final.ts, final.state_id, _final_note(final))
        return state, out

    def _halted(self, state: PositionsState, ev: EventState) -> tuple[PositionsState, list[Output]]:
        """A postponed, cancelled or suspended event: open positions stay open (the venue settles them by its
        rule); say so once per status."""
        if state.halted.get(ev.event_id) == ev.status.value:
            return state, []
        held = sorted(p.position_id for p in state.positions.values() if p.event_id == ev.event_id)
        if not held:
            return state, []
        state = replace(state, halted={**state.halted, ev.event_id: ev.status.value})
        severity = Severity.WARNING if ev.status is EventStatus.SUSPENDED else Severity.CRITICAL
        msg = (f"event {ev.event_id} is {ev.status.value.lower()} with {len(held)} open position(s) ({', '.join(held)}); "
               "they stay open until the venue settles them by its rule (void, fair price or the rescheduled result)")
        return state, [self._alert(state, ev.ts, severity, msg, f"halted:{ev.event_id}:{ev.status.value}")]

    def _venue_settles(self, state: PositionsState, out: list[Output], key: str, listing: MarketListing,
                       yes_payout: int) -> PositionsState:
        """The venue published the market's settlement: settle what is open there, correct what the final settled."""
        known = state.venue_results.get(key)
        if known is not None and known.yes_payout == yes_payout:
            return state
        venue = VenueResult(key, yes_payout, listing.listing_id, listing.status, listing.ts)
        results = {**state.venue_results, key: venue}
        state = replace(state, venue_results=dict(list(results.items())[-FINALS_KEPT * 4:]))
        for pos in sorted((p for p in state.positions.values() if f"{p.venue}:{p.market}" == key), key=lambda p: p.position_id):
            state, _ = self._settle(state, out, pos, _side_payout(pos, yes_payout), pos.lots, f"settle:{listing.listing_id}",
                                    listing.ts, listing.listing_id, _venue_note(venue))
        for pos in sorted((p for p in state.settled.values() if f"{p.venue}:{p.market}" == key), key=lambda p: p.position_id):
            state = self._correct(state, out, pos, venue)
        return state

    def _correct(self, state: PositionsState, out: list[Output], pos: Position, venue: VenueResult) -> PositionsState:
        """A position settled at another payout (the ESPN final, or an amended venue result): book the difference
        per fill and alert; the venue's figure is what the account is paid."""
        paid = _side_payout(pos, venue.yes_payout).value
        if pos.payout is None or pos.payout == paid:
            return state
        pnl = Micros(0)
        for lot in pos.lots:
            n = Contracts(lot.centi)
            delta = n.cost(Micros(paid)) - n.cost(Micros(pos.payout))
            pnl = pnl + delta
            state = self._book(state, out, f"realized:venue:{lot.fill_id}:{paid}", venue.ts, delta, L.EntryKind.REALIZED,
                               f"{pos.position_id} fill {lot.fill_id} ({n}) re-settled {Micros(paid)} (was {Micros(pos.payout)}): "
                               f"{_venue_note(venue)}", venue.listing_id)
        done = replace(pos, realized=pos.realized + pnl, payout=paid)
        why = (f"{pos.position_id}: settled at {Micros(pos.payout)} but the venue paid {Micros(paid)} "
               f"({_venue_note(venue)}); booked the difference {pnl}")
        out.append(self._alert(state, venue.ts, Severity.ERROR, why, f"resettle:{pos.position_id}:{paid}"))
        out.append(self._event_of(state, done, PositionStatus.SETTLED, venue.ts, f"venue:{venue.listing_id}:{paid}", why,
                                  mark=paid, settled=True))
        return replace(state, settled={**state.settled, pos.position_id: done})

    def _cross_check(self, state: PositionsState, out: list[Output], pos: Position, final: Final, venue: VenueResult) -> None:
        """The ESPN final against the venue's settlement of a position: alert when they disagree."""
        espn = self._payout(state, pos, final)
        paid = _side_payout(pos, venue.yes_payout)
        if isinstance(espn, Micros) and espn == paid:
            return
        said = f"{espn}" if isinstance(espn, Micros) else f"unknown ({espn})"
        out.append(self._alert(state, final.ts, Severity.WARNING,
                               f"{pos.position_id}: the venue paid {paid} ({_venue_note(venue)}) but the final "
                               f"{final.state_id} implies {said}; the venue's result stands",
                               f"crosscheck:{pos.position_id}"))

    def _payout(self, state: PositionsState, pos: Position, final: Final) -> Micros | str:
        """What one contract of `pos` pays at `final`, or why that cannot be known."""
        key = f"{pos.venue}:{pos.market}"
        facts = state.links.get(key)
        if final.winner not in OUTCOMES:
            return f"final state {final.state_id} has no winner ({final.winner!r})"
        if facts is None:
            return f"no market link for {key}: which entity YES backs is unknown"
        if facts.yes_role not in OUTCOMES:
            return f"link of {key} has yes_role {facts.yes_role!r}"
        yes_wins = final.winner == facts.yes_role
        pays = yes_wins if pos.side is Side.YES else not yes_wins
        return Micros(ONE_DOLLAR if pays else 0)

    def _settle(self, state: PositionsState, out: list[Output], pos: Position, payout: Micros | str,
                lots: tuple[Lot, ...], ref: str, ts: int, source: str, why: str) -> tuple[PositionsState, list[Output]]:
        """Book `lots` of `pos` at `payout` (one entry per fill, dated `ts`, referring to `source`) and keep the
        position's accounting among the settled; if the payout cannot be known the position stays open and alerts."""
        if isinstance(payout, str):
            out.append(self._alert(state, ts, Severity.CRITICAL,
                                   f"cannot settle {pos.position_id} ({pos.qty}): {payout}; position stays open",
                                   f"settle:{pos.position_id}"))
            return self._store(state, pos), out
        won = str(payout) if payout.value not in (0, ONE_DOLLAR) else ("$1" if payout.value else "$0")
        pnl = Micros(0)
        for lot in lots:
            delta = Contracts(lot.centi).cost(payout) - Micros(lot.cost)
            pnl = pnl + delta
            note = f"{pos.position_id} fill {lot.fill_id} ({Contracts(lot.centi)}, cost {Micros(lot.cost)}) settled {won} ({why})"
            state = self._book(state, out, f"realized:settle:{lot.fill_id}", ts, delta, L.EntryKind.REALIZED, note, source)
        done = replace(pos, realized=pos.realized + pnl, payout=payout.value)
        note = f"{pos.position_id} {pos.qty} settled {won} ({why})"
        out.append(self._event_of(state, done, PositionStatus.SETTLED, ts, ref, note, mark=payout.value, settled=True))
        positions = {k: v for k, v in state.positions.items() if k != pos.position_id}
        return replace(state, positions=positions, settled={**state.settled, pos.position_id: done}), out

    # ---------------------------------------------------------------- records

    def _event_of(self, state: PositionsState, pos: Position, status: PositionStatus, ts: int, ref: str, reason: str,
                  mark: int | None = None, settled: bool = False) -> PositionEvent:
        top = state.tops.get(f"{pos.venue}:{pos.market}")
        if mark is None and top is not None:
            mark = top.yes_bid if pos.side is Side.YES else top.no_bid
        unreal = 0 if settled or mark is None else pos.qty.cost(Micros(mark)).value - pos.cost.value
        return PositionEvent(
            position_event_id=f"{pos.position_id}:{ref}",
            position_id=pos.position_id,
            account=state.account,
            status=status,
            ts=ts,
            event_id=pos.event_id,
            venue=_venue(pos.venue),
            market_id=pos.market,
            side=pos.side,
            quantity=0.0 if settled else pos.qty.count,
            avg_price_micros=pos.avg(),
            mark_price_micros=mark,
            realized_pnl_micros=pos.realized.value,
            unrealized_pnl_micros=unreal,
            fees_micros=pos.fees.value,
            reason=reason,
        )

    def _alert(self, state: PositionsState, ts: int, severity: Severity, message: str, topic: str) -> Alert:
        return Alert(alert_id=f"a-{stable_id(state.account, topic, ts)[:24]}", dedupe_key=f"positions:{state.account}:{topic}",
                     severity=severity, ts=ts, service="positions", message=message)


def _venue(value: str) -> Venue:
    return Venue(value)


def _side_payout(pos: Position, yes_payout: int) -> Micros:
    return Micros(yes_payout if pos.side is Side.YES else ONE_DOLLAR - yes_payout)


def _venue_note(venue: VenueResult) -> str:
    return f"venue {venue.listing_id} {venue.status}, YES pays {Micros(venue.yes_payout)}"


def _final_note(final: Final) -> str:
    return f"winner {final.winner}, event {final.event_id}"
