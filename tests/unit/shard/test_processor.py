"""The shard processor: probabilities on state change, model-edge signals, filters, determinism."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from schemas.codec import default_codec
from schemas.enums import EventStatus, MarketType, SignalKind, Side, Venue
from schemas.records import Probability, ShardInput, Signal
from streams.shard.config import ShardConfig
from streams.shard.processor import ShardProcessor, registry_lookup
from streams.shard.state import BadShardInput, ShardState

from tests.unit.shard.books import (
    FIXTURES, GAME_TS, fixed_lookup, game_state, kalshi_book, polymarket_book, quote_input, state_input,
)

EV = "espn:nfl:1"


def run(proc: ShardProcessor, records: list[ShardInput], state: ShardState | None = None):  # type: ignore[no-untyped-def]
    st = state or ShardState(records[0].event_id)
    outs: list = []
    for rec in records:
        st, o = proc.step(st, rec)
        outs.extend(o)
    return st, outs


def signals(outs: list) -> list[Signal]:  # type: ignore[type-arg]
    return [o for o in outs if isinstance(o, Signal)]


def kalshi_quote(ts: int, seq: int = 0) -> ShardInput:
    yes, no = kalshi_book()
    return quote_input(EV, Venue.KALSHI, "KXNFLGAME-X-H", yes, no, ts, role="a", seq=seq)


def test_state_emits_probability_then_quote_emits_model_edge() -> None:
    proc = ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    st, outs = run(proc, [state_input(game_state(EV)), kalshi_quote(GAME_TS + 1_000)])
    probs = [o for o in outs if isinstance(o, Probability)]
    assert len(probs) == 1 and probs[0].outcomes == {"a": 0.65, "b": 0.35} and probs[0].model == "fixed"
    (sig,) = signals(outs)
    assert sig.kind is SignalKind.MODEL_EDGE
    assert sig.legs[0].side is Side.YES and sig.legs[0].price_micros == 460_000
    assert sig.size == 417.0 and sig.ev_micros == 173_429 and sig.model_p == 0.65
    assert sig.legs[0].fee_micros == 17_387  # ceil(7_250_000 / 417 = 17386.09)
    assert sig.trigger == f"in-KXNFLGAME-X-H-{GAME_TS + 1_000}-0"


def test_state_change_reprices_every_market() -> None:
    proc = ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    pm_yes, pm_no = polymarket_book()
    st, outs = run(proc, [
        state_input(game_state(EV)),
        kalshi_quote(GAME_TS + 1),
        quote_input(EV, Venue.POLYMARKET, "0xB", pm_yes, pm_no, GAME_TS + 2, role="b", rate=0.03),
    ])
    assert not signals(outs)  # no edge at 50/50
    up = ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.72, "b": 0.28}))
    st2, outs2 = up.step(st, state_input(game_state(EV, ts=GAME_TS + 3)))
    sigs = signals(outs2)
    # a at 0.72: Kalshi YES(a) at 0.44/0.46 and Polymarket NO(b) at 0.51.. both have edge
    assert [(s.legs[0].market_id, s.legs[0].side) for s in sigs] == [("KXNFLGAME-X-H", Side.YES), ("0xB", Side.NO)]
    assert isinstance(outs2[0], Probability)


def test_probability_only_when_it_moves_more_than_epsilon() -> None:
    cfg = ShardConfig(prob_epsilon=0.01)
    st, outs = run(ShardProcessor(cfg, lookup=fixed_lookup({"a": 0.600, "b": 0.400})), [state_input(game_state(EV))])
    assert len(outs) == 1
    st, outs = ShardProcessor(cfg, lookup=fixed_lookup({"a": 0.605, "b": 0.395})).step(
        st, state_input(game_state(EV, ts=GAME_TS + 1)))
    assert outs == [] and st.probs == {"a": 0.605, "b": 0.395} and st.emitted == {"a": 0.6, "b": 0.4}
    st, outs = ShardProcessor(cfg, lookup=fixed_lookup({"a": 0.62, "b": 0.38})).step(
        st, state_input(game_state(EV, ts=GAME_TS + 2)))
    assert [type(o) for o in outs] == [Probability]


def test_no_signal_on_a_stale_quote() -> None:
    proc = ShardProcessor(ShardConfig(stale_quote_ms=10_000), lookup=fixed_lookup({"a": 0.1, "b": 0.9}))
    st, _ = run(proc, [state_input(game_state(EV)), kalshi_quote(GAME_TS + 1)])
    fresh = ShardProcessor(ShardConfig(stale_quote_ms=10_000), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    _, outs = fresh.step(st, state_input(game_state(EV, ts=GAME_TS + 20_000)))
    assert [type(o) for o in outs] == [Probability]  # the quote is 20 s old: no signal
    _, outs = fresh.step(st, state_input(game_state(EV, ts=GAME_TS + 5_000)))
    assert len(signals(outs)) == 1


def test_no_signal_on_a_stale_state() -> None:
    proc = ShardProcessor(ShardConfig(stale_state_ms=60_000), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    _, outs = run(proc, [state_input(game_state(EV)), kalshi_quote(GAME_TS + 120_000)])
    assert not signals(outs)
    _, outs = run(proc, [state_input(game_state(EV)), kalshi_quote(GAME_TS + 30_000)])
    assert len(signals(outs)) == 1


@pytest.mark.parametrize("market_type", [MarketType.ECONOMICS, MarketType.POLITICS])
def test_a_release_forecast_or_polling_average_prices_quotes_days_later(market_type: MarketType) -> None:
    """A release's forecast holds until the next print, a polling average until the next poll: a quote days after
    such a state is priced (a live book always comes long after them), a game state's age still counts."""
    proc = ShardProcessor(ShardConfig(stale_state_ms=60_000), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    three_days = 3 * 86_400_000
    state = replace(game_state(EV), market_type=market_type)
    _, outs = run(proc, [state_input(state), kalshi_quote(GAME_TS + three_days)])
    assert len(signals(outs)) == 1
    aged = ShardProcessor(ShardConfig(stale_state_ms=60_000, ageless_types=frozenset()), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    _, outs = run(aged, [state_input(state), kalshi_quote(GAME_TS + three_days)])
    assert not signals(outs)  # the setting is what makes the difference


def test_a_fresh_state_prices_a_quote_that_met_a_stale_one_even_when_the_probability_did_not_move() -> None:
    """A quote that overtook the state it was meant for (two router stages, one shard input topic) met the
    hour-old state before it and was not priced; the fresh state, same probability, prices it."""
    proc = ShardProcessor(ShardConfig(stale_state_ms=60_000), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    st, outs = run(proc, [state_input(game_state(EV)), kalshi_quote(GAME_TS + 3_601_000)])
    assert [type(o) for o in outs] == [Probability]
    st, outs = proc.step(st, state_input(game_state(EV, ts=GAME_TS + 3_600_000)))
    assert [type(o) for o in outs] == [Signal]  # no new probability: it did not move
    _, outs = proc.step(st, state_input(game_state(EV, ts=GAME_TS + 3_605_000)))
    assert outs == []  # the next state, 5 s on, neither moved nor revived


@pytest.mark.parametrize("status", [EventStatus.FINAL, EventStatus.SUSPENDED])
def test_no_signal_on_finished_or_suspended_events(status: EventStatus) -> None:
    proc = ShardProcessor(lookup=fixed_lookup({"a": 0.95, "b": 0.05}))
    _, outs = run(proc, [state_input(game_state(EV, status=status)), kalshi_quote(GAME_TS + 1)])
    assert not signals(outs)


def test_break_blocks_only_when_configured() -> None:
    recs = [state_input(game_state(EV, status=EventStatus.BREAK)), kalshi_quote(GAME_TS + 1)]
    lookup = fixed_lookup({"a": 0.65, "b": 0.35})
    assert signals(run(ShardProcessor(ShardConfig(), lookup=lookup), recs)[1])
    assert not signals(run(ShardProcessor(ShardConfig(block_on_break=True), lookup=lookup), recs)[1])


def test_out_of_order_quote_does_not_replace_the_newer_book() -> None:
    proc = ShardProcessor(lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    st, _ = run(proc, [kalshi_quote(GAME_TS + 10, seq=5)])
    st2, outs = proc.step(st, kalshi_quote(GAME_TS + 5, seq=4))
    assert st2 is st and outs == []


def test_quote_without_link_is_bad_input() -> None:
    proc = ShardProcessor(lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    with pytest.raises(BadShardInput):
        proc.step(ShardState(EV), replace(kalshi_quote(GAME_TS), link=None))


def test_a_known_market_prices_its_listing_less_quotes_with_the_listing_it_kept() -> None:
    """The router sends the listing once per change: later quotes of the market come with their link only."""
    proc = ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    first, later = kalshi_quote(GAME_TS + 1_000), kalshi_quote(GAME_TS + 2_000, seq=1)
    _, full = run(proc, [state_input(game_state(EV)), first, later])
    st, slim = run(proc, [state_input(game_state(EV)), first, replace(later, listing=None)])
    assert [s.legs for s in signals(slim)] == [s.legs for s in signals(full)] and len(signals(slim)) == 2
    assert st.books.listings[0] == first.listing
    # batched the same way (the agent's path)
    _, outs = proc.step_batch({}, [state_input(game_state(EV)), first, replace(later, listing=None)])
    assert len(signals([o for x in outs for o in x])) == 2


def test_a_listing_less_quote_of_an_unknown_market_is_bad_input() -> None:
    proc = ShardProcessor(lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    with pytest.raises(BadShardInput, match="lacks its link or listing"):
        proc.step(ShardState(EV), replace(kalshi_quote(GAME_TS), listing=None))


def recorded_stream() -> list[ShardInput]:
    """Recorded ESPN NFL states (real model via the registry) and quotes on the recorded books."""
    payload = json.loads((FIXTURES / "nfl_scoreboard_2025-12-07_live.json").read_text())
    states = scoreboard_states(league("nfl"), payload, GAME_TS).states
    yes, no = kalshi_book()
    pm_yes, pm_no = polymarket_book()
    recs: list[ShardInput] = []
    for i, s in enumerate(states):
        recs.append(state_input(s))
        recs.append(quote_input(s.event_id, Venue.KALSHI, f"K-{i}", yes, no, GAME_TS + 10, role="a"))
        recs.append(quote_input(s.event_id, Venue.POLYMARKET, f"P-{i}", pm_yes, pm_no, GAME_TS + 20, role="b", rate=0.03))
    return recs


def test_recorded_espn_states_through_the_registry_models() -> None:
    proc = ShardProcessor(ShardConfig(min_edge=0.15), lookup=registry_lookup)
    recs = recorded_stream()
    states: dict[str, ShardState] = {}
    probs, sigs = [], []
    for rec in recs:
        st = states.get(rec.event_id) or ShardState(rec.event_id)
        st, outs = proc.step(st, rec)
        states[rec.event_id] = st
        probs += [o for o in outs if isinstance(o, Probability)]
        sigs += signals(outs)
    assert len(probs) == 14  # one per game, FINAL included (exact 1/0)
    final = next(p for p in probs if p.event_id == "espn:nfl:401772947")
    assert final.outcomes == {"a": 1.0, "b": 0.0}
    assert all(s.event_id != "espn:nfl:401772947" for s in sigs)  # no signal on the finished game
    # MIN leads WSH 14-0 (p_a ≈ 0.81): YES(a) on Kalshi at 0.44 is a model edge
    assert any(s.event_id == "espn:nfl:401772899" and s.legs[0].side is Side.YES for s in sigs)


def test_same_input_same_output_bytes_and_batching_does_not_change_outputs() -> None:
    recs = recorded_stream()
    codec = default_codec()

    def encoded(outs: list) -> list[bytes]:  # type: ignore[type-arg]
        return [codec.encode(o) for o in outs]

    proc = ShardProcessor(ShardConfig(min_edge=0.10), lookup=registry_lookup)
    one: list = []
    states: dict[str, ShardState] = {}
    for rec in recs:
        st = states.get(rec.event_id) or ShardState(rec.event_id)
        st, outs = proc.step(st, rec)
        states[rec.event_id] = st
        one.extend(outs)
    _, batched = proc.step_batch({}, recs)
    again = [o for outs in proc.step_batch({}, recs)[1] for o in outs]
    assert encoded(one) == encoded([o for outs in batched for o in outs]) == encoded(again)
    assert len(signals(one)) > 0
    ids = [s.signal_id for s in signals(one)]
    assert len(ids) == len(set(ids))


def test_snapshot_round_trip_prices_like_the_original() -> None:
    from streams.shard.snapshot import dump, load

    recs = [r for r in recorded_stream() if r.event_id == "espn:nfl:401772899"]
    proc = ShardProcessor(ShardConfig(min_edge=0.10), lookup=registry_lookup)
    st = ShardState("espn:nfl:401772899")
    for rec in recs:
        st, _ = proc.step(st, rec)
    back = load(st.event_id, dump(st), registry_lookup, proc.config.pairing)
    assert (back.state, back.probs, back.emitted, back.books.keys) == (st.state, st.probs, st.emitted, st.books.keys)
    assert (back.books.p4 == st.books.p4).all() and (back.books.c100 == st.books.c100).all()
    nxt = kalshi_quote(GAME_TS + 30)
    nxt = replace(nxt, event_id=st.event_id, link=replace(nxt.link, event_id=st.event_id, market_id="K-3"),
                  quote=replace(nxt.quote, market_id="K-3"),
                  listing=replace(nxt.listing, market_id="K-3", listing_id="KALSHI:K-3"))
    assert proc.step(st, nxt)[1] == proc.step(back, nxt)[1]


def test_a_raw_snapshot_keeps_the_listing_when_the_latest_quote_came_without_it() -> None:
    """The agent saves snapshots from the input bytes; a listing-less latest quote is kept beside the
    input that carried the listing, so a recovered shard still knows the market's listing and latest book."""
    from schemas.codec import default_codec
    from streams.shard.snapshot import RawSnapshot, framed, load

    proc = ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    first, later = kalshi_quote(GAME_TS + 1_000), replace(kalshi_quote(GAME_TS + 2_000, seq=1), listing=None)
    st, _ = run(proc, [state_input(game_state(EV)), first])
    raw = RawSnapshot.of(st)
    st, _ = proc.step(st, later)
    key = st.books.keys[0]
    raw.set_quote(key, framed(default_codec().encode(later)))
    back = load(EV, raw.blob(st), fixed_lookup({"a": 0.65, "b": 0.35}), proc.config.pairing)
    assert back.books.quotes[0] == later.quote and back.books.listings[0] == first.listing
    assert (back.books.p4 == st.books.p4).all()


def test_a_listing_closed_later_in_the_batch_does_not_drop_an_earlier_signal() -> None:
    """Made-up inputs: the open check is as of each record, not as of the batch's end (batch == step)."""
    from schemas.enums import ListingStatus

    from tests.unit.shard.books import listing

    proc = ShardProcessor(ShardConfig(min_edge=0.15), lookup=fixed_lookup({"a": 0.65, "b": 0.35}))
    yes, no = kalshi_book()
    closed = replace(listing(Venue.KALSHI, "KXNFLGAME-X-H", 0.07), lifecycle=ListingStatus.CLOSED, status="closed")
    recs = [
        state_input(game_state(EV)),
        kalshi_quote(GAME_TS + 1_000),
        quote_input(EV, Venue.KALSHI, "KXNFLGAME-X-H", yes, no, GAME_TS + 2_000, role="a", seq=1, lst=closed),
    ]
    _, stepped = run(proc, recs)
    _, batched = proc.step_batch({}, recs)
    assert [len(signals(o)) for o in batched] == [0, 1, 0]  # the closed market's own quote is not traded
    assert [s.signal_id for s in signals(stepped)] == [s.signal_id for o in batched for s in signals(o)]
