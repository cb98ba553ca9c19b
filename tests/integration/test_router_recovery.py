"""The router's tables survive a restart: a link learned before it still routes quotes after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from ops.kafka.groups import commit_offsets
from connectors.publisher import Publisher
from ops.topics import ensure_topics
from schemas import depth
from schemas.codec import default_codec
from schemas.enums import Venue
from schemas.records import MarketLink, MarketListing, Quote, ShardInput
from schemas.topics import spec

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parents[2]


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4().hex}"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(spec(topic).partitions)}
    finally:
        c.close()


def _start_group_at(bootstrap: str, group: str, topics: list[str]) -> None:
    commit_offsets(bootstrap, group, [TopicPartition(t, p, o) for t in topics for p, o in _ends(bootstrap, t).items()])


def _wait_committed(bootstrap: str, group: str, topics: list[str], log: Path, timeout_s: float = 90.0) -> None:
    """Until `group` has committed every record of `topics`, then a moment for the changelog writes sent before it."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        ends = [TopicPartition(t, p, o) for t in topics for p, o in _ends(bootstrap, t).items()]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = {(tp.topic, tp.partition): tp.offset for tp in c.committed([TopicPartition(t.topic, t.partition) for t in ends],
                                                                                 timeout=10)}
            if all(done[(t.topic, t.partition)] >= t.offset for t in ends):
                time.sleep(2.0)
                return
            time.sleep(0.5)
    finally:
        c.close()
    raise AssertionError(f"the router did not commit its input in {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def _worker(bootstrap: str, app_id: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "ARBEES_APP_ID": app_id, "ARBEES_AGENTS": "router"}
    return subprocess.Popen([sys.executable, "-m", "faust", "-A", "streams.app", "worker", "-l", "info", "--without-web"],
                            cwd=log.parent, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)  # no graceful shutdown: the changelog alone must carry the state
        p.wait(timeout=10)


def _routed(bootstrap: str, start: dict[int, int], market: str, want: str, timeout: float) -> list[ShardInput]:
    """Routed quotes of `market` up to the one with quote id `want` (replays after a SIGKILL may repeat earlier ones)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex}", "enable.auto.commit": False})
    c.assign([TopicPartition("shard.inputs", p, o) for p, o in start.items()])
    out: list[ShardInput] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not any(r.quote.quote_id == want for r in out):
            msg = c.poll(0.2)
            if msg is None or msg.error():
                continue
            rec = default_codec().decode(msg.value())
            if rec.quote is not None and rec.quote.market_id == market:
                out.append(rec)
    finally:
        c.close()
    return out


def test_link_learned_before_a_sigkill_still_routes_quotes_after_restart(kafka_bootstrap: str, tmp_path: Path) -> None:
    assert not ensure_topics(kafka_bootstrap).problems
    run = uuid.uuid4().hex[:10]
    market, event = f"KXTEST-{run}", f"espn:nfl:rec-{run}"
    key = f"KALSHI:{market}"
    app_id = f"it-router-{run}"
    sources = ["markets.quotes", "markets.links", "markets.catalog"]
    _start_group_at(kafka_bootstrap, app_id, sources)
    start = _ends(kafka_bootstrap, "shard.inputs")
    pub = Publisher(kafka_bootstrap, service="it")
    listing = MarketListing(key, Venue.KALSHI, market, ts=1_000, title="test market", taker_fee_rate=0.07)
    link = MarketLink(f"{key}->{event}:a", Venue.KALSHI, market, event, ts=2_000, yes_role="a", confidence=1.0, method="test")

    def quote(i: int) -> Quote:
        return Quote(f"{key}:{i}", Venue.KALSHI, market, ts=3_000 + i, seq=i, yes_ask_depth=depth.pack_levels([(500_000 + i * 10_000, 10.0)]))

    worker = _worker(kafka_bootstrap, app_id, tmp_path / "router.log")
    try:
        pub.publish("markets.catalog", key, listing)
        pub.publish("markets.links", key, link)
        pub.publish("markets.quotes", key, quote(1))
        pub.flush()
        first = _routed(kafka_bootstrap, start, market, f"{key}:1", 90)
        assert [r.quote.quote_id for r in first] == [f"{key}:1"], (tmp_path / "router.log").read_text()[-3000:]
        # killed only once its input is committed: a batch's state goes to the changelog after its outputs are
        # acknowledged, and a worker killed before its commit reads the link and listing again from the topics,
        # which would prove nothing about the changelog
        _wait_committed(kafka_bootstrap, app_id, sources, tmp_path / "router.log")
    finally:
        _stop(worker)
    worker = _worker(kafka_bootstrap, app_id, tmp_path / "router.log")
    try:
        pub.publish("markets.quotes", key, quote(2))  # no link or listing sent again: they must come from the changelog
        pub.flush()
        routed = _routed(kafka_bootstrap, start, market, f"{key}:2", 120)
    finally:
        _stop(worker)
    got = [r for r in routed if r.quote.quote_id == f"{key}:2"]
    assert got, (tmp_path / "router.log").read_text()[-3000:]
    assert first[0].listing == listing  # the quote that completed the route carries the listing
    # routed at all only if the restarted router recovered link and listing (no listing: nothing goes out); the
    # listing itself travels once per change, so this quote comes with its link only
    assert got[0].event_id == event and got[0].link == link and got[0].listing is None
