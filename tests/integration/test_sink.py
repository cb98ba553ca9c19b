"""The sink on a real broker and a real PostgreSQL: every record type lands with its source offsets;
re-runs, lost offsets and SIGKILLs duplicate nothing and lose nothing; a bankroll conflict stops it."""

from __future__ import annotations

import dataclasses
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

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.publisher import make_producer
from ops import db
from ops.sink.errors import BankrollConflict, OffsetFence
from ops.sink.mapping import MAPPERS
from ops.sink.runner import Sink, SinkConfig
from ops.sink.store import conninfo
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.records import DeadLetter, LedgerEntry, Quote
from schemas.topics import BY_NAME
from tests.conftest import TopicFactory
from tests.unit.sink.samples import clob_quote, every_type

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]

#: record type -> (registry topic it travels on, its key)
ROUTES: dict[str, tuple[str, Any]] = {
    "RawFeed": ("raw.kalshi", lambda r: f"{r.source}:{r.endpoint}"),
    "EventState": ("events.state", lambda r: r.event_id),
    "Play": ("events.plays", lambda r: r.event_id),
    "MarketListing": ("markets.catalog", lambda r: f"{r.venue.value}:{r.market_id}"),
    "MarketLink": ("markets.links", lambda r: f"{r.venue.value}:{r.market_id}"),
    "Quote": ("markets.quotes", lambda r: f"{r.venue.value}:{r.market_id}"),
    "Probability": ("model.probabilities", lambda r: r.event_id),
    "Signal": ("signals", lambda r: r.event_id),
    "Order": ("orders", lambda r: r.account),
    "Fill": ("fills", lambda r: r.account),
    "OrderStatus": ("fills", lambda r: r.account),
    "PositionEvent": ("positions", lambda r: r.account),
    "LedgerEntry": ("ledger", lambda r: r.account),
    "RiskEvent": ("risk.state", lambda r: r.account),
    "Alert": ("alerts", lambda r: r.dedupe_key),
    "Heartbeat": ("health", lambda r: f"{r.service}:{r.instance}"),
}


@pytest.fixture()
def fresh_db(database_url: str) -> Iterator[str]:
    """An empty, migrated database of its own on the session's server."""
    name = f"arbees_sink_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    db.migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Topics:
    """Run-unique copies of registry topics (a shared broker: other tests' records stay out)."""

    def __init__(self, bootstrap: str, factory: TopicFactory, names: list[str], quote_partitions: int = 3) -> None:
        self.names = {
            n: factory(prefix=n, partitions=quote_partitions if n == "markets.quotes" else min(BY_NAME[n].partitions, 2))
            for n in names
        }
        self.producer = make_producer(bootstrap)
        self.codec = default_codec()
        self.delivered: dict[str, tuple[str, int, int]] = {}  # record id -> (topic, partition, offset)

    def send(self, record: Any, ident: str | None = None) -> None:
        topic_name, key = ROUTES[type(record).__name__]
        self.send_raw(topic_name, key(record), self.codec.encode(record), ident or _ident(record))

    def send_raw(self, registry_name: str, key: str, value: bytes, ident: str) -> None:
        def on_delivery(err: Any, msg: Any) -> None:
            assert err is None, err
            self.delivered[ident] = (msg.topic(), msg.partition(), msg.offset())

        while True:
            try:
                self.producer.produce(self.names[registry_name], key=key.encode(), value=value, on_delivery=on_delivery)
                break
            except BufferError:
                self.producer.poll(0.1)
        self.producer.poll(0)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(self.names.values())


@pytest.fixture()
def topics(kafka_bootstrap: str, topic_factory: TopicFactory) -> Any:
    ensure_topics(kafka_bootstrap, (BY_NAME["deadletter"],))

    def make(names: list[str], quote_partitions: int = 3) -> Topics:
        return Topics(kafka_bootstrap, topic_factory, names, quote_partitions)

    return make


def _ident(record: Any) -> str:
    """The record's id: the first field of every contract record."""
    return str(getattr(record, dataclasses.fields(record)[0].name))


def _config(bootstrap: str, url: str, topics: Topics, **kw: Any) -> SinkConfig:
    base: dict[str, Any] = dict(bootstrap=bootstrap, database_url=url, consumer="sink-test", topics=topics.all,
                                batch_size=500, batch_wait_s=0.2, retention_every_s=0)
    base.update(kw)
    return SinkConfig(**base)


def _run(config: SinkConfig) -> Any:
    with Sink(config) as sink:
        return sink.run(until_caught_up=True)


def _query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo(url)) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def _counts(url: str) -> dict[str, int]:
    tables = ["raw_feeds", "event_states", "plays", "quotes", "probabilities", "signals", "orders", "fills",
              "order_statuses", "position_events", "ledger_entries", "risk_events", "alerts", "heartbeats",
              "dead_letters", "market_listings", "market_links", "bankroll", "bankroll_audit"]
    return {t: _query(url, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def _end_offset(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
    finally:
        c.close()


def _dead_letters_since(bootstrap: str, start: dict[int, int], timeout_s: float = 20.0) -> list[DeadLetter]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}", "enable.auto.commit": False})
    c.assign([TopicPartition("deadletter", p, o) for p, o in start.items()])
    out: list[DeadLetter] = []
    end = _end_offset(bootstrap, "deadletter", len(start))
    deadline = time.monotonic() + timeout_s
    try:
        while sum(end.values()) - sum(start.values()) > len(out) and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                out.append(default_codec().decode(msg.value()))
    finally:
        c.close()
    return out


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["copy", "insert"])
def test_every_record_type_lands_with_its_source_and_replays_change_nothing(
    kafka_bootstrap: str, fresh_db: str, topics: Any, writer: str
) -> None:
    run = uuid.uuid4().hex[:8]
    records = every_type(run)
    t = topics(sorted({ROUTES[type(r).__name__][0] for r in records}))
    for r in records:
        t.send(r)
    older = replace(records[3], ts=records[3].ts - 60_000, title="an older title")  # the listing, out of order
    t.send(older, ident="older-listing")
    garbage = b"\x00\x00\x00\x00\x07not avro at all"
    t.send_raw("markets.quotes", "POLYMARKET:garbage", garbage, ident="garbage")
    t.flush()
    dl_start = _end_offset(kafka_bootstrap, "deadletter", BY_NAME["deadletter"].partitions)

    stats = _run(_config(kafka_bootstrap, fresh_db, t, writer=writer))

    assert stats.rows == len(records) + 2 and stats.dead_letters == 1 and stats.ledger_applied == 2
    for r in records:
        table = {"MarketListing": "market_listings", "MarketLink": "market_links"}.get(type(r).__name__)
        src = t.delivered[_ident(r)]
        if table == "market_listings":
            got = _query(fresh_db, "SELECT title, src_topic, src_partition, src_offset FROM market_listings "
                                   "WHERE listing_id = %s", (r.listing_id,))
            assert got == [(r.title, *src)]  # the newer row won although the older one came later
        elif table == "market_links":
            got = _query(fresh_db, "SELECT link_id, src_topic, src_partition, src_offset FROM market_links "
                                   "WHERE venue = %s AND market_id = %s", (r.venue.value, r.market_id))
            assert got == [(r.link_id, *src)]
        else:
            spec, _ = MAPPERS[type(r)]
            id_col = spec.columns[0].name
            got = _query(fresh_db, f"SELECT src_topic, src_partition, src_offset FROM {spec.name} WHERE {id_col} = %s",
                         (_ident(r),))
            assert got == [src], spec.name
    quote = next(r for r in records if isinstance(r, Quote))
    mid, bids = _query(fresh_db, "SELECT yes_mid_micros, depth->'yes_bids' FROM quotes WHERE quote_id = %s",
                       (quote.quote_id,))[0]
    assert mid == 500_000 and bids[0] == [490_000, 1028.0] and len(bids) == 20
    acct = next(r.account for r in records if isinstance(r, LedgerEntry))
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll WHERE account = %s", (acct,)) == [(999_930_000, 2)]
    assert _query(fresh_db, "SELECT version, delta_micros FROM bankroll_audit WHERE account = %s ORDER BY version",
                  (acct,)) == [(1, 1_000_000_000), (2, -70_000)]

    # the undecodable value: a dead_letters row at its coordinates, and a deadletter record on the topic
    gt, gp, go = t.delivered["garbage"]
    dead = _query(fresh_db, 'SELECT dead_id, topic, partition, "offset", value, error_type, src_offset FROM dead_letters')
    assert len(dead) == 1
    dead_id, topic, part, off, value, etype, src_off = dead[0]
    assert (topic, part, off, bytes(value), etype, src_off) == (gt, gp, go, garbage, "DecodeError", go)
    produced = [d for d in _dead_letters_since(kafka_bootstrap, dl_start) if d.dead_id == dead_id]
    assert len(produced) == 1 and produced[0].value == garbage and produced[0].service == "sink"

    stored = dict(((tp, p), o) for tp, p, o in _query(fresh_db, "SELECT topic, partition, next_offset FROM sink_offsets"))
    for name in t.all:
        for p, high in _end_offset(kafka_bootstrap, name, 3 if name.startswith("markets.quotes") else 2).items():
            assert stored.get((name, p), 0) == high

    before = _counts(fresh_db)
    again = _run(_config(kafka_bootstrap, fresh_db, t, writer=writer))
    assert again.rows == 0 and _counts(fresh_db) == before

    # offsets lost: the whole log is read again; natural keys and the audit make it a no-op
    _query(fresh_db, "DELETE FROM sink_offsets RETURNING 1")
    replay = _run(_config(kafka_bootstrap, fresh_db, t, writer=writer))
    assert replay.rows == len(records) + 2 and replay.rows_written == 0 and replay.ledger_applied == 0
    assert _counts(fresh_db) == before
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll WHERE account = %s", (acct,)) == [(999_930_000, 2)]


def _ledger_chain(acct: str, n: int, ts0: int) -> list[LedgerEntry]:
    out, balance = [], 0
    for v in range(1, n + 1):
        delta = 500_000_000 if v == 1 else (-(v * 1_000) if v % 3 else v * 2_500)
        balance += delta
        reason = "deposit: initial" if v == 1 else ("fee: fill" if delta < 0 else "realized: settled")
        out.append(LedgerEntry(entry_id=f"{acct}:{v}", account=acct, ts=ts0 + v, delta_micros=delta,
                               balance_micros=balance, version=v, reason=reason, ref=f"ref-{v}"))
    return out


def _start_sink(bootstrap: str, url: str, t: Topics, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "ops.sink", "--bootstrap", bootstrap, "--database-url", url, "--consumer", "sink-kill",
            "--batch-size", "400", "--batch-wait", "0.1", "--retention-every", "0", *extra]
    for name in t.all:
        args += ["--topic", name]
    return subprocess.Popen(args, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def test_sigkill_mid_way_then_restart_loses_nothing_and_duplicates_nothing(
    kafka_bootstrap: str, fresh_db: str, topics: Any, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    n_quotes, n_ledger = 12_000, 300
    t = topics(["markets.quotes", "ledger"])
    markets = [f"0x{run}{m:02d}" for m in range(24)]
    chain = _ledger_chain(f"paper-{run}", n_ledger, 1_767_554_656_215)
    for i in range(n_quotes):
        t.send(clob_quote(i, markets[i % len(markets)]))
        if i % (n_quotes // n_ledger) == 0 and i // (n_quotes // n_ledger) < n_ledger:
            t.send(chain[i // (n_quotes // n_ledger)])
    t.flush()
    assert len(t.delivered) == n_quotes + n_ledger
    log = tmp_path / "sink.log"

    kills = 0
    for _ in range(3):
        proc = _start_sink(kafka_bootstrap, fresh_db, t, log)
        seen_before = _query(fresh_db, "SELECT count(*) FROM quotes")[0][0]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = _query(fresh_db, "SELECT count(*) FROM quotes")[0][0]
            if done > seen_before + 1_500 or done == n_quotes:
                break
            time.sleep(0.05)
        if proc.poll() is None and done < n_quotes:
            os.killpg(proc.pid, signal.SIGKILL)  # mid-batch, mid-COPY, anywhere
            proc.wait(timeout=10)
            kills += 1
        else:
            proc.wait(timeout=30)
    assert kills >= 1, "the sink finished before it could be killed: produce more"
    partial = _query(fresh_db, "SELECT count(*) FROM quotes")[0][0]
    assert 0 < partial < n_quotes

    proc = _start_sink(kafka_bootstrap, fresh_db, t, log, "--until-caught-up")
    assert proc.wait(timeout=180) == 0, log.read_text()[-2000:]

    total, distinct = _query(fresh_db, "SELECT count(*), count(DISTINCT quote_id) FROM quotes")[0]
    assert total == distinct == n_quotes
    # no gaps: per partition the stored offsets are exactly the produced ones
    produced: dict[tuple[str, int], list[int]] = {}
    for ident, (topic, part, off) in t.delivered.items():
        if topic == t.names["markets.quotes"]:
            produced.setdefault((topic, part), []).append(off)
    for (topic, part), offs in produced.items():
        got = [r[0] for r in _query(fresh_db, "SELECT src_offset FROM quotes WHERE src_topic = %s AND src_partition = %s "
                                              "ORDER BY src_offset", (topic, part))]
        assert got == sorted(offs)
    last = chain[-1]
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll") == [(last.balance_micros, n_ledger)]
    assert _query(fresh_db, "SELECT count(*), count(DISTINCT version), sum(delta_micros) FROM bankroll_audit")[0] == (
        n_ledger, n_ledger, last.balance_micros)
    assert _query(fresh_db, "SELECT count(*) FROM ledger_entries")[0][0] == n_ledger


def test_bankroll_version_conflict_stops_the_sink_and_commits_nothing_of_its_batch(
    kafka_bootstrap: str, fresh_db: str, topics: Any, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    acct = f"paper-{run}"
    t = topics(["markets.quotes", "ledger"], quote_partitions=1)
    good = _ledger_chain(acct, 2, 1_767_554_656_215)
    for e in good:
        t.send(e)
    t.flush()
    cfg = _config(kafka_bootstrap, fresh_db, t, batch_wait_s=1.0)
    _run(cfg)
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll") == [(good[1].balance_micros, 2)]
    offsets_before = _query(fresh_db, "SELECT topic, partition, next_offset FROM sink_offsets ORDER BY 1, 2")

    # a second writer that also built on version 1: another entry claims version 2
    stale = LedgerEntry(entry_id=f"{acct}:other", account=acct, ts=good[1].ts + 1, delta_micros=-5_000_000,
                        balance_micros=good[0].balance_micros - 5_000_000, version=2, reason="fee: fill", ref="other")
    t.send(clob_quote(0, f"0x{run}"))
    t.send(stale)
    t.flush()
    with pytest.raises(BankrollConflict, match=r"version 2 is not after the stored version 2.*refusing to overwrite"):
        _run(cfg)
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll") == [(good[1].balance_micros, 2)]
    assert _query(fresh_db, "SELECT count(*) FROM bankroll_audit")[0][0] == 2
    assert _query(fresh_db, "SELECT count(*) FROM quotes")[0][0] == 0  # same batch: rolled back with it
    assert _query(fresh_db, "SELECT topic, partition, next_offset FROM sink_offsets ORDER BY 1, 2") == offsets_before

    # the CLI stops with status 2 and says why; restarting does not get past it either
    log = tmp_path / "sink.log"
    proc = subprocess.run(
        [sys.executable, "-m", "ops.sink", "--bootstrap", kafka_bootstrap, "--database-url", fresh_db,
         "--consumer", "sink-test", "--retention-every", "0", "--until-caught-up",
         *[a for name in t.all for a in ("--topic", name)]],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"bankroll conflict for account '{acct}' at ledger entry '{acct}:other'" in proc.stderr
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll") == [(good[1].balance_micros, 2)]


def test_retention_runs_on_plain_postgresql_and_keeps_trading_records(
    kafka_bootstrap: str, fresh_db: str, topics: Any
) -> None:
    assert _query(fresh_db, "SELECT value FROM arbees_meta WHERE key = 'timescaledb'") == [("off",)]
    run = uuid.uuid4().hex[:8]
    records = [r for r in every_type(run) if type(r).__name__ in ("Quote", "Order", "EventState")]
    t = topics(sorted({ROUTES[type(r).__name__][0] for r in records}))
    for r in records:
        t.send(r)
    t.flush()
    _run(_config(kafka_bootstrap, fresh_db, t))  # retention off: the recorded (old) rows land
    assert _counts(fresh_db)["quotes"] == 1 and _counts(fresh_db)["event_states"] == 1
    with Sink(_config(kafka_bootstrap, fresh_db, t, retention_every_s=3600)) as sink:
        sink.housekeeping()
        assert sink.stats.retention_deleted == 2  # the quote and the state are older than 30 days
    counts = _counts(fresh_db)
    assert (counts["quotes"], counts["event_states"], counts["orders"]) == (0, 0, 1)


def test_a_second_sink_on_the_same_offsets_is_fenced_off(kafka_bootstrap: str, fresh_db: str, topics: Any) -> None:
    run = uuid.uuid4().hex[:8]
    t = topics(["markets.quotes"], quote_partitions=1)
    for i in range(3):
        t.send(clob_quote(i, f"0x{run}"))
    t.flush()
    cfg = _config(kafka_bootstrap, fresh_db, t)
    with Sink(cfg) as first, Sink(cfg) as second:  # both loaded "no stored offset yet"
        first.run(until_caught_up=True)
        msgs: list[Any] = []
        deadline = time.monotonic() + 20
        while len(msgs) < 3 and time.monotonic() < deadline:
            msgs += second.poll()
        batch, dead = second.build(msgs)
        assert len(batch) == 3 and not dead
        with pytest.raises(OffsetFence, match="another sink with this consumer name is writing"):
            second.write(batch, dead)
    assert _query(fresh_db, "SELECT next_offset FROM sink_offsets") == [(3,)]
    assert _query(fresh_db, "SELECT count(*) FROM quotes")[0][0] == 3
