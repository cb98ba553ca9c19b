"""The sink on a real broker and a real PostgreSQL: every record type lands with its source offsets;
re-runs, lost offsets and SIGKILLs duplicate nothing and lose nothing; the bankroll follows the ledger rule."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.publisher import make_producer
from ops import db
from ops.sink.errors import OffsetFence
from ops.sink.mapping import MAPPERS
from ops.sink.runner import Sink, SinkConfig
from ops.sink.store import conninfo
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.records import DeadLetter, EventState, LedgerEntry, Play, Quote
from schemas.topics import BY_NAME
from streams.trading import ledger as L
from streams.trading.units import Micros
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
def fresh_db(fresh_db: str) -> str:
    """An empty, migrated database of its own, on each database path (conftest's `fresh_db`, migrated)."""
    db.migrate(fresh_db)
    return fresh_db


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
    ensure_topics(kafka_bootstrap, (BY_NAME["deadletter"], BY_NAME["health"], BY_NAME["alerts"]))

    def make(names: list[str], quote_partitions: int = 3) -> Topics:
        return Topics(kafka_bootstrap, topic_factory, names, quote_partitions)

    return make


def _ident(record: Any) -> str:
    """The record's id: the first field of every contract record."""
    return str(getattr(record, dataclasses.fields(record)[0].name))


def _config(bootstrap: str, url: str, topics: Topics, **kw: Any) -> SinkConfig:
    base: dict[str, Any] = dict(bootstrap=bootstrap, database_url=url, consumer="sink-test", topics=topics.all,
                                batch_size=500, batch_wait_s=0.2, retention_every_s=0,
                                maintenance_every_s=0)
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
    # the fields 0003 gave columns to
    state = next(r for r in records if isinstance(r, EventState))
    assert _query(fresh_db, "SELECT entity_a_id, entity_a_abbr, entity_b_id, entity_b_abbr FROM event_states") == [
        ("16", "MIN", "28", "WSH")] and (state.entity_a_abbr, state.entity_b_abbr) == ("MIN", "WSH")
    assert _query(fresh_db, "SELECT source FROM quotes") == [("polymarket.rest",)]
    # the recorded ladders are big enough to be compressed, with the method 0003 set (staging keeps it)
    method = _query(fresh_db, "SELECT value FROM arbees_meta WHERE key = 'quotes_depth_compression'")[0][0]
    assert _query(fresh_db, "SELECT pg_column_compression(depth) FROM quotes") == [(method,)]
    assert _query(fresh_db, "SELECT model_p FROM orders") == [(0.8348,)]
    assert _query(fresh_db, "SELECT tick_bands FROM market_listings") == [
        ([{"start_micros": 0, "end_micros": 1_000_000, "step_micros": 10_000}],)]
    play = next(r for r in records if isinstance(r, Play))
    assert _query(fresh_db, "SELECT score_value, features FROM plays") == [(play.score_value, play.features)]
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
            "--batch-size", "400", "--batch-wait", "0.1", "--retention-every", "0",
            "--maintenance-every", "0", *extra]  # retention off on both paths: the recorded quotes are old
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


def test_the_bankroll_follows_the_ledger_rule_and_every_version_is_kept(
    kafka_bootstrap: str, fresh_db: str, topics: Any
) -> None:
    """Two writers race on one account: refused entries (stale, gap, duplicate, unknown reason) are stored
    but not booked, the rebuilt entry is booked under its id at its new version, and the sink goes on."""
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

    # writer B built its fee on version 1 (stale), rebuilt it on version 2 (booked at 3), and after a crash
    # rebuilt it once more at 4 (a duplicate); then a gap, an entry no reader can interpret, and a good one
    stale = LedgerEntry(entry_id=f"{acct}:b", account=acct, ts=good[1].ts + 1, delta_micros=-5_000_000,
                        balance_micros=good[0].balance_micros - 5_000_000, version=2, reason="fee: fill", ref="b")
    rebuilt = L.rebase(stale, 2, Micros(good[1].balance_micros))
    again = L.rebase(rebuilt, 3, Micros(rebuilt.balance_micros))
    gap = replace(good[1], entry_id=f"{acct}:gap", version=9, balance_micros=1, ref="gap")
    invalid = LedgerEntry(entry_id=f"{acct}:bonus", account=acct, ts=rebuilt.ts + 2, delta_micros=1, version=4,
                          balance_micros=rebuilt.balance_micros + 1, reason="bonus: none", ref="x")
    last = LedgerEntry(entry_id=f"{acct}:c", account=acct, ts=rebuilt.ts + 3, delta_micros=-1_000, version=4,
                       balance_micros=rebuilt.balance_micros - 1_000, reason="fee: fill", ref="c")
    later = [stale, rebuilt, again, gap, invalid, last]
    t.send(clob_quote(0, f"0x{run}"))
    for e in later:
        t.send(e, ident=f"{e.entry_id}@{e.version}")
    t.flush()

    stats = _run(cfg)

    assert stats.ledger_applied == 2
    assert stats.ledger_refused == {"stale": 1, "duplicate": 1, "gap": 1, "invalid": 1}
    # the same fold every reader does over the same log gives the same bankroll
    state = L.LedgerState(account=acct)
    for e in [*good, *later]:
        try:
            state, _ = L.apply(state, e)
        except L.LedgerError:
            pass
    assert (state.version, state.balance.value) == (4, last.balance_micros)
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll") == [(last.balance_micros, 4)]
    assert _query(fresh_db, "SELECT version, entry_id, delta_micros FROM bankroll_audit ORDER BY version") == [
        (1, good[0].entry_id, good[0].delta_micros), (2, good[1].entry_id, good[1].delta_micros),
        (3, rebuilt.entry_id, rebuilt.delta_micros), (4, last.entry_id, last.delta_micros)]
    # every version of B's entry is a fact of the log: kept, each with its own offset
    versions = _query(fresh_db, "SELECT version, balance_micros, src_offset FROM ledger_entries WHERE entry_id = %s "
                                "ORDER BY version", (stale.entry_id,))
    assert versions == [(e.version, e.balance_micros, t.delivered[f"{e.entry_id}@{e.version}"][2])
                        for e in (stale, rebuilt, again)]
    assert _query(fresh_db, "SELECT count(*) FROM ledger_entries")[0][0] == len(good) + len(later)
    assert _query(fresh_db, "SELECT count(*) FROM quotes")[0][0] == 1

    # offsets lost: the whole ledger again books nothing and refuses every entry as a duplicate or stale
    _query(fresh_db, "DELETE FROM sink_offsets RETURNING 1")
    replay = _run(cfg)
    assert replay.ledger_applied == 0 and sum(replay.ledger_refused.values()) == len(good) + len(later)
    assert _query(fresh_db, "SELECT balance_micros, version FROM bankroll") == [(last.balance_micros, 4)]


def test_retention_runs_on_either_path_and_keeps_trading_records(
    kafka_bootstrap: str, fresh_db: str, topics: Any
) -> None:
    """Plain PostgreSQL: the sink deletes old raw rows itself. TimescaleDB: the sink's maintenance pass runs the
    retention policies (as it must where TimescaleDB's scheduler fails), which drop the old chunks."""
    timescale = _query(fresh_db, "SELECT value FROM arbees_meta WHERE key = 'timescaledb'")[0][0] == "on"
    run = uuid.uuid4().hex[:8]
    records = [r for r in every_type(run) if type(r).__name__ in ("Quote", "Order", "EventState")]
    t = topics(sorted({ROUTES[type(r).__name__][0] for r in records}))
    for r in records:
        t.send(r)
    t.flush()
    _run(_config(kafka_bootstrap, fresh_db, t))  # retention and maintenance off: the recorded (old) rows land
    assert _counts(fresh_db)["quotes"] == 1 and _counts(fresh_db)["event_states"] == 1
    if timescale:
        chunks = _query(fresh_db, "SELECT count(*) FROM show_chunks('quotes')")[0][0]
        assert chunks == 1
        with Sink(_config(kafka_bootstrap, fresh_db, t, maintenance_every_s=3600, maintenance_mode="stack")) as sink:
            sink.housekeeping()
            assert sink.stats.maintenance_runs >= 5 and sink.stats.maintenance_failures == 0
            assert sink.stats.retention_deleted == 0  # the sink's own DELETE is the plain path's
        assert _query(fresh_db, "SELECT count(*) FROM show_chunks('quotes')") == [(0,)]  # dropped, not emptied
    else:
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


def test_arbees_sink_command_stores_the_topics_it_is_given(
    kafka_bootstrap: str, fresh_db: str, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ops.cli import app

    run = uuid.uuid4().hex[:8]
    t = topics(["markets.quotes", "ledger"], quote_partitions=1)
    for i in range(4):
        t.send(clob_quote(i, f"0x{run}"))
    for e in _ledger_chain(f"paper-{run}", 3, 1_767_554_656_215):
        t.send(e)
    t.flush()
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    args = ["sink", "--writer", "insert", "--until-caught-up", "--consumer", "cli-test",
            *[a for name in t.all for a in ("--topic", name)]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _query(fresh_db, "SELECT count(*), count(DISTINCT source) FROM quotes")[0] == (4, 1)
    assert _query(fresh_db, "SELECT version FROM bankroll") == [(3,)]
    assert {r[0] for r in _query(fresh_db, "SELECT consumer FROM sink_offsets")} == {"cli-test"}

    missing = CliRunner().invoke(app, ["sink", "--until-caught-up", "--topic", f"no-such-topic-{run}"])
    assert missing.exit_code == 1 and f"topic 'no-such-topic-{run}' does not exist" in missing.output
