"""The alerts agent through the real broker, delivering to a local HTTP server posing as Slack and Discord.

An alert storm (1,000 identical heartbeats of a part that cannot reach its service,
within one second) is one delivery per webhook, and the digest carries the count
of the rest; a part that stops beating is a critical alert after three missed
intervals. The heartbeats are made up for the test (a service named for it); the
agent, the broker and the webhook payload shapes are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from ops.kafka.groups import commit_offsets
from connectors.publisher import Publisher
from ops.run.parts import free_port
from schemas.enums import HealthStatus
from schemas.records import Heartbeat

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("deadletter", "risk.state", "health", "fills", "ledger")


class Hooks:
    """A local webhook receiver: every JSON body posted, by path."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.posts.append((self.path, json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def texts(self, path: str) -> list[str]:
        key = "content" if path == "/discord" else "text"
        return [body[key] for p, body in list(self.posts) if p == path]

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout:.0f}s; posts: {self.posts[-20:]}")
            time.sleep(0.2)


def start_at_log_end(bootstrap: str, group: str) -> None:
    """The new group starts at the sources' ends: the alerts of this test, not the broker's history."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        md = c.list_topics(timeout=15)
        tps = [TopicPartition(t, p) for t in SOURCES for p in md.topics[t].partitions]
        ends = [TopicPartition(tp.topic, tp.partition, c.get_watermark_offsets(tp, timeout=10)[1]) for tp in tps]
    finally:
        c.close()
    commit_offsets(bootstrap, group, ends)


@pytest.fixture(scope="module")
def alerts_worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hooks, Path]]:
    from ops.topics import ensure_topics

    ensure_topics(kafka_bootstrap)
    hooks = Hooks()
    app_id = f"it-alerts-{uuid.uuid4().hex[:8]}"
    start_at_log_end(kafka_bootstrap, app_id)
    folder = tmp_path_factory.mktemp("alerts")
    log = folder / "worker.log"
    env = {**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap, "ARBEES_APP_ID": app_id, "ARBEES_AGENTS": "alerts",
           "ARBEES_WEB_PORT": str(free_port()), "APP_DATADIR": str(folder / "data"), "ARBEES_HEARTBEAT_S": "1",
           "ARBEES_ALERT_SLACK_URLS": f"{hooks.url}/slack", "ARBEES_ALERT_DISCORD_URLS": f"{hooks.url}/discord",
           "ARBEES_ALERT_DIGEST_S": "4", "ARBEES_ALERT_MAX_PER_MIN": "1000"}
    proc = subprocess.Popen([sys.executable, "-m", "streams.agents.worker", "worker", "-l", "info"], cwd=REPO, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Worker ready" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        yield hooks, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        hooks.server.shutdown()


def _hb(service: str, ts: int, status: HealthStatus, n: int, interval: str = "1") -> Heartbeat:
    return Heartbeat(f"hb:{service}:{ts}:{n}", service, "test:1", status, ts=ts,
                     detail={"interval_s": interval, "state": "unreachable, retrying" if status is not HealthStatus.OK
                             else "running", "error": "made-up: no route to host"})


def test_an_alert_storm_is_one_delivery_per_webhook_plus_a_count(kafka_bootstrap: str, alerts_worker) -> None:
    hooks, _ = alerts_worker
    service = f"storm-{uuid.uuid4().hex[:6]}"
    publisher = Publisher(kafka_bootstrap, service="test")
    began = time.monotonic()
    now = int(time.time() * 1000)
    for i in range(1000):
        hb = _hb(service, now + i % 900, HealthStatus.DEGRADED, i)
        publisher.publish("health", f"{service}:test:1", hb)
    publisher.flush()
    assert time.monotonic() - began < 1.0 + 2.0  # produced within about a second (flush included)

    def storm(path: str) -> list[str]:
        return [t for t in hooks.texts(path) if f"{service} is DEGRADED" in t]

    hooks.wait_for("the storm's first delivery on both webhooks", lambda: storm("/slack") and storm("/discord"))
    folded = f"health:{service}:DEGRADED: 999 more like this, folded"
    hooks.wait_for("the digest with the storm's count",
                   lambda: any(folded in t for t in hooks.texts("/slack")) and any(folded in t for t in hooks.texts("/discord")))
    assert len(storm("/slack")) == 1 and len(storm("/discord")) == 1, hooks.posts
    assert storm("/slack")[0] == f"[WARNING] {service}: {service} is DEGRADED: unreachable, retrying; made-up: no route to host"


def test_a_part_that_stops_beating_raises_a_critical_alert(kafka_bootstrap: str, alerts_worker) -> None:
    hooks, _ = alerts_worker
    service = f"ghost-{uuid.uuid4().hex[:6]}"
    publisher = Publisher(kafka_bootstrap, service="test")
    for i in range(3):
        publisher.publish("health", f"{service}:test:1", _hb(service, int(time.time() * 1000), HealthStatus.OK, i))
        publisher.flush()
        time.sleep(1.0)
    silent_since = time.monotonic()
    missed = f"[CRITICAL] {service}: {service} missed its heartbeats"
    hooks.wait_for("the missed-heartbeat alert", lambda: any(t.startswith(missed) for t in hooks.texts("/slack")), 30)
    assert time.monotonic() - silent_since >= 1.5  # not before three intervals of silence (the last beat 1 s before)
    assert "(promised every 1s)" in next(t for t in hooks.texts("/slack") if t.startswith(missed))
