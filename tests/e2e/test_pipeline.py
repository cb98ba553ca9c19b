"""The whole pipeline on recorded data, through the real broker and ONE Faust worker running every agent group.

Recorded ESPN NFL scoreboards (week 13: the Thanksgiving games final; week 14: eight
games live) and the Kalshi simulator (the recorded KXNFLGAME listings and scripted
books, on a replay clock that starts a minute after the week 13 fetch) go in; the
outputs are read back from offsets recorded before the run. Expected links are the
truth read off the recorded tickers and titles; expected probabilities and signals
come from the pure processors on the very records the pipeline carried, so a worker
that drops, invents or mis-prices anything fails the test. A malformed payload is
injected midway: it must land in `deadletter` and raise an Alert while the rest flows.

The recorded Polymarket payloads are crypto, politics and esports markets (no ESPN
event), so only the Kalshi feed runs. Every recorded Kalshi market whose game is in
the scoreboards is a week 13 game that the scoreboard shows final: the shard must
not signal on them, so no paper order follows (and none may).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer

from connectors.publisher import Publisher
from ops import demo
from ops.topics import ensure_topics
from schemas.enums import EventStatus, MarketType, OrderState, Venue
from schemas.records import (
    Alert, DeadLetter, Fill, LedgerEntry, MarketLink, Order, OrderStatus, Probability, ShardInput, Signal,
)
from streams.probability.registry import model_for
from streams.shard.config import ShardConfig
from streams.shard.processor import ShardProcessor, registry_lookup
from streams.shard.state import ShardState

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: Truth read off the recorded listings (tests/fixtures/kalshi/markets_list_*.json) and scoreboards:
#: market -> (ESPN event, YES role, YES entity). ESPN's entity a is the home team.
EXPECTED_LINKS = {
    "KXNFLGAME-25NOV27GBDET-GB": ("espn:nfl:401772891", "b", "Green Bay Packers"),
    "KXNFLGAME-25NOV27GBDET-DET": ("espn:nfl:401772891", "a", "Detroit Lions"),
    "KXNFLGAME-25NOV27KCDAL-KC": ("espn:nfl:401772694", "b", "Kansas City Chiefs"),
    "KXNFLGAME-25NOV27KCDAL-DAL": ("espn:nfl:401772694", "a", "Dallas Cowboys"),
    "KXNFLGAME-25NOV27CINBAL-CIN": ("espn:nfl:401772930", "b", "Cincinnati Bengals"),
}
#: Baltimore at Green Bay, 2025-12-27: not in the recorded scoreboards, so never linked.
UNLINKABLE = "KXNFLGAME-25DEC27BALGB-GB"
#: The one linked market with a book in the simulator's script.
QUOTED = "KXNFLGAME-25NOV27GBDET-GB"
LINKED_EVENTS = {e for e, _, _ in EXPECTED_LINKS.values()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    bootstrap: str
    account: str
    worker: demo.Child
    reader: demo.LogReader
    folder: Path


@pytest.fixture
def run(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Run]:
    report = ensure_topics(kafka_bootstrap)
    assert not report.problems, report.problems
    tag = uuid.uuid4().hex[:10]
    app_id, account = f"e2e-{tag}", f"e2e-acct-{tag}"
    start = demo.log_ends(kafka_bootstrap, demo.OUTPUTS + demo.WORKER_SOURCES)
    demo.start_group_at(kafka_bootstrap, app_id, {t: start[t] for t in demo.WORKER_SOURCES})
    # Trade only the recorded NFL events: benchmarks and other tests publish signals of their own on `signals`.
    worker = demo.worker(kafka_bootstrap, app_id, tmp_path, accounts=account, web_port=free_port(),
                         trading_events="espn:nfl:")
    reader = demo.LogReader(kafka_bootstrap, start)
    try:
        yield Run(kafka_bootstrap, account, worker, reader, tmp_path)
    finally:
        worker.stop()
        reader.close()


def inject_garbage(bootstrap: str, tag: str) -> tuple[int, int]:
    """Bytes that are no Avro record of ours on `markets.quotes`; where they landed (partition, offset)."""
    where: list[tuple[int, int]] = []
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    p.produce("markets.quotes", key=f"KALSHI:e2e-garbage-{tag}".encode(), value=b"\x00\x00\x00\x00\x07not avro at all",
              on_delivery=lambda err, msg: where.append((msg.partition(), msg.offset())) if err is None else None)
    p.flush(30)
    assert where, "the malformed payload was not delivered"
    return where[0]


def shard_inputs_by_event(run: Run, events: set[str]) -> dict[str, list[ShardInput]]:
    """The shard's input per event in log order (one event lives on one partition)."""
    out: dict[str, list[ShardInput]] = {}
    for seen in sorted(run.reader.records["shard.inputs"], key=lambda s: (s.partition, s.offset)):
        rec = seen.record
        if isinstance(rec, ShardInput) and rec.event_id in events:
            out.setdefault(rec.event_id, []).append(rec)
    return out


def expected_outputs(inputs: dict[str, list[ShardInput]]) -> tuple[dict[str, list[Probability]], dict[str, list[Signal]]]:
    """What the pure shard processor makes of the same inputs."""
    proc = ShardProcessor(ShardConfig(), lookup=registry_lookup)
    probs: dict[str, list[Probability]] = {}
    sigs: dict[str, list[Signal]] = {}
    for eid, recs in inputs.items():
        st = ShardState(event_id=eid)
        for rec in recs:
            st, outs = proc.step(st, rec)
            probs.setdefault(eid, []).extend(o for o in outs if isinstance(o, Probability))
            sigs.setdefault(eid, []).extend(o for o in outs if isinstance(o, Signal))
    return probs, sigs


def test_recorded_nfl_and_kalshi_through_one_worker(run: Run) -> None:
    b, r, started = run.bootstrap, run.reader, time.monotonic()
    pub = Publisher(b, service="e2e")
    pub.publish("ledger", run.account, LedgerEntry(entry_id=f"deposit:{run.account}:1", account=run.account,
                                                   ts=demo.WEEK13_FETCHED_MS - 86_400_000, delta_micros=1_000_000_000,
                                                   balance_micros=1_000_000_000, version=1, reason="deposit: paper bankroll"))
    pub.flush()
    run.worker.start()
    demo.wait_ready(run.worker, 90)

    # Week 13, then the Kalshi feed on its replay clock: every recorded market finds its game.
    week13 = demo.replay_espn(b, demo.WEEK13, service="e2e")
    assert week13.states == 16 and week13.dead_letters == 0
    feed = demo.kalshi_simulator_feed(b, run.folder / "kalshi.log", delta_interval_s=0.1,
                                      clock_start_ms=demo.KALSHI_CLOCK_START_MS).start()
    try:
        def week13_done(rd: demo.LogReader) -> bool:
            links = demo.linked_markets(rd)
            quoted = any(isinstance(s, ShardInput) and s.quote is not None and s.quote.market_id == QUOTED
                         for s in rd.of("shard.inputs", ShardInput))
            return all(f"KALSHI:{m}" in links for m in EXPECTED_LINKS) and quoted

        assert demo.wait_for(r, week13_done, 90, alive=run.worker.alive), (
            f"links/quotes missing: {sorted(demo.linked_markets(r))}; counts {r.counts()}\n"
            f"worker:\n{run.worker.tail()}\nfeed:\n{feed.tail()}")

        # A malformed payload in the middle, then week 14: the rest must keep flowing.
        garbage_at = inject_garbage(b, run.account)
        week14 = demo.replay_espn(b, demo.WEEK14, service="e2e")
        assert week14.states == 14 and week14.dead_letters == 0
        week14_live = {"espn:nfl:401772900", "espn:nfl:401772902", "espn:nfl:401772898", "espn:nfl:401772899",
                       "espn:nfl:401772790", "espn:nfl:401772792", "espn:nfl:401772793", "espn:nfl:401772791"}

        def garbage_seen(rd: demo.LogReader) -> bool:
            mark = f"[{garbage_at[0]}@{garbage_at[1]}]"
            dead = any(d.topic == "markets.quotes" and (d.partition, d.offset) == garbage_at for d in rd.of("deadletter", DeadLetter))
            return dead and any(mark in a.message and "markets.quotes" in a.message for a in rd.of("alerts", Alert))

        def week14_done(rd: demo.LogReader) -> bool:
            with_probs = {p.event_id for p in rd.of("model.probabilities", Probability)}
            return week14_live <= with_probs and garbage_seen(rd)

        assert demo.wait_for(r, week14_done, 90, alive=run.worker.alive), (
            f"counts {r.counts()}\nworker:\n{run.worker.tail()}")
    finally:
        feed.stop()
    r.poll(3.0)  # late outputs (a signal or order that should not exist) are read too
    elapsed = time.monotonic() - started

    # markets.catalog / markets.quotes: the recorded listings and the scripted books came through the connector.
    listings = {s.key for s in r.records["markets.catalog"]}
    assert {f"KALSHI:{m}" for m in (*EXPECTED_LINKS, UNLINKABLE)} <= listings
    assert {f"KALSHI:{m}" for m in (QUOTED, UNLINKABLE)} <= {s.key for s in r.records["markets.quotes"]}

    # markets.links: the right event and YES entity for each recorded market, and nothing for the unlinkable one.
    links = [lk for lk in r.of("markets.links", MarketLink) if lk.venue is Venue.KALSHI]
    recorded = {*EXPECTED_LINKS, UNLINKABLE}  # other tests publish look-alike markets (suffixed tickers) concurrently
    got = {(lk.market_id, lk.event_id, lk.yes_role, lk.yes_entity) for lk in links if lk.market_id in recorded}
    assert got == {(m, e, role, name) for m, (e, role, name) in EXPECTED_LINKS.items()}
    assert all(lk.league == "nfl" and lk.confidence > 0 for lk in links if lk.market_id in EXPECTED_LINKS)

    # shard.inputs: each linked event's state, and the quoted market's books with its link and listing attached.
    inputs = shard_inputs_by_event(run, LINKED_EVENTS | week14_live)
    for eid in LINKED_EVENTS:
        states = [i.state for i in inputs.get(eid, []) if i.state is not None]
        assert states and all(s.status is EventStatus.FINAL for s in states), eid  # the recorded fact: games over
    quotes = [i for i in inputs["espn:nfl:401772891"] if i.quote is not None]
    assert quotes and all(i.quote.market_id == QUOTED and i.link is not None and i.link.yes_role == "b"
                          and i.listing is not None for i in quotes if i.quote is not None)

    # model.probabilities: exactly what the football model makes of those inputs, for the linked and the live events.
    want_probs, want_signals = expected_outputs(inputs)
    nfl = model_for(MarketType.SPORT, "nfl")
    got_probs = {(p.event_id, p.prob_id): p for p in r.of("model.probabilities", Probability)}
    for eid in LINKED_EVENTS | week14_live:
        assert want_probs.get(eid), f"the model gave {eid} no probability"
        for p in want_probs[eid]:
            assert got_probs.get((eid, p.prob_id)) == p, eid
            assert p.model == nfl.name
            if eid in LINKED_EVENTS:  # final: the model is certain of the recorded winner
                winner = next(i.state.winner for i in inputs[eid] if i.state is not None)
                assert p.outcomes[winner] == 1.0, (eid, p.outcomes)
            else:
                assert 0.0 < p.outcomes["a"] < 1.0 and abs(p.outcomes["a"] + p.outcomes["b"] - 1.0) < 1e-9
    live_probs = [p for p in want_probs["espn:nfl:401772899"]]  # MIN 14-0 WSH in Q2: the leader is favoured
    assert live_probs[-1].outcomes["a"] > 0.5

    # signals: the pipeline emits exactly the pure processor's signals for these events — none, as every linked
    # game is over (the shard never signals on a finished event) and no live game has a recorded market.
    got_signals = {s.signal_id for s in r.of("signals", Signal) if s.event_id in LINKED_EVENTS | week14_live}
    assert got_signals == {s.signal_id for sigs in want_signals.values() for s in sigs}
    assert got_signals == set()

    # orders and fills (paper) follow the signals one to one: here, none.
    orders = [o for o in r.of("orders", Order) if o.account == run.account]
    assert {o.signal_id for o in orders} <= got_signals
    done = {s.order_id for s in r.of("fills", OrderStatus) if s.account == run.account and s.state is not OrderState.SUBMITTED}
    assert {o.order_id for o in orders} <= done
    assert not [f for f in r.of("fills", Fill) if f.account == run.account and f.order_id not in {o.order_id for o in orders}]

    # the malformed payload: dead-lettered with where it sat, alerted, and the run went on (week 14 above).
    # (every worker consuming markets.quotes on the shared broker dead-letters it, so there may be several)
    dead = [d for d in r.of("deadletter", DeadLetter) if d.topic == "markets.quotes" and (d.partition, d.offset) == garbage_at]
    assert dead and all(d.service == "router" and d.value.endswith(b"not avro at all") for d in dead)
    assert elapsed < 200, f"the run took {elapsed:.0f}s"
