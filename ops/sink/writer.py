"""Batch writers: rows, bankroll changes and the consumer's next offsets in one transaction.

Because the offsets commit with the rows, a sink killed at any instant restarts
from exactly the first record whose row is not in the database: nothing lost,
and the natural-key upserts make any re-read harmless.

`CopyWriter` streams each table's rows with COPY into a temporary staging table
and moves them with one `INSERT ... SELECT ... ON CONFLICT`; `InsertWriter` sends
one INSERT per row with the same semantics and is kept as the benchmark baseline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg

from ops.sink.errors import BankrollConflict, OffsetFence
from ops.sink.mapping import Row, ts_to_datetime
from ops.sink.tables import JSONB, TABLES, TableSpec
from schemas.records import LedgerEntry


@dataclass(frozen=True)
class OffsetAdvance:
    """Move (topic, partition) from `expected` (None: no stored row yet) to `next_offset`."""

    topic: str
    partition: int
    expected: int | None
    next_offset: int


@dataclass
class Batch:
    rows: list[Row] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)  # in log order; applied to `bankroll`
    offsets: list[OffsetAdvance] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class WriteResult:
    rows_in: int
    rows_written: dict[str, int]  # table -> rows inserted or updated (replays count 0)
    ledger_applied: int
    ledger_duplicates: int


def _stage_name(table: TableSpec) -> str:
    return f"sink_stage_{table.name}"


def _upsert_tail(table: TableSpec) -> str:
    if not table.latest:
        return f"ON CONFLICT ({table.key_list}) DO NOTHING"
    updates = ", ".join(f"{c.quoted} = EXCLUDED.{c.quoted}" for c in table.columns if c.name not in table.key)
    return f"ON CONFLICT ({table.key_list}) DO UPDATE SET {updates} WHERE {table.name}.ts < EXCLUDED.ts"


class Writer(ABC):
    """One transaction per batch on an autocommit connection the writer owns for its lifetime."""

    def __init__(self, conn: psycopg.Connection, consumer: str) -> None:
        self.conn = conn
        self.consumer = consumer

    def write(self, batch: Batch) -> WriteResult:
        by_table: dict[TableSpec, list[tuple[object, ...]]] = defaultdict(list)
        for row in batch.rows:
            by_table[row.table].append(row.values)
        written: dict[str, int] = {}
        with self.conn.transaction():
            with self.conn.cursor() as cur:
                for table, values in by_table.items():
                    written[table.name] = self._load(cur, table, values)
                applied, dups = self._apply_ledger(cur, batch.ledger)
                self._advance(cur, batch.offsets)
        return WriteResult(len(batch.rows), written, applied, dups)

    @abstractmethod
    def _load(self, cur: psycopg.Cursor, table: TableSpec, values: list[tuple[object, ...]]) -> int:
        """Upsert the rows of one table; return how many rows changed."""

    # ------------------------------------------------------------------ bankroll

    def _apply_ledger(self, cur: psycopg.Cursor, entries: list[LedgerEntry]) -> tuple[int, int]:
        applied = dups = 0
        for e in entries:
            if self._apply_entry(cur, e):
                applied += 1
            else:
                dups += 1
        return applied, dups

    def _apply_entry(self, cur: psycopg.Cursor, e: LedgerEntry) -> bool:
        """Apply one entry on the stored tip (True), skip an exact replay (False), or raise on a conflict."""
        cur.execute("SELECT balance_micros, version FROM bankroll WHERE account = %s FOR UPDATE", (e.account,))
        tip = cur.fetchone()
        balance, version = (0, 0) if tip is None else (int(tip[0]), int(tip[1]))
        if e.version <= version:
            cur.execute(
                "SELECT delta_micros, balance_micros, reason, ref FROM bankroll_audit WHERE account = %s AND version = %s",
                (e.account, e.version),
            )
            seen = cur.fetchone()
            if seen is not None and tuple(seen) == (e.delta_micros, e.balance_micros, e.reason, e.ref):
                return False  # this very entry was applied before: a replay
            taken = "no audit row" if seen is None else f"taken by an entry with ref {seen[3]!r}, delta {seen[0]}"
            raise BankrollConflict(
                e.account, e.entry_id,
                f"version {e.version} is not after the stored version {version} ({taken}); refusing to overwrite",
            )
        if e.version != version + 1:
            raise BankrollConflict(
                e.account, e.entry_id, f"version {e.version} skips versions: the stored version is {version}"
            )
        if balance + e.delta_micros != e.balance_micros:
            raise BankrollConflict(
                e.account, e.entry_id,
                f"balance {e.balance_micros} != stored {balance} + delta {e.delta_micros} at version {e.version}",
            )
        ts = ts_to_datetime(e.ts)
        if tip is None:
            cur.execute(
                "INSERT INTO bankroll (account, balance_micros, version, updated_ts) VALUES (%s, %s, %s, %s)",
                (e.account, e.balance_micros, e.version, ts),
            )
        else:
            cur.execute(
                "UPDATE bankroll SET balance_micros = %s, version = %s, updated_ts = %s "
                "WHERE account = %s AND version = %s",
                (e.balance_micros, e.version, ts, e.account, e.version - 1),
            )
            if cur.rowcount != 1:
                raise BankrollConflict(e.account, e.entry_id, f"version {e.version - 1} changed under the sink")
        cur.execute(
            "INSERT INTO bankroll_audit (account, ts, delta_micros, balance_micros, version, reason, ref) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (e.account, ts, e.delta_micros, e.balance_micros, e.version, e.reason, e.ref),
        )
        return True

    # ------------------------------------------------------------------ offsets

    def _advance(self, cur: psycopg.Cursor, offsets: list[OffsetAdvance]) -> None:
        for o in offsets:
            if o.expected is None:
                cur.execute(
                    "INSERT INTO sink_offsets (consumer, topic, partition, next_offset) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (consumer, topic, partition) DO NOTHING",
                    (self.consumer, o.topic, o.partition, o.next_offset),
                )
            else:
                cur.execute(
                    "UPDATE sink_offsets SET next_offset = %s "
                    "WHERE consumer = %s AND topic = %s AND partition = %s AND next_offset = %s",
                    (o.next_offset, self.consumer, o.topic, o.partition, o.expected),
                )
            if cur.rowcount != 1:
                raise OffsetFence(
                    f"sink_offsets for consumer {self.consumer!r} {o.topic}[{o.partition}] is no longer "
                    f"{o.expected}: another sink with this consumer name is writing; stop one of them"
                )


class CopyWriter(Writer):
    """COPY into a session-temporary staging table, then one set-based upsert per table."""

    def __init__(self, conn: psycopg.Connection, consumer: str) -> None:
        super().__init__(conn, consumer)
        # Created once, outside any batch, so a rolled-back batch cannot take them away.
        with conn.cursor() as cur:
            for table in TABLES:
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_stage_name(table)} (LIKE {table.name}) ON COMMIT DELETE ROWS"
                )

    def _load(self, cur: psycopg.Cursor, table: TableSpec, values: list[tuple[object, ...]]) -> int:
        stage = _stage_name(table)
        cols = table.column_list
        with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for v in values:
                copy.write_row(v)
        if table.latest:
            order = ", ".join(f'"{k}"' for k in table.key)
            select = (f"SELECT DISTINCT ON ({order}) {cols} FROM {stage} "
                      f"ORDER BY {order}, ts DESC, src_partition, src_offset")  # ties: the first in the log, as row by row
        else:
            select = f"SELECT {cols} FROM {stage}"
        cur.execute(f"INSERT INTO {table.name} ({cols}) {select} {_upsert_tail(table)}")
        return max(cur.rowcount, 0)


class InsertWriter(Writer):
    """One INSERT statement per row: the straightforward way, kept to measure COPY against."""

    def _load(self, cur: psycopg.Cursor, table: TableSpec, values: list[tuple[object, ...]]) -> int:
        marks = ", ".join("%s::jsonb" if c.pgtype == JSONB else "%s" for c in table.columns)
        sql = f"INSERT INTO {table.name} ({table.column_list}) VALUES ({marks}) {_upsert_tail(table)}"
        changed = 0
        for v in values:
            cur.execute(sql, v)
            changed += max(cur.rowcount, 0)
        return changed
