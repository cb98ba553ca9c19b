"""A trading worker stopped (SIGTERM) in the middle of a record does not commit that record's offset.

Stopping cancels the agents and closes their streams, which acks the record each was on, then
commits: a record whose handler was cancelled half way would be committed unfinished, and the
next worker would start after it (the shard agent had this hazard for its batches). Where it
costs most is a live submit in flight: execution has made the `submitting` mark durable and
waits for the venue. Here the venue is a local server that takes the request and never answers;
the worker is stopped while it waits. The next worker must read the order again, find it
`submitting` with no answer, and do what a restart after a crash does: report the outcome
UNKNOWN, block the account and reconcile by client order id. Before the fix the order's offset
was committed at the stop, the next worker never saw the order, and it stayed `submitting`
with nobody looking it up. (Live mode here: ARBEES_MODE=live, the worker's --live switch and a
generated key, against 127.0.0.1 only.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from schemas.codec import default_codec
from schemas.errors import DecodeError
from schemas.enums import OrderState, TradingMode
from schemas.records import Order, OrderStatus, RiskEvent
from tests.integration.listener import Listener
from tests.integration.test_trading_loop import trading_env  # noqa: F401 - the fixture
from tests.unit.trading import recorded_game as game

pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]


@pytest.fixture
def silent_venue() -> Iterator[Listener]:
    venue = Listener(hold=True)  # takes the request and never answers
    yield venue
    venue.close()


def _key_file(folder: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "kalshi-test-key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _where(bootstrap: str, topic: str, order_id: str, timeout_s: float = 60) -> TopicPartition:
    codec = default_codec()
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            try:
                rec = codec.decode(msg.value())
            except DecodeError:
                continue  # another test's bad record: not the order
            if isinstance(rec, Order) and rec.order_id == order_id:
                return TopicPartition(topic, msg.partition(), msg.offset())
        raise AssertionError(f"{order_id} is not on {topic}")
    finally:
        c.close()


def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(tp.topic, tp.partition)], timeout=30)[0].offset
    finally:
        c.close()


def test_a_worker_stopped_during_a_live_submit_reads_the_order_again_and_reconciles_it(trading_env, silent_venue) -> None:
    worker, reader, pub = trading_env
    bootstrap, acct, ev = worker.bootstrap, worker.account, worker.event_id
    worker.worker_flags = ("--live",)
    worker.extra_env.update({"ARBEES_MODE": "live", "KALSHI_API_KEY_ID": "it-key",
                             "KALSHI_PRIVATE_KEY_PATH": str(_key_file(worker.log_dir)),
                             "KALSHI_REST_URL": f"http://127.0.0.1:{silent_venue.port}/trade-api/v2"})
    t = game.KICKOFF_MS + 3_600_000
    pub.publish("ledger", acct, game.deposit(acct))
    pub.publish("shard.inputs", ev, game.quote_input(game.GB, t, ev))
    pub.flush()
    worker.start()
    pub.publish("signals", ev, game.edge_signal(game.GB, t + 1_000, p=0.62, price=440_000, fee_per_contract=17_648,
                                                size=2.0, tag=f"-stop-{worker.app_id}", event_id=ev))
    pub.flush()
    reader.until(lambda r: bool(r.of("orders", Order)), 120, worker)
    order = reader.of("orders", Order)[0]
    assert order.mode is TradingMode.LIVE
    deadline = time.monotonic() + 30
    while not silent_venue.accepted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert silent_venue.accepted, f"execution never called the venue:\n{worker.tail()}"
    time.sleep(1.0)  # the submit waits for an answer that never comes (the client gives up after 10 s)
    assert not reader.of("fills", OrderStatus)
    worker.stop(grace_s=60.0)

    at = _where(bootstrap, "orders", order.order_id)
    committed = _committed(bootstrap, worker.app_id, at)
    assert committed <= at.offset, (f"the stopped worker committed orders[{at.partition}] at {committed}, past the order "
                                    f"whose submit it never finished (offset {at.offset})")

    worker.start()
    reader.until(lambda r: any(s.order_id == order.order_id for s in r.of("fills", OrderStatus)), 120, worker)
    status = next(s for s in reader.of("fills", OrderStatus) if s.order_id == order.order_id)
    assert status.state is OrderState.UNKNOWN and "worker restarted while the submit was in flight" in status.reason, status
    reader.until(lambda r: any(e.ref == order.order_id for e in r.of("risk.state", RiskEvent)), 30, worker)
