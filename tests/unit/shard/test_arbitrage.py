"""Cross-venue arbitrage on the recorded books: found when it pays after both fees, not otherwise."""

from __future__ import annotations

import numpy as np

from schemas.enums import EventStatus, SignalKind, Side, Venue
from streams.shard.arbitrage import arbitrage
from streams.shard.config import ShardConfig
from streams.shard.edges import LadderRows
from streams.shard.processor import ShardProcessor
from streams.shard.state import ShardState, ladder_arrays

from tests.unit.shard.books import (
    GAME_TS, SETTLE_TS, Level, arrays, fixed_lookup, game_state, kalshi_book, listing, polymarket_book, quote_input, shift, state_input,
)

EV = "espn:nfl:1"


def rows(levels: list[Level], venue: int, rate_ppm: int) -> LadderRows:
    p4, c100 = ladder_arrays(*arrays(levels))
    return LadderRows(p4[None, :], c100[None, :], np.array([venue]), np.array([rate_ppm]), np.array([1]))


def test_yes_at_044_plus_no_at_051_locks_profit_after_fees() -> None:
    k_yes, _ = kalshi_book()  # 17 @ 0.44, 400 @ 0.46
    _, pm_no = polymarket_book()  # 1028 @ 0.51, 918 @ 0.52, ...
    res = arbitrage(rows(k_yes, 0, 70_000), rows(pm_no, 1, 30_000), 10_000)
    # first 17: 1 - 0.95 - (0.30 + 0.12744)/17 = 0.024856; next 400 earn 0.03 - 0.024872 = 0.005128 < 0.01
    assert res.size_c100[0] == 1_700
    assert (res.yes_fee_micros[0], res.no_fee_micros[0]) == (300_000, 127_440)
    assert res.cost_micros[0] == 7_480_000 + 8_670_000 + 300_000 + 127_440
    assert res.profit_micros[0] == 24_856
    assert (res.yes_limit_micros[0], res.no_limit_micros[0]) == (440_000, 510_000)
    deeper = arbitrage(rows(k_yes, 0, 70_000), rows(pm_no, 1, 30_000), 5_000)
    assert deeper.size_c100[0] == 41_700  # the whole Kalshi YES side, both segments pay ≥ $0.005
    assert deeper.yes_limit_micros[0] == 460_000


def test_fees_eat_a_two_cent_gross_spread() -> None:
    k_yes, _ = kalshi_book()
    _, pm_no = polymarket_book()
    # 0.44 + 0.54 = 0.98: gross 2c, fees 0.30/17 + 0.03*0.54*0.46 ≈ 2.51c
    res = arbitrage(rows(k_yes, 0, 70_000), rows(shift(pm_no, 30_000), 1, 30_000), 0)
    assert res.size_c100[0] == 0
    assert res.top_profit_micros[0] < 0


def _processor() -> ShardProcessor:
    return ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.5, "b": 0.5}))


def _arb_inputs(pm_settle: int):  # type: ignore[no-untyped-def]
    k_yes, k_no = kalshi_book()
    pm_yes, pm_no = polymarket_book()
    return [
        state_input(game_state(EV)),
        quote_input(EV, Venue.KALSHI, "KXNFLGAME-X-H", k_yes, k_no, GAME_TS + 1, role="a", rate=0.07),
        quote_input(
            EV, Venue.POLYMARKET, "0xH", pm_yes, pm_no, GAME_TS + 2, role="a",
            lst=listing(Venue.POLYMARKET, "0xH", 0.03, settle_ts=pm_settle),
        ),
    ]


def test_processor_emits_a_two_leg_arbitrage_signal() -> None:
    proc = _processor()
    st = ShardState(EV)
    outs = []
    for rec in _arb_inputs(SETTLE_TS):
        st, o = proc.step(st, rec)
        outs.extend(o)
    arbs = [s for s in outs if getattr(s, "kind", None) is SignalKind.CROSS_VENUE_ARB]
    assert len(arbs) == 1
    sig = arbs[0]
    assert [(leg.venue, leg.side, leg.price_micros, leg.size) for leg in sig.legs] == [
        (Venue.KALSHI, Side.YES, 440_000, 17.0),
        (Venue.POLYMARKET, Side.NO, 510_000, 17.0),
    ]
    assert sig.ev_micros == 24_856 and sig.size == 17.0
    assert [leg.fee_micros for leg in sig.legs] == [17_648, 7_497]  # ceil(300000/17), ceil(127440/17)
    assert sig.trigger == f"in-0xH-{GAME_TS + 2}-0"


def test_no_arbitrage_when_settle_times_differ() -> None:
    proc = _processor()
    st = ShardState(EV)
    outs = []
    for rec in _arb_inputs(SETTLE_TS + 3_600_000):
        st, o = proc.step(st, rec)
        outs.extend(o)
    assert st.books.pair_yes.size == 0
    assert not [s for s in outs if getattr(s, "kind", None) is SignalKind.CROSS_VENUE_ARB]


def test_no_arbitrage_when_resolution_sources_differ() -> None:
    proc = _processor()
    st = ShardState(EV)
    recs = _arb_inputs(SETTLE_TS)
    recs[2] = quote_input(
        EV, Venue.POLYMARKET, "0xH", *polymarket_book(), GAME_TS + 2, role="a",
        lst=listing(Venue.POLYMARKET, "0xH", 0.03, source="UMA optimistic oracle"),
    )
    for rec in recs:
        st, _ = proc.step(st, rec)
    assert st.books.pair_yes.size == 0


def test_no_arbitrage_signal_on_a_final_event() -> None:
    proc = _processor()
    st = ShardState(EV)
    recs = _arb_inputs(SETTLE_TS)
    recs[0] = state_input(game_state(EV, status=EventStatus.FINAL))
    outs = []
    for rec in recs:
        st, o = proc.step(st, rec)
        outs.extend(o)
    assert not [s for s in outs if getattr(s, "kind", None) is SignalKind.CROSS_VENUE_ARB]
