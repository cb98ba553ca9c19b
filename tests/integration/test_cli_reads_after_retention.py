"""`arbees pnl` and the other CLI readers start at each partition's first record still held.

Once retention (here: delete-records, what retention does) removes a partition's oldest records,
offset 0 is out of range; the reader assigned offset 0, its consumer jumped to the end, and
`arbees pnl` printed an empty table (found by the full suite, after another test's deletions).
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from connectors.publisher import Publisher
from ops.topics import ensure_topics
from ops.trading_cli import read_topic
from schemas.records import LedgerEntry
from schemas.topics import BY_NAME
from tests.unit.trading import recorded_game as game

pytestmark = pytest.mark.integration


def test_read_topic_reads_what_retention_left(kafka_bootstrap: str) -> None:
    ensure_topics(kafka_bootstrap, (BY_NAME["ledger"],))
    acct = f"acct-{uuid.uuid4().hex[:10]}"
    first = game.deposit(acct)  # the recorded game's deposit, on a fresh account
    second = LedgerEntry(entry_id=f"le2-{acct}", account=acct, ts=first.ts + 1, delta_micros=-1_000_000,
                         balance_micros=first.balance_micros - 1_000_000, version=2, reason="withdrawal", ref="test")
    pub = Publisher(kafka_bootstrap, service="retention-test")
    pub.publish("ledger", acct, first)
    pub.flush(30)
    probe = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        parts = probe.list_topics("ledger", timeout=10).topics["ledger"].partitions
        ends = {p: probe.get_watermark_offsets(TopicPartition("ledger", p), timeout=10)[1] for p in parts}
    finally:
        probe.close()
    pub.publish("ledger", acct, second)
    pub.flush(30)
    # retention removes everything up to the first entry on every partition
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})
    gone = [TopicPartition("ledger", p, n) for p, n in ends.items() if n > 0]
    for fut in admin.delete_records(gone, request_timeout=30).values():
        fut.result()
    got = [e for e in read_topic(kafka_bootstrap, "ledger", acct) if isinstance(e, LedgerEntry)]
    assert [e.entry_id for e in got] == [second.entry_id]  # was: [] (offset 0 out of range: read from the end)
