"""Batch writers: rows, bankroll changes and the consumer's next offsets in one transaction.

The bankroll follows the ledger's one rule (`streams.trading.ledger.apply`), the
same every reader applies to the same per-account order: an entry is booked only
at exactly the next version; stale, gap and duplicate entries (normal under
optimistic versioning: the refused writer rebuilds on the new tip) are kept in
`ledger_entries` as facts of the log and not booked.

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
import structlog

from ops.sink.errors import BankrollConflict, OffsetFence
from ops.sink.mapping import Row, ts_to_datetime
from ops.sink.tables import JSONB, TABLES, TableSpec
from schemas.records import LedgerEntry
from streams.trading import ledger as L
from streams.trading.units import Micros

log = structlog.get_logger(__name__)


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
    ledger_refused: dict[str, int]  # verdict (duplicate, stale, gap, invalid) -> entries not booked


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
                applied, refused = self._apply_ledger(cur, batch.ledger)
                self._advance(cur, batch.offsets)
        return WriteResult(len(batch.rows), written, applied, refused)

    @abstractmethod
    def _load(self, cur: psycopg.Cursor, table: TableSpec, values: list[tuple[object, ...]]) -> int:
        """Upsert the rows of one table; return how many rows changed."""

    # ------------------------------------------------------------------ bankroll

    def _apply_ledger(self, cur: psycopg.Cursor, entries: list[LedgerEntry]) -> tuple[int, dict[str, int]]:
        """Fold each account's entries, in log order, through the ledger rule onto its stored tip."""
        chains: dict[str, list[LedgerEntry]] = defaultdict(list)
        for e in entries:
            chains[e.account].append(e)
        applied = 0
        refused: dict[str, int] = {}
        for account, chain in chains.items():
            tip = _load_tip(cur, account)
            state, accepted = tip.state, []
            for e in chain:
                try:
                    state, verdict = L.apply(state, e)
                except L.LedgerError as exc:
                    # every reader refuses it the same way (and dead-letters it): the tip stays
                    log.warning("ledger entry refused", account=account, entry_id=e.entry_id, verdict="invalid",
                                error=str(exc))
                    refused["invalid"] = refused.get("invalid", 0) + 1
                    continue
                if verdict is L.Verdict.ACCEPTED:
                    accepted.append(e)
                    continue
                refused[verdict.value] = refused.get(verdict.value, 0) + 1
                if verdict is not L.Verdict.DUPLICATE:  # duplicates are replays and crash retries: routine
                    log.info("ledger entry refused", account=account, entry_id=e.entry_id, version=e.version,
                             verdict=verdict.value, stored_version=state.version)
            if accepted:
                _book(cur, tip, accepted)
                applied += len(accepted)
        return applied, refused

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


@dataclass(frozen=True)
class StoredTip:
    """An account's bankroll row (locked) and its recently booked entries, as the ledger rule's state."""

    account: str
    exists: bool
    state: L.LedgerState


def _load_tip(cur: psycopg.Cursor, account: str) -> StoredTip:
    cur.execute("SELECT balance_micros, version FROM bankroll WHERE account = %s FOR UPDATE", (account,))
    row = cur.fetchone()
    if row is None:
        return StoredTip(account, False, L.LedgerState(account=account))
    cur.execute(
        "SELECT version, entry_id FROM bankroll_audit WHERE account = %s ORDER BY version DESC LIMIT %s",
        (account, L.RECENT_VERSIONS),
    )
    recent = tuple((int(v), str(eid)) for v, eid in reversed(cur.fetchall()))
    state = L.LedgerState(account=account, version=int(row[1]), balance=Micros(int(row[0])), recent=recent)
    return StoredTip(account, True, state)


def _book(cur: psycopg.Cursor, tip: StoredTip, accepted: list[LedgerEntry]) -> None:
    """Audit rows for the accepted entries and the bankroll moved to the last one, guarded by the stored version."""
    last = accepted[-1]
    ts = ts_to_datetime(last.ts)
    if tip.exists:
        cur.execute(
            "UPDATE bankroll SET balance_micros = %s, version = %s, updated_ts = %s WHERE account = %s AND version = %s",
            (last.balance_micros, last.version, ts, tip.account, tip.state.version),
        )
    else:
        cur.execute(
            "INSERT INTO bankroll (account, balance_micros, version, updated_ts) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (account) DO NOTHING",
            (tip.account, last.balance_micros, last.version, ts),
        )
    if cur.rowcount != 1:
        raise BankrollConflict(
            tip.account, accepted[0].entry_id,
            f"the stored bankroll left version {tip.state.version} under the sink: another writer is booking",
        )
    cur.executemany(
        "INSERT INTO bankroll_audit (account, ts, delta_micros, balance_micros, version, reason, ref, entry_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [(e.account, ts_to_datetime(e.ts), e.delta_micros, e.balance_micros, e.version, e.reason, e.ref, e.entry_id)
         for e in accepted],
    )


class CopyWriter(Writer):
    """COPY into a session-temporary staging table, then one set-based upsert per table."""

    def __init__(self, conn: psycopg.Connection, consumer: str) -> None:
        super().__init__(conn, consumer)
        # Created once, outside any batch, so a rolled-back batch cannot take them away. The stage keeps
        # each column's compression: values are compressed once, in the stage, and INSERT ... SELECT
        # moves them as they are, so without it quotes.depth would land pglz whatever 0003 set.
        like = "INCLUDING COMPRESSION" if conn.info.server_version >= 140000 else ""
        with conn.cursor() as cur:
            for table in TABLES:
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_stage_name(table)} (LIKE {table.name} {like}) "
                    "ON COMMIT DELETE ROWS"
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
