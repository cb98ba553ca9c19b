"""A commit made while the worker seeks to the group's committed offsets is not forgotten (issue 16's chaos stall).

Found by `make chaos`: the router's committed offset on markets.quotes stayed put for good while its
worker read and acked every later record. Faust's recovery resumes the stream partitions before its
seek to the committed offsets has read them, so records are delivered, acked and committed (offset X
on the broker, X in Faust's own record) while that read is in flight; the read's older answer C then
overwrote Faust's record. Faust commits only a run of acked offsets that starts next to its record, and
C..X-1 were already taken off its acked list by that commit: no later commit happened on that
partition while the worker ran. With the commit and the seek kept apart, records delivered before
the seek can still be dropped by Faust as already read and never acked (this test met it in one run
of three): the guard reads such a partition again. The worker here reads the group's offsets late
(as the loaded broker answered) with a delivery under way across the seek; every record must end
up committed. Before the fix: committed {8: 5577}, log end {8: 8476}.
"""

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

from connectors.publisher import Publisher
from ops.topics import ensure_topics
from schemas import depth
from schemas.enums import Venue
from schemas.records import MarketLink, MarketListing, Quote
from tests.integration.test_shard_agent import free_port
from tests.integration.test_trading_loop import log_ends, start_group_at_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]
SOURCES = ("markets.quotes", "markets.links", "markets.catalog")


def _committed(bootstrap: str, group: str, tps: list[TopicPartition]) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return {tp.partition: tp.offset for tp in c.committed(tps, timeout=10)}
    finally:
        c.close()


def test_the_group_commits_every_record_after_a_commit_raced_the_seek(kafka_bootstrap: str, tmp_path: Path) -> None:
    assert not ensure_topics(kafka_bootstrap).problems
    run = uuid.uuid4().hex[:10]
    app_id = f"it-commit-seek-{run}"
    start_group_at_end(kafka_bootstrap, app_id, log_ends(kafka_bootstrap, SOURCES))
    market, event = f"KXSEEK-{run}", f"espn:nfl:seek-{run}"
    key = f"KALSHI:{market}"
    pub = Publisher(kafka_bootstrap, service="it")
    pub.publish("markets.catalog", key, MarketListing(key, Venue.KALSHI, market, ts=1_000, title="seek test", taker_fee_rate=0.07))
    pub.publish("markets.links", key, MarketLink(f"{key}->{event}:a", Venue.KALSHI, market, event, ts=2_000, yes_role="a",
                                                 confidence=1.0, method="test"))

    def quote(i: int) -> Quote:  # made-up books: what matters is how many records the partition holds
        return Quote(f"{key}:{i}", Venue.KALSHI, market, ts=3_000 + i, seq=i, yes_ask_depth=depth.pack_levels([(400_000 + (i % 50) * 10_000, 10.0)]))

    pub.publish("markets.quotes", key, quote(0))
    pub.flush()
    log = tmp_path / "router.log"
    first = _ready(_worker(kafka_bootstrap, app_id, tmp_path, "1"), tmp_path / "router-1.log")
    _wait_committed(kafka_bootstrap, app_id)  # the tables' changelogs now hold the route: the next start restores them
    _stop(first)
    for i in range(1, 3000):  # waiting at the restart: still being delivered while the recovered worker seeks
        pub.publish("markets.quotes", key, quote(i))
    pub.flush()
    worker = _worker(kafka_bootstrap, app_id, tmp_path, "2")
    log = tmp_path / "router-2.log"
    try:
        _ready(worker, log)
        assert "Restoring state from changelog topics" in log.read_text(errors="replace")
        for i in range(3000, 3100):  # read after the seek: the group must commit these too
            pub.publish("markets.quotes", key, quote(i))
        pub.flush()
        want, got = _wait_committed(kafka_bootstrap, app_id)
    finally:
        _stop(worker)
    assert got == want, f"committed {got}, log ends {want}\n" + log.read_text(errors="replace")[-3000:]


def _worker(bootstrap: str, app_id: str, folder: Path, n: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "ARBEES_APP_ID": app_id, "ARBEES_AGENTS": "router",
           "ARBEES_WEB_PORT": str(free_port()), "APP_DATADIR": str(folder / f"data-{n}"), "ARBEES_TEST_SEEK_DELAY_S": "6"}
    return subprocess.Popen([sys.executable, "-m", "tests.integration.slow_seek_worker", "worker", "-l", "info",
                             "--without-web"], cwd=REPO, env=env, stdout=(folder / f"router-{n}.log").open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _ready(worker: subprocess.Popen[bytes], log: Path) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + 120
    while "Worker ready" not in log.read_text(errors="replace"):
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(1)
    return worker


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def _wait_committed(bootstrap: str, group: str, timeout_s: float = 90) -> tuple[dict[int, int], dict[int, int]]:
    """Wait until the group has committed every partition of markets.quotes up to its log end; (ends, committed)."""
    ends = [tp for tp in log_ends(bootstrap, ("markets.quotes",))["markets.quotes"] if tp.offset]
    want = {tp.partition: tp.offset for tp in ends}
    deadline = time.monotonic() + timeout_s
    while (got := _committed(bootstrap, group, ends)) != want and time.monotonic() < deadline:
        time.sleep(2)
    return want, got
