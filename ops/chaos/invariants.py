"""What must hold after a chaos run, read from the topics and the database (never from the parts).

Pure checks over records already read (`check_trading`, `check_sink`) plus the
readers that fetch them (`read_topics`, `read_table_keys`, `group_lags`). Every
check returns `Finding`s: a count of violations, each with its first examples.
`lost` sums what is missing (a decided signal with no order and no refusal, an
order with no terminal status, a fill without its fee entry, a topic record not
in the database); `duplicated` what is there twice (a signal with two order
ids, an order with two outcomes, a fill id with two contents, a fill set over
its order, a database row no topic record explains).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.enums import Action, OrderState, PositionStatus
from schemas.records import DeadLetter, Fill, LedgerEntry, Order, OrderStatus, PositionEvent, RiskEvent, Signal
from streams.trading import ledger as ledger_rule

TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})
CENT_MICROS = 10_000


@dataclass(frozen=True)
class Seen:
    """One record as read, with where it was."""

    topic: str
    partition: int
    offset: int
    record: Any


@dataclass
class Finding:
    """One invariant: how many violations, a few examples, and whether they count as lost or duplicated."""

    name: str
    kind: str  # "lost", "duplicated" or "broken" (neither: a mismatch, a stuck partition)
    count: int = 0
    examples: list[str] = field(default_factory=list)
    checked: int = 0  # how many things were checked (a check over nothing proves nothing)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < 5:
            self.examples.append(example)

    @property
    def ok(self) -> bool:
        return self.count == 0

    def line(self) -> str:
        verdict = "ok" if self.ok else f"{self.count} VIOLATION(S): {'; '.join(self.examples)}"
        return f"{self.name}: {self.checked} checked, {verdict}"


def of(seen: Iterable[Seen], cls: type) -> list[Any]:
    return [s.record for s in seen if isinstance(s.record, cls)]


def check_trading(by_topic: dict[str, list[Seen]], inbox: str, account: str) -> list[Finding]:
    """Signals, orders, statuses, fills, positions and ledger of one account, from their topics."""
    orders = [o for o in of(by_topic.get("orders", []), Order) if o.account == account]
    statuses = [s for s in of(by_topic.get("fills", []), OrderStatus) if s.account == account]
    fill_records = [f for f in of(by_topic.get("fills", []), Fill) if f.account == account]
    positions = [p for p in of(by_topic.get("positions", []), PositionEvent) if p.account == account]
    entries = [e for e in of(by_topic.get("ledger", []), LedgerEntry) if e.account == account]
    refusals = {r.ref for r in of(by_topic.get("risk.state", []), RiskEvent) if r.account == account and r.ref}
    decided = {s.signal_id for s in of(by_topic.get(inbox, []), Signal)}
    out: list[Finding] = []

    per_signal: dict[str, set[str]] = defaultdict(set)
    for o in orders:
        per_signal[o.signal_id].add(o.order_id)
    out.append(one_order_per_leg(orders, account))
    same_order = Finding("one order id, one content", "duplicated", checked=len({o.order_id for o in orders}))
    first: dict[str, Order] = {}
    for o in orders:
        if first.setdefault(o.order_id, o) != o:
            same_order.add(f"order {o.order_id} written with two contents")
    out.append(same_order)

    decided_f = Finding("each decided signal has an order or a refusal", "lost", checked=len(decided))
    for sid in sorted(decided - set(per_signal) - refusals):
        decided_f.add(f"signal {sid}")
    out.append(decided_f)

    outcomes: dict[str, set[tuple[OrderState, float]]] = defaultdict(set)
    for s in statuses:
        if s.state in TERMINAL:
            outcomes[s.order_id].add((s.state, s.filled_count))
    order_ids = sorted(first)
    terminal = Finding("each order exactly one terminal status", "lost", checked=len(order_ids))
    two_outcomes = Finding("no order with two terminal outcomes", "duplicated", checked=len(order_ids))
    for oid in order_ids:
        if not outcomes.get(oid):
            terminal.add(f"order {oid} ({[s.state.value for s in statuses if s.order_id == oid] or 'no status'})")
        elif len(outcomes[oid]) > 1:
            two_outcomes.add(f"order {oid}: {sorted((s.value, n) for s, n in outcomes[oid])}")
    out += [terminal, two_outcomes]

    fills: dict[str, Fill] = {}
    fill_twice = Finding("one fill id, one content", "duplicated", checked=len({f.fill_id for f in fill_records}))
    for f in fill_records:
        if fills.setdefault(f.fill_id, f) != f:
            fill_twice.add(f"fill {f.fill_id}")
    out.append(fill_twice)
    filled: dict[str, float] = defaultdict(float)
    for f in fills.values():
        if not f.reversed:
            filled[f.order_id] += f.count
    fill_sum = Finding("fills of an order sum to its terminal filled count", "duplicated", checked=len(outcomes))
    for oid, outs in sorted(outcomes.items()):
        counts = {n for _, n in outs}
        if len(counts) == 1 and abs(next(iter(counts)) - filled.get(oid, 0.0)) > 1e-9:
            fill_sum.add(f"order {oid}: status says {next(iter(counts))}, fills {filled.get(oid, 0.0)}")
    stray = [f.fill_id for f in fills.values() if f.order_id not in first]
    for fid in stray:
        fill_sum.add(f"fill {fid} of no order")
    out.append(fill_sum)

    out += reconcile(entries, fills, positions)
    return out


def one_order_per_leg(orders: Sequence[Order], account: str) -> Finding:
    """Each signal at most one order per leg: an entry order's id is `ids.order_id(account, signal, leg)` with
    leg < the signal's legs (an arbitrage has two), an unwind's is `ids.unwind_order_id` of one of those entries;
    any other order of a signal is a second decision on it."""
    from streams.trading.ids import legs_in_group, order_id, unwind_order_id

    by_signal: dict[str, set[str]] = defaultdict(set)
    legs: dict[str, int] = {}
    for o in orders:
        by_signal[o.signal_id].add(o.order_id)
        legs[o.signal_id] = max(legs.get(o.signal_id, 1), legs_in_group(o.group_id) if o.group_id else 1)
    found = Finding("each signal at most one order per leg", "duplicated", checked=len(by_signal))
    for sid, ids in sorted(by_signal.items()):
        entries = {order_id(account, sid, leg) for leg in range(legs[sid])}
        allowed = entries | {unwind_order_id(e) for e in entries}
        for oid in sorted(ids - allowed):
            found.add(f"signal {sid}: order {oid} is not one of its {legs[sid]} leg(s) nor their unwinds")
    return found


def reconcile(entries: Sequence[LedgerEntry], fills: dict[str, Fill], positions: Sequence[PositionEvent]) -> list[Finding]:
    """Fills, positions and ledger agree to the cent."""
    state = ledger_rule.LedgerState()
    accepted: list[LedgerEntry] = []
    for e in entries:
        state, verdict = ledger_rule.apply(state, e)
        if verdict is ledger_rule.Verdict.ACCEPTED:
            accepted.append(e)
    booked: dict[str, list[LedgerEntry]] = defaultdict(list)
    for e in accepted:
        booked[e.entry_id].append(e)

    fees = Finding("each fill's fee booked once, to the cent", "lost", checked=len(fills))
    for fid, f in sorted(fills.items()):
        got = booked.get(f"fee:{fid}", [])
        if not got:
            fees.add(f"fill {fid}: no fee entry")
        elif abs(sum(e.delta_micros for e in got) + f.fee_micros) >= CENT_MICROS:
            fees.add(f"fill {fid}: fee {f.fee_micros} booked as {[e.delta_micros for e in got]}")
    twice = Finding("no ledger entry id booked twice", "duplicated", checked=len(booked))
    for eid, got in sorted(booked.items()):
        if len(got) > 1:
            twice.add(f"{eid} x{len(got)}")

    running = Finding("ledger balances add up to the cent", "broken", checked=len(accepted))
    total = 0
    for e in accepted:
        total += e.delta_micros
        if abs(e.balance_micros - total) >= CENT_MICROS:
            running.add(f"{e.entry_id} v{e.version}: balance {e.balance_micros}, deltas sum to {total}")
            break

    last: dict[str, PositionEvent] = {}
    for p in positions:
        last[p.position_id] = p
    held: dict[tuple[str, str, str], float] = defaultdict(float)
    for f in fills.values():
        sign = -1.0 if f.reversed else 1.0
        held[(f.venue.value, f.market_id, f.side.value)] += sign * (f.count if f.action is Action.BUY else -f.count)
    qty = Finding("each position's quantity equals its fills", "broken", checked=len(last))
    for pid, p in sorted(last.items()):
        want = 0.0 if p.status is PositionStatus.SETTLED else held.get((p.venue.value, p.market_id, p.side.value), 0.0)
        if abs(p.quantity - want) > 1e-9:
            qty.add(f"position {pid} ({p.status.value}): {p.quantity} held, fills say {want}")
    realized_ledger = sum(e.delta_micros for e in accepted if ledger_rule.kind_of(e) is ledger_rule.EntryKind.REALIZED)
    realized_positions = sum(p.realized_pnl_micros for p in last.values())
    pnl = Finding("realized P&L: positions equal the ledger to the cent", "broken", checked=len(last))
    if abs(realized_ledger - realized_positions) >= CENT_MICROS:
        pnl.add(f"positions {realized_positions / 1e6:.2f}, ledger {realized_ledger / 1e6:.2f}")
    return [fees, twice, running, qty, pnl]


def check_sink(by_topic: dict[str, list[Seen]], table_keys: dict[str, set[tuple]]) -> list[Finding]:
    """Every topic record the sink reads is a row (or a dead letter naming it), and every row is a topic record."""
    from ops.sink.mapping import SourceRef, to_row
    from ops.sink.errors import UnstorableRecord

    refused = {(d.topic, d.partition, d.offset) for d in of(by_topic.get("deadletter", []), DeadLetter)
               if d.service.endswith("sink")}
    want: dict[str, set[tuple]] = defaultdict(set)
    for topic, seen in by_topic.items():
        for s in seen:
            if (s.topic, s.partition, s.offset) in refused:
                continue
            try:
                row = to_row(s.record, SourceRef(s.topic, s.partition, s.offset))
            except UnstorableRecord:
                continue  # must be dead-lettered: counted below as missing when it is not
            spec = row.table
            idx = [spec.column_names.index(k) for k in spec.key]
            want[spec.name].add(tuple(row.values[i] for i in idx))
    missing = Finding("every topic record is a database row", "lost", checked=sum(len(v) for v in want.values()))
    extra = Finding("every database row is a topic record", "duplicated", checked=sum(len(v) for v in table_keys.values()))
    for table in sorted(set(want) | set(table_keys)):
        have = table_keys.get(table, set())
        for key in sorted(want[table] - have, key=repr)[:5]:
            missing.add(f"{table} {key}")
        missing.count += max(0, len(want[table] - have) - min(5, len(want[table] - have)))
        for key in sorted(have - want[table], key=repr)[:5]:
            extra.add(f"{table} {key}")
        extra.count += max(0, len(have - want[table]) - min(5, len(have - want[table])))
    return [missing, extra]


# ------------------------------------------------------------------ readers (the shell)


def read_topics(bootstrap: str, topics: Sequence[str], timeout_s: float = 120.0) -> dict[str, list[Seen]]:
    """Every record of `topics` from the beginning to the end as of now (group-less: assign, never commit)."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    from schemas.codec import DecodeError, default_codec

    codec = default_codec()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"chaos-read-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "log_level": 0})
    out: dict[str, list[Seen]] = {t: [] for t in topics}
    try:
        meta = consumer.list_topics(timeout=30).topics
        ends: dict[tuple[str, int], int] = {}
        assign = []
        for topic in topics:
            if topic not in meta:
                continue
            for p in meta[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
                if high > low:
                    ends[(topic, p)] = high
                    assign.append(TopicPartition(topic, p, low))
        consumer.assign(assign)
        deadline = time.monotonic() + timeout_s
        left = set(ends)
        while left and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            tp = (msg.topic(), msg.partition())
            try:
                record = codec.decode(msg.value())
            except DecodeError:
                record = None
            out[msg.topic()].append(Seen(msg.topic(), msg.partition(), msg.offset(), record))
            if msg.offset() + 1 >= ends.get(tp, 0):
                left.discard(tp)
        if left:
            raise TimeoutError(f"could not read {sorted(left)[:5]} to their end in {timeout_s:.0f}s")
    finally:
        consumer.close()
    return out


def read_table_keys(database_url: str) -> dict[str, set[tuple]]:
    """The natural key of every row of every sunk table."""
    from ops.sink.store import connect
    from ops.sink.tables import TABLES

    out: dict[str, set[tuple]] = {}
    with connect(database_url) as conn:
        for spec in TABLES:
            out[spec.name] = {tuple(r) for r in conn.execute(f"SELECT {spec.key_list} FROM {spec.name}")}
    return out


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return self.end - max(self.committed, 0)


def group_lags(bootstrap: str, groups: Sequence[str], timeout_s: float = 20.0) -> list[Lag]:
    """Committed offset against the end of every partition each group has committed on."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    committed: dict[tuple[str, str, int], int] = {}
    for group in groups:
        fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=timeout_s)[group]
        for tp in fut.result().topic_partitions or []:
            committed[(group, tp.topic, tp.partition)] = tp.offset
    wanted = {TopicPartition(t, p): OffsetSpec.latest() for _, t, p in committed}
    ends = {}
    if wanted:
        for tp, fut in admin.list_offsets(wanted, request_timeout=timeout_s).items():
            ends[(tp.topic, tp.partition)] = fut.result().offset
    return [Lag(g, t, p, off, ends[(t, p)]) for (g, t, p), off in sorted(committed.items())]


def sink_lags(bootstrap: str, database_url: str, consumer: str) -> list[Lag]:
    """The sink keeps its offsets in the database with its rows: stored next offset against each partition's end."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    from ops.sink.runner import SINK_TOPICS
    from ops.sink.store import connect, load_offsets

    with connect(database_url) as conn:
        stored = load_offsets(conn, consumer)
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    meta = admin.list_topics(timeout=20).topics
    tps = [TopicPartition(t, p) for t in SINK_TOPICS if t in meta for p in meta[t].partitions]
    out = []
    for tp, fut in admin.list_offsets({tp: OffsetSpec.latest() for tp in tps}, request_timeout=20).items():
        end = fut.result().offset
        if end > 0:
            out.append(Lag(consumer, tp.topic, tp.partition, stored.get((tp.topic, tp.partition), 0), end))
    return out


def leaderless(bootstrap: str) -> list[str]:
    """Partitions with no leader (what a broker restart could leave behind)."""
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=20)
    return [f"{t}[{p}]" for t, tm in meta.topics.items() for p, pm in tm.partitions.items() if pm.leader < 0]
