"""Settlement does not depend on the order in which fills and the final state are read.

The positions agent reads `fills`, the inbox (final states) and `ledger` as one
stream, and Kafka orders records only within a partition: a worker catching up
after a restart can read the event's final state before some of its fills, and a
worker restored from a changelog that lags can replay the same records in another
interleaving than the first time. These tests drive the processor alone, feeding
its ledger entries back as the ledger topic would, and read the result with the
ledger rule every reader applies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from schemas.enums import Action, PositionStatus, Side, Venue
from schemas.records import Fill, LedgerEntry, PositionEvent, ShardInput
from streams.trading import ledger as L
from streams.trading.positions_processor import PositionsProcessor, PositionsState
from tests.unit.trading import recorded_game as game

T = game.KICKOFF_MS + 3_600_000
ACCT = "paper"


def fill(i: int, count: float, price: int = 440_000, fee: int = 10_000, action: Action = Action.BUY) -> Fill:
    return Fill(f"o{i}:f0", f"o{i}", ACCT, T + 1_000 * i, venue=Venue.KALSHI, market_id=game.GB, event_id=game.EVENT_ID,
                price_micros=price, count=count, fee_micros=fee, side=Side.YES, action=action)


@dataclass
class Harness:
    """One positions processor and the ledger topic it writes to (and reads back, as the agent does)."""

    proc: PositionsProcessor = field(default_factory=PositionsProcessor)
    log: list[LedgerEntry] = field(default_factory=list)
    events: list[PositionEvent] = field(default_factory=list)

    def feed(self, state: PositionsState, records: list[Fill | ShardInput | LedgerEntry]) -> PositionsState:
        queue = list(records)
        while queue:
            state, outs = self.proc.step(state, queue.pop(0))
            for out in outs:
                if isinstance(out, LedgerEntry):
                    self.log.append(out)
                    queue.append(out)
                elif isinstance(out, PositionEvent):
                    self.events.append(out)
        return state

    def booked(self) -> L.LedgerState:
        st = L.LedgerState()
        for e in self.log:
            st, _ = L.apply(st, e)
        return st


def opened(h: Harness) -> PositionsState:
    deposit = game.deposit(ACCT)
    h.log.append(deposit)
    return h.feed(h.proc.initial(ACCT), [deposit, game.quote_input(game.GB, T)])


FILLS = [fill(1, 17.0), fill(2, 3.0, price=450_000), fill(3, 2.5, price=430_000)]
#: GB won: YES pays $1. 22.5 contracts cost 17 × 0.44 + 3 × 0.45 + 2.5 × 0.43 = $9.905; fees 3 × $0.01.
SETTLED_PNL = 22_500_000 - 9_905_000
BALANCE = game.ONE_THOUSAND_DOLLARS - 30_000 + SETTLED_PNL


def test_a_fill_read_after_the_final_state_is_settled_on_arrival() -> None:
    """The crash-test failure: the final state overtook two fills; their contracts were never settled."""
    h = Harness()
    st = h.feed(opened(h), [FILLS[0], game.final_input(), FILLS[1], FILLS[2]])
    booked = h.booked()
    assert booked.balance.value == BALANCE and booked.version == 1 + 3 + 3  # deposit, a fee and a settlement per fill
    assert not st.positions and st.pending == ()
    late = [p for p in h.events if p.status is PositionStatus.SETTLED]
    pid = late[0].position_id
    assert [p.position_event_id for p in late] == [f"{pid}:settle:{game.EVENT_ID}", f"{pid}:settle:o2:f0", f"{pid}:settle:o3:f0"]
    settle_ids = [e.entry_id for e in h.log if e.entry_id.startswith("realized:settle:")]
    assert settle_ids == [f"realized:settle:{f.fill_id}" for f in FILLS]
    assert late[-1].realized_pnl_micros == SETTLED_PNL and late[-1].quantity == 0.0


ORDERS = sorted(set(itertools.permutations(["F", 0, 1, 2])), key=str)
IN_FILL_ORDER = [o for o in ORDERS if [x for x in o if x != "F"] == [0, 1, 2]]  # fills keep their partition's order


@pytest.mark.parametrize("first", IN_FILL_ORDER)
@pytest.mark.parametrize("replay", IN_FILL_ORDER)
@pytest.mark.parametrize("ledger_first", [True, False])
def test_a_restart_from_an_older_state_replaying_in_another_order_books_each_entry_once(
        first: tuple, replay: tuple, ledger_first: bool) -> None:
    """Run once in `first` order, then restart from the state before any of it (the changelog lagged) and replay
    the same inputs in `replay` order, with the ledger topic's records before or after: the log balances."""
    h = Harness()
    start = opened(h)
    records: dict[int | str, Fill | ShardInput] = {**dict(enumerate(FILLS)), "F": game.final_input()}
    h.feed(start, [records[k] for k in first])
    written = list(h.log[1:])
    replayed = [records[k] for k in replay]
    st = h.feed(start, [*written, *replayed] if ledger_first else [*replayed, *written])
    booked = h.booked()
    assert booked.balance.value == BALANCE, [(e.entry_id, e.version, e.delta_micros) for e in h.log]
    assert booked.version == 7 and st.pending == () and not st.positions


def test_a_sell_read_after_the_final_state_is_booked_against_what_was_settled() -> None:
    """10 bought at $0.44, 4 sold at $0.60 before the end but read after it: 6 pay $1."""
    h = Harness()
    buy, sell = fill(1, 10.0), fill(2, 4.0, price=600_000, fee=0, action=Action.SELL)
    h.feed(opened(h), [buy, game.final_input(), sell])
    expected = game.ONE_THOUSAND_DOLLARS - 10_000 - 4_400_000 + 2_400_000 + 6_000_000
    assert h.booked().balance.value == expected
    in_order = Harness()
    in_order.feed(opened(in_order), [buy, sell, game.final_input()])
    assert in_order.booked().balance.value == expected
    assert {e.entry_id for e in h.log} == {e.entry_id for e in in_order.log}
