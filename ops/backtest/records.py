"""Backtest input and output records: the replay order and the typed result of a run.

Both engines read the same `InputRecord`s and order them the same way: by
(event time, topic, partition, offset). Records given as a plain list get the
partition Kafka would give their key (murmur2, as Faust and the Java client use)
and offsets in list order, so a list and the same list produced to the broker
and read back replay identically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence, Union

from schemas.codec import default_codec
from schemas.records import (
    Alert,
    DeadLetter,
    EventState,
    Fill,
    LedgerEntry,
    MarketLink,
    MarketListing,
    Order,
    OrderStatus,
    PositionEvent,
    Probability,
    Quote,
    RiskEvent,
    ShardInput,
    Signal,
)
from schemas.topics import spec
from streams.trading import ledger as ledger_rule
from streams.keys import market_key

#: The topics a backtest replays, in the order that breaks event-time ties (reference data before prices).
INPUT_TOPICS: tuple[str, ...] = ("events.state", "markets.catalog", "markets.links", "markets.quotes")
InputValue = Union[EventState, MarketListing, MarketLink, Quote]
#: The record type each input topic carries.
INPUT_TYPES: dict[str, type] = {
    "events.state": EventState,
    "markets.catalog": MarketListing,
    "markets.links": MarketLink,
    "markets.quotes": Quote,
}


class BacktestError(RuntimeError):
    """A backtest could not run as asked (bad input, broker or worker trouble); the message says why."""


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Java client `Utils.murmur2`), the hash Faust and the Java producer partition with."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    i = 0
    while length - i >= 4:
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
        i += 4
    rest = length - i
    if rest == 3:
        h ^= data[i + 2] << 16
    if rest >= 2:
        h ^= data[i + 1] << 8
    if rest >= 1:
        h ^= data[i]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives a non-empty key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def key_of(topic: str, value: InputValue) -> str:
    """The registry key of an input record (schemas/topics.py): event id, or venue:market_id."""
    if isinstance(value, EventState):
        return value.event_id
    if isinstance(value, MarketListing):
        return value.listing_id
    if isinstance(value, (MarketLink, Quote)):
        return market_key(value.venue, value.market_id)
    raise BacktestError(f"{topic} does not carry {type(value).__name__}")


@dataclass(frozen=True)
class InputRecord:
    """One replayed record with its coordinates; `order` is the replay order of both engines."""

    topic: str
    key: str
    value: InputValue
    partition: int
    offset: int

    @property
    def ts(self) -> int:
        return self.value.ts

    @property
    def order(self) -> tuple[int, int, int, int]:
        return (self.value.ts, INPUT_TOPICS.index(self.topic), self.partition, self.offset)


def as_inputs(items: Iterable[tuple[str, InputValue]]) -> list[InputRecord]:
    """(topic, record) pairs as InputRecords: murmur2 partition of the key, offsets in list order per partition."""
    next_offset: dict[tuple[str, int], int] = {}
    out: list[InputRecord] = []
    for topic, value in items:
        if topic not in INPUT_TYPES:
            raise BacktestError(f"a backtest replays {', '.join(INPUT_TOPICS)}; not {topic!r}")
        if not isinstance(value, INPUT_TYPES[topic]):
            raise BacktestError(f"{topic} carries {INPUT_TYPES[topic].__name__}, not {type(value).__name__}")
        key = key_of(topic, value)
        part = partition_for(key, spec(topic).partitions)
        off = next_offset.get((topic, part), 0)
        next_offset[(topic, part)] = off + 1
        out.append(InputRecord(topic, key, value, part, off))
    return out


def replay_order(records: Sequence[InputRecord]) -> list[InputRecord]:
    """Deterministic replay order: event time, then topic (INPUT_TOPICS order), partition, offset."""
    return sorted(records, key=lambda r: r.order)


@dataclass
class BacktestResult:
    """Everything a run produced, per topic, as typed records in the order they were produced."""

    links: list[MarketLink] = field(default_factory=list)
    shard_inputs: list[ShardInput] = field(default_factory=list)
    probabilities: list[Probability] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill | OrderStatus] = field(default_factory=list)
    positions: list[PositionEvent] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    risk: list[RiskEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    inputs: int = 0
    seconds: float = 0.0

    TOPICS = ("links", "shard_inputs", "probabilities", "signals", "orders", "fills", "positions", "ledger", "risk",
              "alerts", "deadletters")

    @classmethod
    def from_topics(cls, by_topic: Mapping[str, Sequence[object]]) -> BacktestResult:
        """The outputs each topic holds, of the types it carries (a topic not given: none)."""
        def of(topic: str, kind: type | tuple[type, ...]) -> list:  # type: ignore[type-arg]
            return [r for r in by_topic.get(topic, ()) if isinstance(r, kind)]

        return cls(
            links=of("markets.links", MarketLink), shard_inputs=of("shard.inputs", ShardInput),
            probabilities=of("model.probabilities", Probability), signals=of("signals", Signal),
            orders=of("orders", Order), fills=of("fills", (Fill, OrderStatus)), positions=of("positions", PositionEvent),
            ledger=of("ledger", LedgerEntry), risk=of("risk.state", RiskEvent), alerts=of("alerts", Alert),
        )

    @property
    def events_per_s(self) -> float:
        return self.inputs / self.seconds if self.seconds > 0 else float("nan")

    def encoded(self) -> dict[str, list[bytes]]:
        """Every output as its Avro wire bytes, per topic: what "byte-identical" compares."""
        codec = default_codec()
        return {name: [codec.encode(r) for r in getattr(self, name)] for name in self.TOPICS}

    def digest(self) -> str:
        """One hash over every output in order; two runs with equal digests produced identical bytes."""
        h = hashlib.blake2b(digest_size=16)
        for name, blobs in self.encoded().items():
            h.update(name.encode())
            for b in blobs:
                h.update(len(b).to_bytes(4, "big"))
                h.update(b)
        return h.hexdigest()

    def summary(self, account: str) -> Summary:
        return Summary.of(self, account)


@dataclass(frozen=True)
class Summary:
    """What an operator reads after a run: counts and money, in micro-dollars."""

    inputs: int
    signals: int
    orders: int
    fills: int
    realized_pnl_micros: int
    unrealized_pnl_micros: int
    fees_micros: int
    start_balance_micros: int
    end_balance_micros: int
    seconds: float

    @classmethod
    def of(cls, result: BacktestResult, account: str) -> Summary:
        latest: dict[str, PositionEvent] = {}
        for p in result.positions:
            if p.account == account:
                latest[p.position_id] = p
        book = ledger_rule.LedgerState()
        start: int | None = None
        for entry in result.ledger:
            if entry.account == account:
                book, verdict = ledger_rule.apply(book, entry)
                if verdict is ledger_rule.Verdict.ACCEPTED and start is None:
                    start = book.balance.value
        fills = [f for f in result.fills if isinstance(f, Fill) and f.account == account and not f.reversed]
        return cls(
            inputs=result.inputs,
            signals=len(result.signals),
            orders=len([o for o in result.orders if o.account == account]),
            fills=len(fills),
            realized_pnl_micros=sum(p.realized_pnl_micros for p in latest.values()),
            unrealized_pnl_micros=sum(p.unrealized_pnl_micros for p in latest.values()),
            fees_micros=sum(f.fee_micros for f in fills),
            start_balance_micros=start or 0,
            end_balance_micros=book.balance.value,
            seconds=result.seconds,
        )
