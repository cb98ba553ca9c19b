"""What the sink already has, read back from PostgreSQL so the board starts from the database, not the log's start.

The sink stores each row with its topic, partition and offset, and the next offset
it will read per partition (`sink_offsets`) in the same transaction. So one
REPEATABLE READ snapshot of both gives every account record the sink has written
up to an exact point of the log; the board folds those rows and reads each topic
from that point on. Nothing is counted twice, and the history (equity curve,
drawdown, fills, positions) survives the topics' retention and a board restart.
"""

from __future__ import annotations

import heapq
import typing
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from typing import Any

from ops.sink.mapping import MAPPERS
from ops.sink.tables import TableSpec
from schemas.topics import BY_NAME

#: Record field -> column, where the table names it otherwise (`limit` is an SQL word).
RENAMED = {"limit": "limit_value"}


@dataclass(frozen=True)
class History:
    """Records from the database in log order per partition, and where the log takes over."""

    records: list[tuple[str, Any]]  # (topic, record), merged across partitions by event time
    next_offsets: dict[tuple[str, int], int]  # (topic, partition) -> first offset the board reads from Kafka
    rows: int
    source: str  # "database <name>, sink <consumer>", or why not


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _converter(cls: type) -> list[tuple[str, str, Any]]:
    """(field, column, enum type or None) for each field of record type `cls`."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        options = typing.get_args(hint) or (hint,)
        enum = next((o for o in options if isinstance(o, type) and issubclass(o, Enum)), None)
        out.append((f.name, RENAMED.get(f.name, f.name), enum))
    return out


def record_of(cls: type, row: dict[str, Any]) -> Any:
    """The record a sunk row was made from (the inverse of ops.sink.mapping for the account tables)."""
    values: dict[str, Any] = {}
    for name, column, enum in _converter(cls):
        value = row[column]
        if isinstance(value, datetime):
            value = _ms(value)
        elif enum is not None and value is not None:
            value = enum(value)
        values[name] = value
    return cls(**values)


def _table_rows(cur: Any, table: TableSpec, topic: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    cur.execute(f"SELECT {table.column_list} FROM {table.name} WHERE src_topic = %s "  # noqa: S608 - names from the spec
                "ORDER BY src_partition, src_offset", (topic,))
    names = table.column_names
    for values in cur.fetchall():
        row = dict(zip(names, values))
        yield int(row["src_partition"]), int(row["src_offset"]), row


def load(database_url: str, consumer: str, topics: tuple[str, ...]) -> History:
    """Every row of `topics` that the sink `consumer` has committed, as records, and its next offsets."""
    import psycopg

    from ops.sink.store import conninfo

    with psycopg.connect(conninfo(database_url), application_name="arbees-board") as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        offsets = {tp: n for tp, n in _offsets(conn, consumer).items() if tp[0] in topics}
        streams: dict[tuple[str, int], list[tuple[int, int, str, Any]]] = {}
        with conn.cursor() as cur:
            for topic in topics:
                for cls in BY_NAME[topic].value_types:
                    table = MAPPERS[cls][0]
                    for partition, offset, row in _table_rows(cur, table, topic):
                        if offset < offsets.get((topic, partition), 0):
                            rec = record_of(cls, row)
                            streams.setdefault((topic, partition), []).append((offset, int(rec.ts or 0), topic, rec))
        name = conn.info.dbname
    # one topic-partition is the log in offset order (a fills partition spans two tables); the streams are then
    # merged by event time, each keeping its own order, as a consumer of all of them would roughly see them
    ordered = [sorted(s, key=lambda x: x[0]) for s in streams.values()]
    merged = [(topic, rec) for _, _, topic, rec in heapq.merge(*ordered, key=lambda x: x[1])]
    return History(merged, offsets, len(merged), f"database {name}, sink {consumer}")


def _offsets(conn: Any, consumer: str) -> dict[tuple[str, int], int]:
    from ops.sink.store import load_offsets

    return load_offsets(conn, consumer)
