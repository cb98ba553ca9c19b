"""Sink benchmark (`python -m bench.sink`): quote rows per second into PostgreSQL, COPY vs row by row.

Both writers run in the same process against the same fresh, migrated database,
in alternating batches (so both see the same table and index sizes), each batch
committed with its offsets exactly as the sink does. Rows are the recorded
Polymarket CLOB book (20 levels a side) as a stream of distinct quotes, mapped
beforehand: the figures are the database write path, not Avro decoding.

`--depth-compression lz4|pglz` overrides the TOAST method migration 0003 chose
for `quotes.depth`, to measure one against the other on the same code.

On TimescaleDB the written quotes are then compressed (migration 0007's columnstore
settings: segment by venue and market, order by time) and the on-disk size before
over after is `sink.compression_ratio`; on plain PostgreSQL that key is not written.

End to end (`sink.end_to_end_rows_per_s`): the same quotes framed and produced to
`markets.quotes` on the real broker first, then the sink itself (`ops.sink.runner.Sink`,
COPY writer, default batch) started on a fresh database whose stored offsets are the
topic's end before the run, timed from `run` to caught up: consume, decode, map,
COPY, upsert and commit with offsets. `sink.decode_map_rows_per_s` is the decode and
row mapping of those frames alone, in process, the part of that path COPY never sees,
per CPU second; `sink.end_to_end_rows_per_cpu_s` divides by the sink process's CPU time
(its consumer threads included, the database server not), which a loaded machine skews less.

Keys merged into bench/results.json (read, update, write): `sink.copy_rows_per_s`,
`sink.copy_vs_insert`, `sink.insert_rows_per_s`, `sink.compression_ratio`,
`sink.end_to_end_rows_per_s`, `sink.end_to_end_rows` and `sink.decode_map_rows_per_s`.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ops import db
from ops.sink.mapping import Row, SourceRef, to_row
from ops.sink.store import connect
from ops.sink.writer import Batch, CopyWriter, InsertWriter, OffsetAdvance, Writer
from tests.unit.sink.samples import clob_quote

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
TOPIC = "markets.quotes"
MARKETS = 48


def merge(figures: dict[str, float]) -> None:
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update({k: round(v, 3) for k, v in figures.items()})
    RESULTS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"arbees_bench_sink_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # no background retention on the (old, recorded) bench rows: see migration 0002's PAUSE_JOBS_FOR_STACK
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET arbees.maintenance = 'stack'"))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        db.migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def quote_rows(start: int, n: int, partition: int) -> list[Row]:
    """n distinct quotes of the recorded book on 48 markets, at consecutive offsets of one partition."""
    return [
        to_row(clob_quote(i, f"0xbench{i % MARKETS:02d}"), SourceRef(TOPIC, partition, i - start))
        for i in range(start, start + n)
    ]


class Lane:
    """One writer on its own partition, tracking the offsets it commits like the sink does."""

    def __init__(self, writer: Writer, partition: int) -> None:
        self.writer = writer
        self.partition = partition
        self.stored: int | None = None
        self.rows = 0
        self.seconds = 0.0

    def write(self, rows: list[Row]) -> None:
        nxt = rows[-1].values[-1] + 1
        batch = Batch(rows=rows, offsets=[OffsetAdvance(TOPIC, self.partition, self.stored, nxt)])
        t0 = time.perf_counter()
        result = self.writer.write(batch)
        self.seconds += time.perf_counter() - t0
        if result.rows_written.get("quotes") != len(rows):
            raise RuntimeError(f"{type(self.writer).__name__}: wrote {result.rows_written} of {len(rows)} rows")
        self.stored = nxt
        self.rows += len(rows)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def set_depth_compression(url: str, method: str) -> str:
    """Override the method migration 0003 chose for quotes.depth ("as-migrated": keep it); the method in use."""
    with connect(url) as conn:
        if method != "as-migrated":
            conn.execute(f"ALTER TABLE quotes ALTER COLUMN depth SET COMPRESSION {method}")
        row = conn.execute("SELECT coalesce(nullif(attcompression::text, ''), current_setting('default_toast_compression')) "
                           "FROM pg_attribute WHERE attrelid = 'quotes'::regclass AND attname = 'depth'").fetchone()
    return str(row[0]) if row else "?"


def run(url: str, rounds: int, batch: int) -> dict[str, float]:
    t0 = time.perf_counter()
    per_lane = (rounds + 1) * batch
    copy_rows = quote_rows(0, per_lane, 0)
    insert_rows = quote_rows(per_lane, per_lane, 1)
    map_s = time.perf_counter() - t0
    print(f"mapped {2 * per_lane} quote rows in {map_s:.1f}s ({2 * per_lane / map_s:,.0f} rows/s)", flush=True)
    conn_c, conn_i = connect(url), connect(url)
    try:
        copy, insert = Lane(CopyWriter(conn_c, "bench-copy"), 0), Lane(InsertWriter(conn_i, "bench-insert"), 1)
        # warm-up round (plans, caches, first pages), not counted
        copy.write(copy_rows[:batch])
        insert.write(insert_rows[:batch])
        copy.rows = insert.rows = 0
        copy.seconds = insert.seconds = 0.0
        for r in range(1, rounds + 1):
            copy.write(copy_rows[r * batch:(r + 1) * batch])
            insert.write(insert_rows[r * batch:(r + 1) * batch])
            print(f"round {r}/{rounds}: copy {copy.rows_per_s:,.0f} rows/s, insert {insert.rows_per_s:,.0f} rows/s",
                  flush=True)
        total = conn_c.execute("SELECT count(*), count(DISTINCT quote_id) FROM quotes").fetchone()
        if total is None or total[0] != total[1] or total[0] != 2 * per_lane:
            raise RuntimeError(f"quotes holds {total}, expected {2 * per_lane} distinct rows")
        # a hypertable's rows live in its chunks: pg_total_relation_size of the parent is 0 there
        size_of = "hypertable_size('quotes')" if _timescale(conn_c) else "pg_total_relation_size('quotes')"
        size = conn_c.execute(f"SELECT {size_of}, "
                              "(SELECT string_agg(DISTINCT pg_column_compression(depth), ',') FROM quotes)").fetchone()
        if size is not None:
            print(f"quotes: {size[0] / total[0]:,.0f} bytes per row on disk, depth compressed with {size[1]}", flush=True)
    finally:
        conn_c.close()
        conn_i.close()
    return {
        "sink.copy_rows_per_s": copy.rows_per_s,
        "sink.insert_rows_per_s": insert.rows_per_s,
        "sink.copy_vs_insert": copy.rows_per_s / insert.rows_per_s,
    }


def _timescale(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT value FROM arbees_meta WHERE key = 'timescaledb'").fetchone()
    return row is not None and row[0] == "on"


def compression_ratio(url: str) -> dict[str, float]:
    """Compress every quotes chunk now (as the policy would once they are 2 days old): bytes before / after."""
    with connect(url) as conn:
        if not _timescale(conn):
            print("plain PostgreSQL: no columnstore compression to measure", flush=True)
            return {}
        before = conn.execute("SELECT hypertable_size('quotes')").fetchone()[0]  # type: ignore[index]
        t0 = time.perf_counter()
        chunks = conn.execute("SELECT count(compress_chunk(c)) FROM show_chunks('quotes') c").fetchone()[0]  # type: ignore[index]
        seconds = time.perf_counter() - t0
        stats = conn.execute("SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes) "
                             "FROM hypertable_compression_stats('quotes')").fetchone()
        after = conn.execute("SELECT hypertable_size('quotes')").fetchone()[0]  # type: ignore[index]
        rows = conn.execute("SELECT count(*) FROM quotes").fetchone()[0]  # type: ignore[index]
    assert stats is not None and stats[1]
    print(f"columnstore: {chunks} chunks compressed in {seconds:.1f}s; quotes {before / 1e6:.1f} MB -> "
          f"{after / 1e6:.1f} MB ({stats[0] / stats[1]:.1f}x on the compressed chunks), {rows} rows still read",
          flush=True)
    return {"sink.compression_ratio": before / after}


def end_to_end(url: str, bootstrap: str, n: int) -> dict[str, float]:
    """n distinct recorded-book quotes through the broker and the sink into `url` (see the module doc)."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient

    from connectors.publisher import Publisher
    from ops.sink.runner import Sink, SinkConfig
    from ops.topics import ensure_topics
    from schemas.codec import default_codec

    run_id = uuid.uuid4().hex[:8]
    consumer = f"bench-e2e-{run_id}"
    quotes = [clob_quote(i, f"0xe2e{run_id}{i % MARKETS:02d}") for i in range(n)]
    frames = [default_codec().encode(q) for q in quotes]
    t0 = time.process_time()
    for i, frame in enumerate(frames):
        to_row(default_codec().decode(frame), SourceRef(TOPIC, 0, i))
    decode_map = n / (time.process_time() - t0)

    from confluent_kafka import Consumer

    ensure_topics(bootstrap)
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": consumer, "enable.auto.commit": False})
    try:
        parts = AdminClient({"bootstrap.servers": bootstrap}).list_topics(TOPIC, timeout=30).topics[TOPIC].partitions
        ends = {p: probe.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)[1] for p in parts}
    finally:
        probe.close()
    with connect(url) as conn:  # start at the topic's end: only this run's quotes are read
        for partition, end in ends.items():
            conn.execute("INSERT INTO sink_offsets (consumer, topic, partition, next_offset) VALUES (%s, %s, %s, %s)",
                         (consumer, TOPIC, partition, end))
        conn.commit()
    pub = Publisher(bootstrap, service="bench-sink")
    for q in quotes:
        pub.publish(TOPIC, f"POLYMARKET:{q.market_id}", q)
    pub.flush()
    config = SinkConfig(bootstrap=bootstrap, database_url=url, consumer=consumer, topics=(TOPIC,),
                        retention_every_s=0, maintenance_every_s=0)
    with Sink(config) as sink:
        t0, c0 = time.perf_counter(), time.process_time()
        stats = sink.run(until_caught_up=True)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    with connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM quotes WHERE market_id LIKE %s", (f"0xe2e{run_id}%",)).fetchone()
    if row is None or row[0] != n or stats.rows_written < n:
        raise RuntimeError(f"the sink wrote {stats.rows_written} rows, quotes holds {row}, expected {n}")
    print(f"end to end: {n} quotes in {seconds:.2f}s ({n / seconds:,.0f} rows/s), {cpu:.2f}s CPU of the sink "
          f"process ({n / cpu:,.0f} rows per CPU second); decode + map alone {decode_map:,.0f} rows per CPU second",
          flush=True)
    return {"sink.end_to_end_rows_per_s": n / seconds, "sink.end_to_end_rows": float(n),
            "sink.end_to_end_rows_per_cpu_s": n / cpu, "sink.decode_map_rows_per_s": decode_map}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8, help="COPY vs INSERT rounds (0: skip)")
    ap.add_argument("--batch", type=int, default=5_000, help="rows per batch (the sink's default batch size)")
    ap.add_argument("--depth-compression", choices=["as-migrated", "lz4", "pglz"], default="as-migrated",
                    help="TOAST method for quotes.depth (default: what migration 0003 set)")
    ap.add_argument("--end-to-end", type=int, default=60_000, help="quotes through broker and sink (0: skip)")
    args = ap.parse_args()

    from bench.stack import database_url, kafka_bootstrap

    figures: dict[str, float] = {}
    if args.rounds:
        with database_url() as server, fresh_database(server) as url:
            print(f"quotes.depth compression: {set_depth_compression(url, args.depth_compression)}", flush=True)
            figures = run(url, args.rounds, args.batch)
            figures.update(compression_ratio(url))
    if args.end_to_end:
        # the database is dropped before the stack goes: stopping the stack (which may own PostgreSQL too) first
        # failed the drop after the figures were taken, and the run exited 1 without writing them
        with database_url() as server, kafka_bootstrap() as bootstrap, fresh_database(server) as url:
            figures.update(end_to_end(url, bootstrap, args.end_to_end))
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}), flush=True)
    merge(figures)


if __name__ == "__main__":
    main()
