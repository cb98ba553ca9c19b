"""A SIGKILLed worker of each stateful agent group comes back with its state, read from its changelog.

Per group, part A of a recorded input goes in; once the group has committed all of it, the
worker is SIGKILLed (no graceful stop: only what the changelog holds survives) and a new
worker of the same group starts. Part B follows, whose outputs need what A left in the
group's tables, and they must be exactly the records the group's processors give for A then
B in one run (computed here without a broker). A worker that lost its state gives something
else: discovery no links (the games of A are forgotten), the crypto targets no target state
(the listing of A is gone, and with it the volatility A's spots built), the shard no
cross-venue arbitrage (the Kalshi book of A is gone), trading no order (no bankroll) or a
fill against the wrong book. The router's recovery is tests/integration/test_router_recovery.py; trading
under twenty kills is tests/integration/test_trading_crash.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.publisher import Publisher
from ops.backtest.kafka import KafkaEngine
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.enums import SignalKind
from schemas.records import Fill, LedgerEntry, MarketLink, Order, OrderStatus, PositionEvent, Signal
from streams.config_file import load as load_config
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.local import LocalHost
from streams.trading.stages import Stages
from tests.integration.test_shard_agent import expected as shard_outputs
from tests.integration.test_shard_agent import free_port
from tests.integration.test_shard_agent import inputs as shard_inputs
from tests.integration.test_trading_loop import log_ends, start_group_at_end
from tests.unit.matching.builders import espn_nfl_events, kalshi_listings
from tests.unit.test_discovery import WEEK13
from tests.unit.trading import recorded_game as game

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]


class GroupWorker:
    """One worker of one agent group (ARBEES_AGENTS) under a fresh app id, started at the topics' current ends."""

    def __init__(self, bootstrap: str, group: str, topics: tuple[str, ...], folder: Path, env: dict[str, str]) -> None:
        self.bootstrap, self.group, self.folder, self.extra = bootstrap, group, folder, env
        self.app_id = f"it-{group}-recovery-{uuid.uuid4().hex[:8]}"
        start_group_at_end(bootstrap, self.app_id, log_ends(bootstrap, topics))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        env = {**os.environ, "KAFKA_BOOTSTRAP": self.bootstrap, "ARBEES_APP_ID": self.app_id, "ARBEES_AGENTS": self.group,
               "ARBEES_WEB_PORT": str(free_port()), "APP_DATADIR": str(self.folder / f"data-{self.starts}"), **self.extra}
        log = (self.folder / f"{self.group}-{self.starts}.log").open("wb")
        # each start gets its own data dir: nothing local survives, only the changelog
        self.proc = subprocess.Popen([sys.executable, "-m", "streams.agents.worker", "worker", "-l", "info", "--without-web"],
                                     cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def tail(self) -> str:
        """The log's last lines without Faust's offset tables (which filled the 3,000 characters a failure showed)."""
        text = (self.folder / f"{self.group}-{self.starts}.log").read_text(errors="replace")
        return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("|", "+")))[-3000:]

    def wait_committed(self, timeout_s: float = 180.0) -> None:
        """Until the group has committed every record of the topics it consumes, twice in a row."""
        engine = KafkaEngine(self.bootstrap)
        deadline, quiet = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, f"the worker exited:\n{self.tail()}"
            lag, _ = engine._group_lag(self.app_id)
            quiet = quiet + 1 if lag == 0 else 0
            if quiet >= 2:
                return
            time.sleep(1.0)
        raise AssertionError(f"the {self.group} worker did not commit its input in {timeout_s:.0f}s:\n{self.tail()}")


@pytest.fixture
def group_worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Any]:
    assert not ensure_topics(kafka_bootstrap).problems
    made: list[GroupWorker] = []

    def make(group: str, topics: tuple[str, ...], env: dict[str, str] | None = None) -> GroupWorker:
        made.append(GroupWorker(kafka_bootstrap, group, topics, tmp_path, env or {}))
        return made[-1]

    yield make
    for w in made:
        w.kill()


def read_until(bootstrap: str, starts: dict[str, list[TopicPartition]], want: set[bytes], worker: GroupWorker,
               timeout_s: float = 180.0) -> set[bytes]:
    """Values on the output topics from `starts` until every wanted one is there (others may be there too)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex}", "enable.auto.commit": False})
    c.assign([tp for tps in starts.values() for tp in tps])
    got: set[bytes] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while not want <= got and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                got.add(bytes(msg.value()))
    finally:
        c.close()
    if not want <= got:
        codec = default_codec()
        # nothing behind: the worker read all of B and still did not write it; else where it idles
        behind = [f"{t}[{p}] {c}/{e}" for t, p, c, e in KafkaEngine(bootstrap).partition_lag(worker.app_id) or [] if c < e]
        missing = sorted(repr(codec.decode(v))[:240] for v in want - got)
        extra = sorted(repr(codec.decode(v))[:240] for v in got - want)
        raise AssertionError(f"{len(want - got)} of {len(want)} expected records missing (group behind at {behind}):\n"
                             f"missing: {missing}\nwritten, not expected: {extra}\nworker log:\n{worker.tail()}")
    return got


def publish(bootstrap: str, records: list[tuple[str, str, Any]]) -> None:
    pub = Publisher(bootstrap, service="it-recovery")
    for topic, key, value in records:
        pub.publish(topic, key, value)
    pub.flush()


def kill_and_restart(worker: GroupWorker) -> None:
    worker.wait_committed()
    time.sleep(2.0)  # a changelog write of the last record is sent before its offset commit; let it land
    worker.kill()
    worker.start()


def test_discovery_recovers_its_event_index(kafka_bootstrap: str, group_worker: Any) -> None:
    events = espn_nfl_events(WEEK13)  # A: the recorded scoreboard's games (kept in the league's index)
    arrival = max(e.ts for e in events) + 3_600_000  # B: the recorded listings, an hour later
    listings = [replace(lst, ts=arrival) for lst in kalshi_listings()]
    state, want = DiscoveryState(), []
    proc = DiscoveryProcessor()
    for rec in [*events, *listings]:
        state, outs = proc.step(state, rec)
        want += [o for o in outs if isinstance(o, MarketLink)]
    assert len(want) >= 4  # the recorded Thanksgiving games link once their listings arrive
    worker = group_worker("discovery", ("markets.catalog", "events.state"))
    out_starts = log_ends(kafka_bootstrap, ("markets.links",))
    worker.start()
    publish(kafka_bootstrap, [("events.state", e.event_id, e) for e in events])
    kill_and_restart(worker)
    publish(kafka_bootstrap, [("markets.catalog", lst.listing_id, lst) for lst in listings])
    codec = default_codec()
    read_until(kafka_bootstrap, out_starts, {codec.encode(link) for link in want}, worker)


def test_targets_recover_each_assets_listings_and_volatility(kafka_bootstrap: str, group_worker: Any) -> None:
    from streams.crypto.targets import TargetsProcessor
    from tests.unit.crypto.test_targets import spots
    from tests.unit.crypto.venues import kalshi_listing

    listing = kalshi_listing("KXBTCD-26FEB1217-T72749.99")  # A: the recorded listing and the first 100 hourly spots
    chart = spots()
    part_a, part_b = [listing, *chart[:100]], chart[100:]
    proc = TargetsProcessor()
    state, want = proc.initial("btc"), []
    for rec in part_a:
        state, _ = proc.step(state, rec)
    for rec in part_b:
        state, outs = proc.step(state, rec)
        want += outs
    assert len(want) >= 10  # the target's live states, priced on A's volatility
    worker = group_worker("targets", ("markets.catalog", "events.state"))
    out_starts = log_ends(kafka_bootstrap, ("events.state",))
    worker.start()
    publish(kafka_bootstrap, [("markets.catalog", listing.listing_id, listing),
                              *(("events.state", s.event_id, s) for s in part_a[1:])])
    kill_and_restart(worker)
    publish(kafka_bootstrap, [("events.state", s.event_id, s) for s in part_b])
    codec = default_codec()
    read_until(kafka_bootstrap, out_starts, {codec.encode(o) for o in want}, worker)


def test_shard_recovers_each_events_books_and_state(kafka_bootstrap: str, group_worker: Any) -> None:
    run = uuid.uuid4().hex[:10]
    records = shard_inputs(run)  # recorded state, then a Kalshi book, then a Polymarket book of one game
    after_b = [o for o in shard_outputs(records) if o not in shard_outputs(records[:2])]
    assert any(isinstance(o, Signal) and o.kind is SignalKind.CROSS_VENUE_ARB for o in after_b)  # needs A's Kalshi book
    worker = group_worker("shard", ("shard.inputs",))
    out_starts = log_ends(kafka_bootstrap, ("signals", "model.probabilities"))
    worker.start()
    publish(kafka_bootstrap, [("shard.inputs", r.event_id, r) for r in records[:2]])
    kill_and_restart(worker)
    publish(kafka_bootstrap, [("shard.inputs", r.event_id, r) for r in records[2:]])
    codec = default_codec()
    read_until(kafka_bootstrap, out_starts, {codec.encode(o) for o in after_b}, worker)


def test_trading_recovers_bankroll_books_and_ledger_version(kafka_bootstrap: str, group_worker: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    account, event = f"acct-{tag}", f"{game.EVENT_ID}:recovery-{tag}"
    env = {"ARBEES_ACCOUNTS": account, "ARBEES_TRADING_EVENTS": event}
    t = game.KICKOFF_MS + 3_600_000
    part_a = [game.deposit(account), game.quote_input(game.GB, t, event), game.quote_input(game.DET, t, event)]
    part_b = [game.gb_signal(t + 1_000, event), game.quote_input(game.GB, t + 1_500, event)]
    host = LocalHost(Stages(load_config(env=env).trading))  # the worker's own settings
    for rec in part_a:
        host.publish(rec)
    before = {topic: len(values) for topic, values in host.log.items()}
    for rec in part_b:
        host.publish(rec)
    after_b = [r for topic in ("orders", "fills", "positions", "ledger") for r in host.log[topic][before.get(topic, 0):]]
    kinds = {type(r) for r in after_b}
    assert {Order, Fill, OrderStatus, PositionEvent, LedgerEntry} <= kinds, kinds  # sized from A's bankroll, filled on A's book
    worker = group_worker("trading", ("signals", "shard.inputs", "orders", "fills", "positions", "ledger", "risk.state"), env)
    out_starts = log_ends(kafka_bootstrap, ("orders", "fills", "positions", "ledger"))
    worker.start()
    topics = {LedgerEntry: ("ledger", account)}
    publish(kafka_bootstrap, [(*topics.get(type(r), ("shard.inputs", event)), r) for r in part_a])
    kill_and_restart(worker)
    # one at a time: the signal and the quote are on different topics, and a worker catching up reads them in either
    # order; a quote sized before the signal's own time makes an order that waits for a later book (correct, and not
    # what the in-process run above, which takes them in order, gives)
    for r in part_b:
        publish(kafka_bootstrap, [("signals" if isinstance(r, Signal) else "shard.inputs", event, r)])
        worker.wait_committed()
    codec = default_codec()
    read_until(kafka_bootstrap, out_starts, {codec.encode(r) for r in after_b}, worker)
