"""Positions from fills, settlement P&L to the cent with fees, exits through the risk path, the ledger rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas import depth
from schemas.enums import Action, PositionStatus, Severity, SignalKind
from schemas.records import Alert, Fill, LedgerEntry, Order, PositionEvent, ShardInput, Signal
from streams.trading import ledger as L
from streams.local import LocalHost
from streams.topology import INBOX
from tests.unit.trading.hosts import paper_host
from streams.trading.positions_processor import PositionsProcessor
from streams.trading.units import Micros
from tests.unit.trading import recorded_game as game

T = game.KICKOFF_MS + 3_600_000


def unchanged_book(ticker: str, ts: int) -> ShardInput:
    """Market data at `ts` with the book of T unchanged: a paper order fills once data past its time is read."""
    return replace(game.quote_input(ticker, T), input_id=f"tick:{ticker}:{ts}", ts=ts)


def played_loop(final: bool = True) -> LocalHost:
    loop = paper_host()
    loop.publish(game.deposit("paper"))
    for ticker in (game.GB, game.DET):
        loop.publish(game.quote_input(ticker, T))
    loop.publish(game.gb_signal(T + 1_000))
    loop.publish(unchanged_book(game.GB, T + 1_500))  # market data past the order's time + latency: it fills
    loop.publish(game.det_signal(T + 2_000))
    loop.publish(unchanged_book(game.DET, T + 3_000))
    if final:
        loop.publish(game.final_input())
    return loop


def test_settlement_pnl_to_the_cent_with_fees_on_the_recorded_game() -> None:
    loop = played_loop()
    settled = {p.market_id: p for p in loop.log["positions"] if p.status is PositionStatus.SETTLED}
    # GB won (31-24): 17 YES GB bought at $0.44 pay $17.00 → +$9.52 before its $0.30 fee
    assert (settled[game.GB].realized_pnl_micros, settled[game.GB].fees_micros) == (9_520_000, 300_000)
    # 13 YES DET at $0.58 pay $0 → −$7.54, fee $0.23
    assert (settled[game.DET].realized_pnl_micros, settled[game.DET].fees_micros) == (-7_540_000, 230_000)
    ledger = loop.state("trading-sizing", "paper").ledger
    assert ledger.balance == Micros(game.FINAL_BANKROLL_MICROS) == Micros(1_001_450_000) and ledger.version == 5
    # the fees were paid on game day; the settlements land on the day the final state was seen
    assert loop.state("trading-sizing", "paper").risk.day == "2025-11-30" and loop.state("trading-sizing", "paper").risk.day_pnl == Micros(9_520_000 - 7_540_000)


def test_undeterminable_outcome_keeps_the_position_open_and_alerts() -> None:
    loop = played_loop(final=False)
    no_winner = game.final_input()
    no_winner = replace(no_winner, state=replace(no_winner.state, winner=None))
    loop.publish(no_winner)
    assert not [p for p in loop.log["positions"] if p.status is PositionStatus.SETTLED]
    alerts = [a for a in loop.log["alerts"] if isinstance(a, Alert)]
    assert len(alerts) == 2 and all(a.severity is Severity.CRITICAL and "stays open" in a.message for a in alerts)
    assert len(loop.state("trading-positions", "paper").positions) == 2 and loop.state("trading-sizing", "paper").ledger.version == 3


def test_stop_loss_emits_an_exit_signal_that_sizing_turns_into_a_sell_that_fills_against_bids() -> None:
    loop = played_loop(final=False)
    crash = game.quote_input(game.GB, T + 60_000)
    q = crash.quote
    assert q is not None
    # GB YES bid collapses to $0.20 (≤ 0.44 × 0.5): stop-loss
    q = replace(q, quote_id="crash", yes_bid_micros=200_000, yes_bid_size=50.0, yes_bid_depth=depth.pack_levels([(200_000, 50.0)]))
    loop.publish(replace(crash, quote=q, input_id="crash"))
    loop.publish(game.quote_input(game.DET, T + 61_000))  # market data past the sell's time + latency: it fills
    exits = [s for s in loop.log[INBOX] if isinstance(s, Signal) and s.kind is SignalKind.EXIT]
    assert len(exits) == 1 and exits[0].legs[0].action is Action.SELL
    sells = [o for o in loop.log["orders"] if isinstance(o, Order) and o.action is Action.SELL]
    assert len(sells) == 1 and sells[0].count == 17.0 and sells[0].limit_price_micros == 180_000
    sold = [f for f in loop.log["fills"] if isinstance(f, Fill) and f.action is Action.SELL]
    assert [(f.price_micros, f.count) for f in sold] == [(200_000, 17.0)]
    # realized: 17 × (0.20 − 0.44) = −$4.08; fee ceil(0.07 × 17 × 0.2 × 0.8) = $0.20
    entries = {e.entry_id.split(":")[0]: e for e in loop.log["ledger"] if isinstance(e, LedgerEntry) and sold[0].fill_id in e.entry_id}
    assert entries["realized"].delta_micros == -4_080_000 and entries["fee"].delta_micros == -200_000
    assert any(p.status is PositionStatus.STOP_LOSS for p in loop.log["positions"] if isinstance(p, PositionEvent))


def test_a_foreign_entry_on_our_version_makes_positions_rebuild_its_entries_on_the_new_tip() -> None:
    proc = PositionsProcessor()
    st = proc.initial("paper")
    st, _ = proc.step(st, game.deposit("paper"))
    fill = Fill("f1", "o1", "paper", T, venue=game.link(game.GB).venue, market_id=game.GB, event_id=game.EVENT_ID,
                price_micros=440_000, count=17.0, fee_micros=300_000)
    st, outs = proc.step(st, fill)
    (mine,) = [o for o in outs if isinstance(o, LedgerEntry)]
    assert mine.version == 2
    foreign = game.deposit("paper", amount=5_000_000, version=2, balance_before=1_000_000_000)
    st, outs = proc.step(st, foreign)  # the operator's deposit landed first on version 2
    (rebuilt,) = outs
    assert (rebuilt.entry_id, rebuilt.version, rebuilt.balance_micros) == (mine.entry_id, 3, 1_004_700_000)
    st, _ = proc.step(st, mine)  # the stale copy arrives: refused, nothing re-sent
    st, outs = proc.step(st, rebuilt)
    assert outs == [] and st.pending == () and st.ledger.balance == Micros(1_004_700_000)


@pytest.mark.parametrize("copy_version", [2, 3])
def test_the_ledger_rule_refuses_duplicates_stale_and_gaps(copy_version: int) -> None:
    s = L.LedgerState()
    d = game.deposit("paper")
    s, v = L.apply(s, d)
    assert v is L.Verdict.ACCEPTED
    fee = L.build_entry(1, s.balance, entry_id="fee:x", account="paper", ts=T, delta=Micros(-300_000),
                        kind=L.EntryKind.FEE, note="", ref="x")
    s, v = L.apply(s, fee)
    assert v is L.Verdict.ACCEPTED
    s2, v = L.apply(s, L.rebase(fee, copy_version - 1, Micros(s.balance.value if copy_version == 3 else 1_000_000_000)))
    assert v is L.Verdict.DUPLICATE and s2 == s  # the same entry is never booked twice, at any version
    other = L.build_entry(1, Micros(1_000_000_000), entry_id="fee:y", account="paper", ts=T, delta=Micros(-1),
                          kind=L.EntryKind.FEE, note="", ref="y")
    assert L.apply(s, other)[1] is L.Verdict.STALE
    assert L.apply(s, L.rebase(other, 5, s.balance))[1] is L.Verdict.GAP
