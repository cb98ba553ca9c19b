"""A game without a bookmaker line is priced from a venue's pregame price, and never against that market.

Real inputs: the ESPN game package of SA @ NY (401859966) read by the connector (`play_states`) and the
Polymarket 1-minute price of the Knicks token for the same game (tests/fixtures/shard/PROVENANCE.md).
Made up, and marked: the line is stripped from the ESPN states (as if no bookmaker line had reached the
event); the scheduled state is the game's own header shown as ESPN shows a game before its start; the
books are one cent either side of the recorded price (Polymarket's tick) with 500 contracts a side; a
second market N on Kalshi carries the very same recorded prices, so the only difference between M and N
is that M's own price is the prior.
"""

from __future__ import annotations

import csv
import dataclasses
import math

import pytest

from connectors.espn.leagues import league
from connectors.espn.plays import play_states
from schemas.enums import EventStatus, SignalKind, Venue
from schemas.records import EventState, Probability, Signal
from streams.shard.config import ShardConfig
from streams.shard.processor import ShardProcessor, registry_lookup
from streams.shard.prior import PregamePrice, excluded_market, pregame_price, with_prior
from streams.shard.snapshot import dump, load
from streams.shard.state import ShardState
from tests.unit.espn.conftest import NBA_GAME, load as load_fixture
from tests.unit.shard.books import FIXTURES, quote_input, state_input

EV = "espn:nba:401859966"
M = ("POLYMARKET", "2433395")  # the Knicks (home, role a) token's market
N = ("KALSHI", "KXNBAGAME-26JUN10SASNYK-NYK")  # made-up twin on another venue
PATH = FIXTURES / "g4_nba-sas-nyk-2026-06-10_market2433395_winner-token_1min.csv"
LINE = ("moneyline_a", "moneyline_b", "p_pregame_a", "prior_from:line:espn-provider-100", "pregame_line_carried")


def _no_line(s: EventState) -> EventState:
    return dataclasses.replace(s, spread_a=None, total=None, features={k: v for k, v in s.features.items() if k not in LINE})


def _prices() -> list[tuple[int, float]]:
    with PATH.open(newline="") as fh:
        return [(int(r["t_unix"]) * 1000, float(r["price"])) for r in csv.DictReader(fh)]


def _quote(market: tuple[str, str], ts: int, price: float, seq: int):  # type: ignore[no-untyped-def]
    cents = price * 100
    bid, ask = math.floor(cents + 1e-9), math.ceil(cents - 1e-9)
    if bid == ask:  # a whole-cent price: one tick either side
        bid, ask = bid - 1, ask + 1
    bid, ask = bid * 10_000, ask * 10_000
    yes, no = [(ask, 500.0)], [(1_000_000 - bid, 500.0)]
    rec = quote_input(EV, Venue(market[0]), market[1], yes, no, ts, role="a", rate=0.02, seq=seq)
    q = dataclasses.replace(rec.quote, yes_bid_micros=bid, yes_bid_size=500.0)
    return dataclasses.replace(rec, quote=q)


@pytest.fixture(scope="module")
def game() -> tuple[EventState, list[EventState]]:
    played = play_states(league("nba"), load_fixture(NBA_GAME), 1781810576000)
    live = [_no_line(ps.state) for ps in played]
    first = live[0]
    scheduled = dataclasses.replace(first, status=EventStatus.SCHEDULED, ts=first.start_ts - 3_600_000, score_a=0, score_b=0,
                                    period=0, clock_seconds=None, possession=None, state_id="sched")
    return scheduled, live


def _inputs(game: tuple[EventState, list[EventState]]) -> list:  # type: ignore[type-arg]
    """The scheduled state, then every recorded minute's price on M and N, merged with the live states in time order."""
    scheduled, live = game
    timeline: list[tuple[int, int, object]] = [(scheduled.ts, 0, state_input(scheduled))]
    for i, (ts, p) in enumerate(_prices()):
        if not 0.02 <= p <= 0.98:
            continue  # settled: no two-sided book left
        timeline.append((ts, 1, _quote(M, ts, p, i)))
        timeline.append((ts, 2, _quote(N, ts, p, i)))
    timeline += [(s.ts, 3, state_input(s, f"st-{k}")) for k, s in enumerate(live)]
    return [rec for _, _, rec in sorted(timeline, key=lambda t: (t[0], t[1]))]


def test_a_game_without_a_line_takes_the_venue_price_and_never_trades_against_that_market(game) -> None:  # type: ignore[no-untyped-def]
    scheduled, _ = game
    proc = ShardProcessor(ShardConfig(min_edge=0.03, stale_quote_ms=120_000), lookup=registry_lookup)
    st = ShardState(EV)
    outs: list = []  # type: ignore[type-arg]
    for rec in _inputs(game):
        st, o = proc.step(st, rec)
        outs.extend(o)
    last_pregame = [p for ts, p in _prices() if ts < scheduled.start_ts][-1]
    assert last_pregame == 0.545
    # the prior is the recorded pregame mid of M, named, and frozen through the game
    assert st.state is not None and st.state.features["p_pregame_a"] == pytest.approx(last_pregame)
    assert excluded_market(st.state) == "POLYMARKET:2433395"
    assert st.state.features["prior_from:venue:POLYMARKET:2433395"] == 1.0
    edges = [s for s in outs if isinstance(s, Signal) and s.kind is SignalKind.MODEL_EDGE]
    on = {(lg.venue.value, lg.market_id) for s in edges for lg in s.legs}
    assert N in on  # the model does disagree with the recorded prices, and N is traded on it
    assert M not in on  # M, whose own price the model started from, never is
    probs = [o for o in outs if isinstance(o, Probability)]
    assert len(probs) > 10


def test_the_kept_pregame_price_and_the_prior_survive_a_snapshot(game) -> None:  # type: ignore[no-untyped-def]
    proc = ShardProcessor(ShardConfig(min_edge=0.03, stale_quote_ms=120_000), lookup=registry_lookup)
    st = ShardState(EV)
    records = _inputs(game)
    scheduled, _ = game
    n_pre = next(i for i, r in enumerate(records) if r.quote is not None and r.quote.ts >= scheduled.start_ts)
    for rec in records[:n_pre]:
        st, _ = proc.step(st, rec)
    assert st.pregame == PregamePrice("POLYMARKET:2433395", pytest.approx(0.545), st.pregame.ts)  # type: ignore[union-attr]
    back = load(EV, dump(st), registry_lookup, proc.config.pairing)
    assert back.pregame == st.pregame
    first_live = next(r for r in records[n_pre:] if r.state is not None)
    a, _ = proc.step(st, first_live)
    b, _ = proc.step(back, first_live)
    assert a.state == b.state and a.state.features["p_pregame_a"] == pytest.approx(0.545)  # type: ignore[union-attr]


def test_line_prior_wins_and_quotes_after_the_start_are_not_pregame(game) -> None:  # type: ignore[no-untyped-def]
    scheduled, live = game
    rec = _quote(M, scheduled.start_ts - 60_000, 0.545, 0)
    assert pregame_price(rec.link, rec.quote, scheduled) == PregamePrice("POLYMARKET:2433395", pytest.approx(0.545), rec.quote.ts)
    late = _quote(M, scheduled.start_ts, 0.545, 1)
    assert pregame_price(late.link, late.quote, scheduled) is None  # from the start on, prices are in-game
    assert pregame_price(rec.link, rec.quote, live[0]) is None  # only while the game is known to be scheduled
    with_line = dataclasses.replace(live[0], features={**live[0].features, "p_pregame_a": 0.55})
    assert with_prior(with_line, None, PregamePrice("POLYMARKET:2433395", 0.545, 0)) is with_line  # the bookmaker line wins
    assert excluded_market(with_line) is None


def test_the_agents_raw_snapshot_keeps_the_filled_in_state_and_the_pregame_price(game) -> None:  # type: ignore[no-untyped-def]
    """The agent saves raw input bytes; a state the shard gave a prior is not its input, so it is encoded afresh."""
    from streams.shard.snapshot import RawSnapshot, framed

    from schemas.codec import default_codec

    proc = ShardProcessor(ShardConfig(min_edge=0.03, stale_quote_ms=120_000), lookup=registry_lookup)
    st = ShardState(EV)
    raw = RawSnapshot.of(st)
    codec = default_codec()
    records = _inputs(game)
    first_live = next(i for i, r in enumerate(records) if r.state is not None and r.state.status is EventStatus.LIVE)
    for rec in records[: first_live + 1]:
        st, _ = proc.step(st, rec)
        applied = rec.state if rec.state is not None else None
        raw.set_state(st, framed(codec.encode(rec)) if applied is not None and st.state is applied else None)
        for key, q in zip(st.books.keys, st.books.quotes):
            if rec.quote is q:
                raw.quotes[key] = framed(codec.encode(rec))
    assert st.state is not records[first_live].state and excluded_market(st.state) == "POLYMARKET:2433395"
    back = load(EV, raw.blob(st), registry_lookup, proc.config.pairing)
    assert back.state == st.state and back.pregame == st.pregame
