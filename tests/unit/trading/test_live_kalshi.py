"""The live Kalshi order path over the simulator's real sockets (recorded create/fill payloads):
statuses go to the order's own account, an accepted order whose reply cannot be read is an unknown
outcome reconciled by client order id, and a fill without `fee_cost` is booked with the fee of
Kalshi's schedule and marked as computed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.simulator import KalshiSimulator
from schemas.enums import Action, OrderState, Side, TimeInForce, TradingMode, Venue
from schemas.records import Fill, Order, OrderStatus
from streams.agents import live
from streams.config import Settings
from streams.trading.execution_processor import ExecutionProcessor, Reconcile, ReconcileOutcome, SubmitOutcome
from streams.trading.positions_processor import PositionsProcessor
from streams.trading.sizing_processor import SizingProcessor, Working
from streams.trading.units import Contracts, Micros
from tests.unit.trading import recorded_game as game
from tests.unit.trading.test_execution import view_with_books

ACCOUNT = "acct-7"  # not the "live" the client used to stamp on every status


def live_order(oid: str = "sig-77:0", **kw: object) -> Order:
    base = Order(order_id=oid, account=ACCOUNT, ts=game.KICKOFF_MS, mode=TradingMode.LIVE, venue=Venue.KALSHI,
                 market_id=game.GB, event_id=game.EVENT_ID, side=Side.YES, action=Action.BUY,
                 limit_price_micros=20_000, count=1.0, tif=TimeInForce.GTC)
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def requested() -> Iterator[None]:
    live.request_live()
    yield
    live._requested = False


async def _sim(key_pem: bytes, **kw: object) -> KalshiSimulator:
    sim = KalshiSimulator(public_key_pem=KalshiSigner.from_pem("test-key", key_pem).public_key_pem(), **kw)  # type: ignore[arg-type]
    await sim.start()
    return sim


@pytest.fixture()
async def sim(key_pem: bytes) -> AsyncIterator[KalshiSimulator]:
    s = await _sim(key_pem)
    yield s
    await s.stop()


def kalshi_venue(sim: KalshiSimulator, key_file: Path) -> live.KalshiLive:
    """Built exactly as a live worker builds it: live_venues over the environment."""
    env = {"KALSHI_API_KEY_ID": "test-key", "KALSHI_PRIVATE_KEY_PATH": str(key_file), "KALSHI_REST_URL": sim.rest_url}
    venue = live.live_venues(Settings(mode=TradingMode.LIVE), env=env)[Venue.KALSHI]
    assert isinstance(venue, live.KalshiLive)
    return venue


async def test_statuses_of_a_live_order_go_to_its_own_account_and_release_its_reservation(
        requested: None, sim: KalshiSimulator, key_file: Path) -> None:
    venue = kalshi_venue(sim, key_file)
    proc, view = ExecutionProcessor(live_venues=frozenset({Venue.KALSHI})), view_with_books()
    order = live_order()
    st, outs = proc.step(proc.initial(ACCOUNT), order, view)
    view.absorb(outs)
    answer = await venue.submit(order, None)  # the recorded create answer: resting
    assert answer.status.account == ACCOUNT and answer.status.state is OrderState.RESTING
    st, outs = proc.step(st, SubmitOutcome(order, order.ts, answer=answer), view)
    statuses = [o for o in outs if isinstance(o, OrderStatus)]
    assert [(s.account, s.state) for s in statuses] == [(ACCOUNT, OrderState.RESTING)]

    # sizing of that account reserved the order's cost; the venue's cancel releases it
    sizing = SizingProcessor()
    working = Working("pos", game.EVENT_ID, "KALSHI", game.GB, Action.BUY, Contracts.of(1.0), Micros(20_000))
    s = replace(sizing.initial(ACCOUNT), working={order.order_id: working})
    s, _ = sizing.step(s, statuses[0])
    assert order.order_id in s.working  # resting: still reserved
    canceled = await venue.trading.cancel_order(answer.status.venue_order_id or "", our_order_id=order.order_id,
                                                account=order.account)
    assert canceled.account == ACCOUNT and canceled.state is OrderState.CANCELED
    s, _ = sizing.step(s, canceled)
    assert s.working == {}
    await venue.trading.rest.aclose()


async def test_an_accepted_order_whose_reply_is_unreadable_is_reconciled_by_client_order_id_not_rejected(
        requested: None, key_pem: bytes, key_file: Path) -> None:
    sim = await _sim(key_pem, unreadable_create_replies=1)
    try:
        venue = kalshi_venue(sim, key_file)
        proc, view = ExecutionProcessor(live_venues=frozenset({Venue.KALSHI})), view_with_books()
        order = live_order()
        st, outs = proc.step(proc.initial(ACCOUNT), order, view)
        view.absorb(outs)
        answer = await venue.submit(order, None)
        assert len(sim.orders) == 1  # sent once, never again
        assert answer.status.state is OrderState.RESTING and "reply unreadable" in answer.status.reason
        assert answer.status.venue_order_id == next(iter(sim.orders))
        st, outs = proc.step(st, SubmitOutcome(order, order.ts, answer=answer), view)
        assert [o.state for o in outs if isinstance(o, OrderStatus)] == [OrderState.RESTING] and st.blocked_by == ()
        await venue.trading.rest.aclose()
    finally:
        await sim.stop()


async def test_an_accepted_order_that_cannot_be_found_yet_blocks_and_reconciles(
        requested: None, key_pem: bytes, key_file: Path) -> None:
    """The reply is unreadable and the venue's order list does not show the order yet: unknown, so the
    account is blocked and the order is looked up again by client order id (found then)."""
    sim = await _sim(key_pem, unreadable_create_replies=1, list_lag=1)
    try:
        venue = kalshi_venue(sim, key_file)
        order = live_order()
        with pytest.raises(live.VenueUnknown, match="reply unreadable"):
            await venue.submit(order, None)
        proc, view = ExecutionProcessor(live_venues=frozenset({Venue.KALSHI})), view_with_books()
        st, outs = proc.step(proc.initial(ACCOUNT), order, view)
        st, outs = proc.step(st, SubmitOutcome(order, order.ts, unknown="accepted, reply unreadable"), view)
        assert st.blocked_by == (order.order_id,)
        assert [o.state for o in outs if isinstance(o, OrderStatus)] == [OrderState.UNKNOWN]
        [reconcile] = [o for o in outs if isinstance(o, Reconcile)]
        found = await venue.lookup(reconcile.order, reconcile.listing)  # by client order id, now listed
        assert found is not None and found.status.venue_order_id == next(iter(sim.orders))
        st, outs = proc.step(st, ReconcileOutcome(order, order.ts + 1_000, answer=found), view)
        assert st.blocked_by == () and [o.state for o in outs if isinstance(o, OrderStatus)] == [OrderState.RESTING]
        assert len(sim.orders) == 1  # looked up, never resubmitted
        await venue.trading.rest.aclose()
    finally:
        await sim.stop()


async def test_a_fill_without_fee_cost_is_charged_kalshis_schedule_and_marked_computed(
        requested: None, key_pem: bytes, key_file: Path) -> None:
    """The recorded demo fill (103 NO at $0.96, taker, no `fee_cost`) as the fill of our order."""
    sim = await _sim(key_pem, fill_on_create=True)
    try:
        venue = kalshi_venue(sim, key_file)
        order = live_order(market_id="KXALIENS-26", side=Side.NO, limit_price_micros=960_000, count=103.0,
                           tif=TimeInForce.IOC)
        answer = await venue.submit(order, None)
        assert answer.status.state is OrderState.FILLED and answer.status.filled_count == 103.0
        [fill] = answer.fills
        assert (fill.account, fill.order_id, fill.market_id, fill.side, fill.price_micros, fill.count) == (
            ACCOUNT, order.order_id, "KXALIENS-26", Side.NO, 960_000, 103.0)
        assert fill.fee_micros == 276_900 and fill.fee_computed  # 0.07·103·0.96·0.04 = $0.276864 → $0.2769
        proc, view = ExecutionProcessor(live_venues=frozenset({Venue.KALSHI})), view_with_books()
        st, outs = proc.step(proc.initial(ACCOUNT), order, view)
        st, outs = proc.step(st, SubmitOutcome(order, order.ts, answer=answer), view)
        assert [o for o in outs if isinstance(o, Fill)] == [fill]
        pos = PositionsProcessor()
        ps, pouts = pos.step(pos.initial(ACCOUNT), fill)
        assert pouts  # booked: a position and its ledger entries
        await venue.trading.rest.aclose()
    finally:
        await sim.stop()


def test_the_documented_fill_message_books_to_the_orders_account_with_the_schedule_fee() -> None:
    """Kalshi's AsyncAPI `fill` example: taker, 278 YES at $0.75, no fee field."""
    import json

    from connectors.kalshi.portfolio import parse_fill
    from streams.fees.kalshi import trade_fee_centicent_micros
    from tests.unit.kalshi.conftest import ndjson

    frames = {f["type"]: f.get("msg") for f in map(json.loads, ndjson("ws_doc_examples_asyncapi.ndjson")) if "type" in f}
    order = live_order("my-order-1", market_id="HIGHNY-22DEC23-B53.5", limit_price_micros=750_000, count=278.0)
    listing = replace(game.listing(game.GB), taker_fee_rate=0.07, maker_fee_rate=0.0175)
    fill = live.kalshi_fill(parse_fill(frames["fill"]), order, listing)
    assert (fill.account, fill.order_id, fill.market_id, fill.count, fill.price_micros, fill.liquidity) == (
        ACCOUNT, "my-order-1", "HIGHNY-22DEC23-B53.5", 278.0, 750_000, "taker")
    # 0.07·278·0.75·0.25 = $3.64875, rounded up to the centicent: $3.6488
    assert fill.fee_computed and fill.fee_micros == trade_fee_centicent_micros(750_000, 278.0, 0.07) == 3_648_800
