"""The in-process backtest engine on recorded ESPN and Kalshi records: same input, same bytes out.

The input (tests/fixtures/backtest/PROVENANCE.md): the live NFL scoreboard of 2025-12-07 on `events.state`,
two recorded Kalshi listings on `markets.catalog`, the Kalshi book script on `markets.quotes` (re-stamped
into the game window) and two test-written links putting those books on MIN and MIA.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from connectors.kalshi.book import BookChanged, BookKeeper
from connectors.kalshi.messages import BookDelta, BookSnapshot, parse_frame
from connectors.kalshi.normalize import book_to_quote, market_to_listing, parse_series
from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.records import InputRecord, InputValue, as_inputs, murmur2, partition_for, replay_order
from schemas.enums import EventStatus, SignalKind, Venue
from schemas.records import EventState, MarketLink, MarketListing, Quote

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "backtest"
GAME_TS = 1_765_134_000_000  # 2025-12-07 19:00 UTC, the scoreboard capture time
BALGB = "KXNFLGAME-25DEC27BALGB-GB"
GBDET = "KXNFLGAME-25NOV27GBDET-GB"
MIN_GAME = "espn:nfl:401772899"  # WSH @ MIN, 0-14, live
MIA_GAME = "espn:nfl:401772790"  # MIA @ NYJ, 21-7, live
#: Which live game (and which side of it) each recorded book is put on.
LINKED = {BALGB: (MIN_GAME, "a", "Minnesota Vikings"), GBDET: (MIA_GAME, "b", "Miami Dolphins")}


def _json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def states(run: str = "") -> list[EventState]:
    payload = _json("nfl_scoreboard_2025-12-07_live.json")
    out = list(scoreboard_states(league("nfl"), payload, GAME_TS).states)
    if run:
        out = [replace(s, event_id=f"{s.event_id}:{run}", state_id=f"{s.state_id}:{run}") for s in out]
    return out


def ticker(base: str, run: str) -> str:
    return f"{base}-{run.upper()}" if run else base


def listings(run: str = "") -> list[MarketListing]:
    series = parse_series(_json("series_KXNFLGAME_constructed.json"))
    markets = [*_json("markets_list_prod_KXNFLGAME_limit1.json")["markets"], *_json("markets_list_demo_KXNFLGAME.json")["markets"]]
    wanted = {m["ticker"]: m for m in markets if m["ticker"] in LINKED}
    return [market_to_listing({**wanted[t], "ticker": ticker(t, run)}, GAME_TS - 60_000, series) for t in sorted(wanted)]


def links(run: str = "") -> list[MarketLink]:
    out = []
    for base, (event_id, role, entity) in sorted(LINKED.items()):
        mid, eid = ticker(base, run), f"{event_id}:{run}" if run else event_id
        out.append(MarketLink(link_id=f"KALSHI:{mid}->{eid}:{role}", venue=Venue.KALSHI, market_id=mid, event_id=eid,
                              ts=GAME_TS - 30_000, yes_role=role, yes_entity=entity, confidence=1.0, method="test"))
    return out


def quotes(run: str = "") -> list[Quote]:
    """The book script through the Kalshi book keeper; frame `seq` is stamped capture time + 5 s · seq."""
    keeper, out = BookKeeper(), []
    lines = [ln for ln in (FIXTURES / "ws_book_script.ndjson").read_text().splitlines() if ln.strip()]
    for line in lines:
        for base in LINKED:
            line = line.replace(f'"{base}"', f'"{ticker(base, run)}"')
        msg = parse_frame(line)
        if isinstance(msg, BookSnapshot):
            outcome = keeper.on_snapshot(msg, GAME_TS + 5_000 * msg.seq)
        elif isinstance(msg, BookDelta):
            outcome = keeper.on_delta(msg, GAME_TS + 5_000 * msg.seq)
        else:
            raise AssertionError(f"unexpected frame {line[:80]}")
        assert isinstance(outcome, BookChanged), outcome
        book = keeper.book(outcome.ticker)
        assert book is not None
        out.append(book_to_quote(book))
    return out


def recorded_input(run: str = "") -> list[InputRecord]:
    items: list[tuple[str, InputValue]] = [
        *(("events.state", s) for s in states(run)),
        *(("markets.catalog", lst) for lst in listings(run)),
        *(("markets.links", lnk) for lnk in links(run)),
        *(("markets.quotes", q) for q in quotes(run)),
    ]
    return as_inputs(items)


# ------------------------------------------------------------------------------ tests


def test_two_runs_give_byte_identical_outputs_with_signals_orders_and_fills() -> None:
    engine = InProcessEngine(BacktestConfig(account="bt-unit"))
    first, second = engine.run(recorded_input()), engine.run(recorded_input())
    assert first.encoded() == second.encoded() and first.digest() == second.digest()
    assert first.signals and first.orders and first.fills and first.positions
    assert {s.event_id for s in first.signals} == {MIN_GAME, MIA_GAME}
    assert all(s.kind is SignalKind.MODEL_EDGE for s in first.signals)
    # every order comes from a signal of the run, and every signal names the quote input that caused it
    assert {o.signal_id for o in first.orders} <= {s.signal_id for s in first.signals}
    assert {s.trigger.split(":", 1)[0] for s in first.signals} <= {"quote", "link", "listing", "state"}


def test_input_order_does_not_matter_only_event_time_and_coordinates() -> None:
    records = recorded_input()
    shuffled = list(records)
    random.Random(3).shuffle(shuffled)
    engine = InProcessEngine(BacktestConfig(account="bt-unit"))
    assert engine.run(shuffled).digest() == engine.run(records).digest()
    assert replay_order(shuffled) == replay_order(records)


def test_shard_batch_size_does_not_change_any_output() -> None:
    records = recorded_input()
    one = InProcessEngine(BacktestConfig(account="bt-unit", shard_batch=1)).run(records)
    many = InProcessEngine(BacktestConfig(account="bt-unit", shard_batch=500)).run(records)
    assert one.encoded() == many.encoded()


def test_routing_follows_the_agents_states_then_linked_quotes() -> None:
    result = InProcessEngine(BacktestConfig(account="bt-unit")).run(recorded_input())
    n_states, n_quotes = len(states()), len(quotes())
    kinds = [r.input_id.split(":", 1)[0] for r in result.shard_inputs]
    # every state goes to its shard; every quote goes out once its market has link and listing (they came first)
    assert kinds.count("state") == n_states and kinds.count("quote") == n_quotes
    assert len(result.shard_inputs) == n_states + n_quotes
    # the final DAL @ DET game gets a probability but no signal; scheduled games get probabilities too
    final = [s for s in states() if s.status is EventStatus.FINAL]
    assert final and not [s for s in result.signals if s.event_id in {f.event_id for f in final}]


def test_the_bankroll_moves_only_by_fees_while_positions_are_open() -> None:
    config = BacktestConfig(account="bt-unit")
    result = InProcessEngine(config).run(recorded_input())
    summary = result.summary(config.account)
    assert summary.start_balance_micros == config.bankroll_micros
    assert summary.fills > 0 and summary.fees_micros > 0
    assert summary.end_balance_micros == config.bankroll_micros - summary.fees_micros
    assert summary.signals == len(result.signals) and summary.orders == len(result.orders)


def test_list_partitions_use_kafkas_murmur2() -> None:
    # the vectors of Apache Kafka's UtilsTest.testMurmur2 (signed 32-bit results of Utils.murmur2)
    vectors = {"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
               "a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
               "abc": 479470107}
    for text, signed in vectors.items():
        assert murmur2(text.encode()) == signed & 0xFFFFFFFF
        assert partition_for(text, 12) == (signed & 0x7FFFFFFF) % 12
    records = recorded_input()
    assert all(r.partition == partition_for(r.key, 12) for r in records)
    # offsets count per (topic, partition) in list order
    per: dict[tuple[str, int], list[int]] = {}
    for r in records:
        per.setdefault((r.topic, r.partition), []).append(r.offset)
    assert all(offs == list(range(len(offs))) for offs in per.values())
