"""Execution: handled ids refused, live outcomes (rejected, unknown → reconcile), arbitrage unwind,
and paper mode that provably never reaches a live client."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from schemas import depth
from schemas.enums import Action, OrderState, RiskKind, Severity, Side, SignalKind, TimeInForce, TradingMode, Venue
from schemas.records import Alert, Fill, Order, OrderStatus, RiskEvent, Signal, SignalLeg
from streams.config import Settings
from streams.trading.config import TradingConfig
from streams.trading.execution_processor import (
    ExecutionProcessor,
    LiveAnswer,
    MarkHandled,
    Reconcile,
    ReconcileOutcome,
    Submit,
    SubmitOutcome,
)
from streams.trading.ids import group_id
from tests.unit.trading.hosts import paper_host
from streams.trading.market_view import MarketBooks, market_key, observe_book
from tests.unit.trading import recorded_game as game

T = game.KICKOFF_MS + 3_600_000
REPO = Path(__file__).resolve().parents[3]


@dataclass
class View:
    handled_ids: dict[str, str] = field(default_factory=dict)
    market: dict[str, MarketBooks] = field(default_factory=dict)

    def handled(self, order_id: str) -> str | None:
        return self.handled_ids.get(order_id)

    def books(self, key: str) -> MarketBooks | None:
        return self.market.get(key)

    def absorb(self, outs: list) -> None:
        for o in outs:
            if isinstance(o, MarkHandled):
                self.handled_ids[o.order_id] = o.outcome


def view_with_books() -> View:
    v = View()
    for ticker in (game.GB, game.DET):
        rec = game.quote_input(ticker, T)
        assert rec.quote is not None
        key = market_key(Venue.KALSHI, ticker)
        v.market[key] = observe_book(None, key, rec.quote, rec.listing, 8)
    return v


def order(oid: str = "o-1", mode: TradingMode = TradingMode.PAPER, **kw: object) -> Order:
    base = Order(order_id=oid, account="paper", ts=T + 1_000, mode=mode, venue=Venue.KALSHI, market_id=game.GB,
                 event_id=game.EVENT_ID, side=Side.YES, action=Action.BUY, limit_price_micros=440_000, count=10.0)
    return replace(base, **kw)  # type: ignore[arg-type]


def read_past(proc: ExecutionProcessor, ts: int = T + 5_000):  # type: ignore[no-untyped-def]
    """An account state that has read market data up to `ts` (past the orders' time + latency)."""
    return replace(proc.initial("paper"), watermark=ts)


def test_an_order_id_already_handled_is_refused_whatever_the_replay() -> None:
    proc, v = ExecutionProcessor(), view_with_books()
    st, outs = proc.step(read_past(proc), order(), v)
    v.absorb(outs)
    assert [type(o).__name__ for o in outs] == ["Fill", "OrderStatus", "MarkHandled"]
    st, again = proc.step(st, order(count=3.0), v)  # a replay, even re-sized, is not executed twice
    assert again == []


def test_a_paper_order_fills_against_the_book_of_its_own_time_even_when_that_book_comes_after_it() -> None:
    """A worker reads orders and market data from different topics, so an order can overtake the book of
    its own instant. It waits until market data past its time + latency is read, then fills against the
    book as of that time: the same fill whichever topic a worker (or the in-process engine) read first."""
    proc, v = ExecutionProcessor(), view_with_books()  # books at T: GB asks $0.44 × 17
    o = order(limit_price_micros=440_000)  # at T + 1 s
    st, outs = proc.step(proc.initial("paper"), o, v)
    assert outs == [] and o.order_id in st.parked  # was: filled at once against the T book
    moved = game.quote_input(game.GB, T + 1_000)  # the book of the order's instant: asks now $0.45
    assert moved.quote is not None
    q = moved.quote
    q = replace(q, quote_id="moved", yes_ask_micros=450_000,
                no_bid_depth=depth.pack_levels([(550_000, 17.0)]))  # Kalshi: YES asks are NO bids
    key = market_key(Venue.KALSHI, game.GB)
    v.market[key] = observe_book(v.market[key], key, q, moved.listing, 8)
    st, outs = proc.step(st, replace(moved, quote=q), v)
    assert outs == []  # T + 1 s is not past T + 1.25 s: a later book of that instant may still come
    st, outs = proc.step(st, game.quote_input(game.DET, T + 2_000), v)
    status = next(x for x in outs if isinstance(x, OrderStatus))
    assert status.state is OrderState.CANCELED and "nothing within limit" in status.reason and not st.parked
    assert not [x for x in outs if isinstance(x, Fill)]


def test_live_rejection_becomes_rejected_status_and_alert_never_a_crash() -> None:
    proc, v = ExecutionProcessor(live_venues=frozenset({Venue.KALSHI})), view_with_books()
    st, outs = proc.step(proc.initial("paper"), order(mode=TradingMode.LIVE), v)
    assert [type(o) for o in outs] == [MarkHandled, Submit] and outs[0].outcome == "submitting"
    st, outs = proc.step(st, SubmitOutcome(order(mode=TradingMode.LIVE), T + 2_000, rejected="HTTP 400: invalid price"), v)
    status = next(o for o in outs if isinstance(o, OrderStatus))
    assert status.state is OrderState.REJECTED and "invalid price" in status.reason
    assert any(isinstance(o, Alert) and o.severity is Severity.ERROR for o in outs)


def test_unknown_outcome_blocks_the_account_until_reconciled_by_client_order_id_and_never_resubmits() -> None:
    proc, v = ExecutionProcessor(live_venues=frozenset({Venue.KALSHI})), view_with_books()
    live = order(mode=TradingMode.LIVE)
    st, outs = proc.step(proc.initial("paper"), live, v)
    v.absorb(outs)
    st, outs = proc.step(st, SubmitOutcome(live, T + 2_000, unknown="ReadTimeout"), v)
    v.absorb(outs)
    assert [o.state for o in outs if isinstance(o, OrderStatus)] == [OrderState.UNKNOWN]
    assert any(isinstance(o, Reconcile) for o in outs) and not any(isinstance(o, Submit) for o in outs)
    st, outs = proc.step(st, order("o-2", mode=TradingMode.LIVE), v)  # blocked: refused, not queued
    assert [o.state for o in outs if isinstance(o, OrderStatus)] == [OrderState.REJECTED]
    st, outs = proc.step(st, ReconcileOutcome(live, T + 3_000, error="lookup timed out"), v)
    assert outs == [] and st.blocked_by == ("o-1",)  # still unknown: looked up again after the backoff, not now
    found = OrderStatus("k:1", "o-1", "paper", OrderState.FILLED, T + 3_000, filled_count=10.0, venue_order_id="v1")
    fill = Fill("kalshi:t1", "o-1", "paper", T + 2_000, mode=TradingMode.LIVE, venue=Venue.KALSHI, market_id=game.GB,
                price_micros=440_000, count=10.0, fee_micros=180_000)
    st, outs = proc.step(st, ReconcileOutcome(live, T + 3_000, answer=LiveAnswer(found, (fill,))), v)
    assert st.blocked_by == () and fill in outs and found in outs


def test_a_worker_restart_during_a_live_submit_is_an_unknown_outcome() -> None:
    proc, v = ExecutionProcessor(live_venues=frozenset({Venue.KALSHI})), view_with_books()
    v.handled_ids["o-1"] = "submitting"  # the mark survived in the changelog; the answer did not
    st, outs = proc.step(proc.initial("paper"), order(mode=TradingMode.LIVE), v)
    assert [o.state for o in outs if isinstance(o, OrderStatus)] == [OrderState.UNKNOWN] and st.blocked_by == ("o-1",)


def test_arbitrage_leg_that_filled_alone_is_unwound_at_the_bid_and_recorded() -> None:
    proc, v = ExecutionProcessor(TradingConfig()), view_with_books()
    gid = group_id("sig-arb", 2)
    yes = order("o-a", tif=TimeInForce.FOK, group_id=gid, count=10.0)  # 0.44 × 17 on the book: fills
    no = order("o-b", tif=TimeInForce.FOK, group_id=gid, market_id=game.DET, side=Side.NO, limit_price_micros=400_000)
    st, outs = proc.step(read_past(proc), yes, v)
    assert not any(isinstance(o, Order) for o in outs)  # waits for the other leg
    st, outs = proc.step(st, no, v)  # DET NO asks start at 0.44 > 0.40: FOK cancels
    unwind = [o for o in outs if isinstance(o, Order)]
    assert len(unwind) == 1 and unwind[0].action is Action.SELL and unwind[0].count == 10.0
    assert unwind[0].limit_price_micros == 420_000 - 20_000 and unwind[0].market_id == game.GB
    assert any(isinstance(o, RiskEvent) and o.rule == "arb_leg_unwind" and o.kind is RiskKind.LIMIT_HIT for o in outs)
    assert any(isinstance(o, Alert) and "unwinding 10 contracts" in o.message for o in outs)
    assert st.groups == {}


def test_paper_loop_never_calls_a_live_client() -> None:
    """The whole trading topology in paper mode, with a venue whose every call fails the test.

    Paper mode builds execution without live venues (streams.agents.live.live_venues is empty), so the
    venue must never be asked; a stage that awaited it would also be dead-lettered by the in-process host."""
    class Forbidden:
        async def submit(self, *args: object) -> object:
            pytest.fail(f"paper mode reached a live client: {args}")

        lookup = submit

    loop = paper_host()
    loop.stages.venues = lambda: {}  # what a paper worker's live_venues() gives
    never = Forbidden()
    assert loop.stages.execution_processor.live_venues == frozenset()
    loop.stages.venues = lambda: {Venue.KALSHI: never}  # had anything asked for a venue, this one answers
    loop.publish(game.deposit("paper"))
    for ticker in (game.GB, game.DET):
        loop.publish(game.quote_input(ticker, T))
    loop.publish(game.gb_signal(T + 1_000))
    arb = Signal("sig-arb", game.EVENT_ID, SignalKind.CROSS_VENUE_ARB, T + 2_000, legs=[
        SignalLeg(Venue.KALSHI, game.GB, Side.YES, Action.BUY, 440_000, 17_648, 17.0, "b"),
        SignalLeg(Venue.KALSHI, game.DET, Side.NO, Action.BUY, 460_000, 17_400, 17.0, "a")], size=5.0, edge=0.06)
    loop.publish(arb)
    loop.publish(game.final_input())
    assert all(o.mode is TradingMode.PAPER for o in loop.log["orders"])
    assert len(loop.log["orders"]) >= 3 and loop.state("trading-sizing", "paper").ledger.version >= 4
    assert loop.deadletters == []


def test_without_live_no_live_client_is_built_and_no_connector_is_imported() -> None:
    code = (
        "import sys\n"
        "from streams.config import Settings\n"
        "from schemas.enums import TradingMode\n"
        "from streams.agents.live import LiveRefused, live_venues\n"
        "assert live_venues(Settings()) == {}\n"
        "try:\n    live_venues(Settings(mode=TradingMode.LIVE), env={'KALSHI_API_KEY_ID': 'k', 'KALSHI_PRIVATE_KEY_PATH': '/x'})\n"
        "except LiveRefused as exc:\n    print('refused:', exc)\n"
        "print(sorted(m for m in sys.modules if m.startswith('connectors')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "refused: ARBEES_MODE=live but the worker was not started with --live" in proc.stdout
    assert proc.stdout.strip().endswith("[]")  # no connector module was even imported


def test_live_needs_credentials_even_with_the_flag() -> None:
    from streams.agents import live

    live.request_live()
    try:
        with pytest.raises(live.LiveRefused, match="credentials"):
            live.live_venues(Settings(mode=TradingMode.LIVE), env={})
    finally:
        live._requested = False


def _gb_books(v: View, times: list[int], window_ms: int) -> None:
    """The recorded GB book observed at each of `times` (the same levels, a new quote id each)."""
    key = market_key(Venue.KALSHI, game.GB)
    for ts in times:
        rec = game.quote_input(game.GB, ts)
        assert rec.quote is not None
        v.market[key] = observe_book(v.market.get(key), key, rec.quote, rec.listing, window_ms)


def test_an_order_read_after_its_book_left_the_history_gets_a_terminal_status_at_once() -> None:
    """A worker catching up after a restart can read an order after more market data of its market than
    the history's window of event time holds: the book as of its time is gone for good. It used to park
    until market data 10 s past its time arrived (forever at the end of a stream, as under SIGKILLs in the
    crash test); now it is rejected at once, saying why."""
    proc = ExecutionProcessor()
    window = proc.config.book_window_ms
    v = View()
    _gb_books(v, [T + 1_000, T + 2_000, T + 3_000 + window], window)  # the order's book (T + 1 s) is dropped
    assert [q.ts for q in v.market[market_key(Venue.KALSHI, game.GB)].history] == [T + 2_000, T + 3_000 + window]
    st, outs = proc.step(read_past(proc, T + 3_000 + window), order(), v)
    status = next(x for x in outs if isinstance(x, OrderStatus))
    assert status.state is OrderState.REJECTED and "no longer held" in status.reason, status.reason
    assert f"read {3_000 + window - 1_250} ms of market time late" in status.reason
    assert not st.parked


def test_an_order_read_long_after_its_time_with_no_book_is_decided_without_waiting_for_more_data() -> None:
    """Market data well past the order's time + latency + the wait has been read and no book of its
    market is known: no later record can change that, so it is rejected now, not parked."""
    proc = ExecutionProcessor()
    wait = proc.config.paper.max_book_wait_ms
    st, outs = proc.step(read_past(proc, T + 1_250 + wait + 1), order(), View())
    status = next(x for x in outs if isinstance(x, OrderStatus))
    assert status.state is OrderState.REJECTED and "no book" in status.reason and not st.parked


def test_a_parked_order_whose_book_is_still_held_fills_on_the_next_market_record() -> None:
    """The normal catch-up: the order's book is within the window, so it fills against it (not rejected),
    however many later books were read (a bound by count, 16, dropped it after 1.6 s of these)."""
    proc = ExecutionProcessor()
    window = proc.config.book_window_ms
    v = View()
    _gb_books(v, [T + 1_000] + [T + 2_000 + 100 * i for i in range(200)], window)
    st, outs = proc.step(read_past(proc, T + 22_000), order(), v)
    assert [type(o).__name__ for o in outs] == ["Fill", "OrderStatus", "MarkHandled"]
