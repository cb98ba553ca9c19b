"""The chaos invariants catch what they name: each check fails on the violation and passes without it.

The records are MADE UP (small, hand-built, ids from streams.trading.ids as the
agents derive them); the proof on real records is the chaos run itself
(tests/integration/test_chaos.py), which reads what the process set wrote.
"""

from __future__ import annotations

from dataclasses import replace

from ops.chaos.invariants import Seen, check_sink, check_trading, one_order_per_leg
from schemas.enums import Action, OrderState, PositionStatus, Side, SignalKind, Venue
from schemas.records import Fill, LedgerEntry, Order, OrderStatus, PositionEvent, Signal
from streams.trading.ids import group_id, order_id, unwind_order_id

ACCT = "chaos"
SIG = "sig-made-up-1"
INBOX = "inbox"


def order(leg: int = 0, legs: int = 1, **kw) -> Order:
    return Order(order_id=order_id(ACCT, SIG, leg), account=ACCT, ts=1_000, signal_id=SIG, venue=Venue.KALSHI,
                 market_id="M", side=Side.YES, action=Action.BUY, limit_price_micros=400_000, count=10.0,
                 group_id=group_id(SIG, legs) if legs > 1 else None, **kw)


def world(*, fee_booked: int = -70_000, extra_order: Order | None = None) -> dict[str, list[Seen]]:
    o = order()
    f = Fill(fill_id=f"{o.order_id}:f0", order_id=o.order_id, account=ACCT, ts=1_100, venue=Venue.KALSHI, market_id="M",
             side=Side.YES, action=Action.BUY, price_micros=400_000, count=10.0, fee_micros=70_000)
    st = OrderStatus(status_id=f"{o.order_id}:s", order_id=o.order_id, account=ACCT, state=OrderState.FILLED, ts=1_100,
                     filled_count=10.0)
    ledger = [LedgerEntry(entry_id="deposit:chaos:1", account=ACCT, ts=1, delta_micros=1_000_000_000,
                          balance_micros=1_000_000_000, version=1, reason="deposit: made up"),
              LedgerEntry(entry_id=f"fee:{f.fill_id}", account=ACCT, ts=1_100, delta_micros=fee_booked,
                          balance_micros=1_000_000_000 + fee_booked, version=2, reason="fee: made up")]
    pos = PositionEvent(position_event_id="pe1", position_id="p1", account=ACCT, status=PositionStatus.OPEN, ts=1_100,
                        venue=Venue.KALSHI, market_id="M", side=Side.YES, quantity=10.0)
    orders = [o] + ([extra_order] if extra_order else [])
    seen = lambda topic, recs: [Seen(topic, 0, i, r) for i, r in enumerate(recs)]  # noqa: E731
    return {"orders": seen("orders", orders), "fills": seen("fills", [st, f]), "ledger": seen("ledger", ledger),
            "positions": seen("positions", [pos]), "risk.state": [],
            INBOX: seen(INBOX, [Signal(signal_id=SIG, event_id="e", kind=SignalKind.MODEL_EDGE, ts=900)])}


def bad(findings) -> dict[str, int]:
    return {f.name: f.count for f in findings if not f.ok}


def test_a_consistent_world_passes_every_check() -> None:
    findings = check_trading(world(), INBOX, ACCT)
    assert bad(findings) == {} and all(f.checked > 0 for f in findings if "P&L" not in f.name and "position" not in f.name)


def test_a_second_decision_on_a_signal_is_a_duplicate() -> None:
    other = replace(order(), order_id="o-another-decision")
    assert bad(check_trading(world(extra_order=other), INBOX, ACCT))["each signal at most one order per leg"] == 1


def test_arbitrage_legs_and_their_unwind_are_one_decision() -> None:
    legs = [order(0, 2), order(1, 2)]
    unwind = replace(legs[1], order_id=unwind_order_id(legs[1].order_id), action=Action.SELL)
    assert one_order_per_leg([*legs, unwind], ACCT).ok
    assert not one_order_per_leg([*legs, order(2, 2)], ACCT).ok  # a third leg of a two-leg signal


def test_a_fee_booked_wrong_or_an_order_without_an_outcome_is_caught() -> None:
    assert "each fill's fee booked once, to the cent" in bad(check_trading(world(fee_booked=-50_000), INBOX, ACCT))
    w = world()
    w["fills"] = [s for s in w["fills"] if not isinstance(s.record, OrderStatus)]
    assert bad(check_trading(w, INBOX, ACCT))["each order exactly one terminal status"] == 1


def test_a_topic_record_missing_from_the_database_is_lost_and_a_stray_row_is_a_duplicate() -> None:
    w = {"orders": world()["orders"]}
    from ops.sink.mapping import SourceRef, to_row

    row = to_row(w["orders"][0].record, SourceRef("orders", 0, 0))
    key = tuple(row.values[row.table.column_names.index(k)] for k in row.table.key)
    assert bad(check_sink(w, {"orders": {key}})) == {}
    assert bad(check_sink(w, {"orders": set()})) == {"every topic record is a database row": 1}
    assert bad(check_sink(w, {"orders": {key, ("o-stray", key[1])}})) == {"every database row is a topic record": 1}
