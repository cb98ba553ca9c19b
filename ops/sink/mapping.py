"""Records to table rows: one pure function per record type, checked against the column types.

Conventions: `ts` epoch ms become timestamptz (exact, integer arithmetic); enums
become their text value; nested records, ladders and maps become jsonb (non-finite
floats as the strings PostgreSQL's float8 accepts: "NaN", "Infinity", "-Infinity").
A value PostgreSQL would refuse (a NUL character, an int beyond the column) raises
`UnstorableRecord` here, for one record, instead of failing a whole COPY batch later.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any


from ops.sink import tables as t
from ops.sink.errors import UnstorableRecord
from schemas import depth
from schemas import records as r

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
INT8_MIN, INT8_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class SourceRef:
    """Where a record was read: stored with its row so every row can be traced to the log."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Row:
    table: t.TableSpec
    values: tuple[Any, ...]


def ts_to_datetime(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    try:
        return EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        raise UnstorableRecord(f"timestamp {ms} ms is outside the range a timestamptz can hold") from None


def _enum(value: Enum | None) -> str | None:
    return None if value is None else str(value.value)


def _float8_text(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _plain(value: Any) -> Any:
    """A JSON-able value: dataclasses to objects, enums to text, non-finite floats to float8 text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return value if math.isfinite(value) else _float8_text(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise UnstorableRecord(f"text {value[:40]!r} contains a NUL character (jsonb refuses \\u0000)")
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _dumps(plain: Any) -> str:
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def to_json(value: Any) -> str:
    return _dumps(_plain(value))


def yes_mid(bid: int | None, ask: int | None) -> int | None:
    """Mid of the YES book in micros, floored to a whole micro; None unless both sides quote."""
    return None if bid is None or ask is None else (bid + ask) // 2


# ------------------------------------------------------------------- per record type


def raw_feed(x: r.RawFeed) -> tuple[Any, ...]:
    return (x.raw_id, ts_to_datetime(x.ts), x.source, x.endpoint, x.url, to_json(x.params), x.status,
            ts_to_datetime(x.fetched_at), x.body)


def event_state(x: r.EventState) -> tuple[Any, ...]:
    return (x.state_id, ts_to_datetime(x.ts), x.event_id, x.source, _enum(x.market_type), x.league, x.name,
            _enum(x.status), ts_to_datetime(x.start_ts), x.entity_a, x.entity_b, x.entity_a_id, x.entity_b_id,
            x.entity_a_abbr, x.entity_b_abbr, x.score_a, x.score_b, x.period,
            x.clock_seconds, x.possession, x.down, x.distance, x.yard_line, x.spread_a, x.total, x.winner,
            to_json(x.features))


def play(x: r.Play) -> tuple[Any, ...]:
    return (x.play_id, ts_to_datetime(x.ts), x.event_id, x.league, x.sequence, x.period, x.clock_seconds,
            x.team_id, x.play_type, x.text, x.score_a, x.score_b, x.scoring_play, x.score_value, x.source_home_win_prob,
            to_json(x.features))


def quote(x: r.Quote) -> tuple[Any, ...]:
    try:
        book = depth.book_levels(x)  # [[price_micros, contracts], ...] per ladder, from the int64 arrays
    except ValueError as exc:  # a packed ladder that is not pairs of int64
        raise UnstorableRecord(f"quotes.depth of {x.quote_id}: {exc}") from exc
    return (x.quote_id, ts_to_datetime(x.ts), _enum(x.venue), x.market_id, x.seq, x.yes_bid_micros, x.yes_bid_size,
            x.yes_ask_micros, x.yes_ask_size, x.no_bid_micros, x.no_bid_size, x.no_ask_micros, x.no_ask_size,
            yes_mid(x.yes_bid_micros, x.yes_ask_micros), _dumps(book), x.source)


def probability(x: r.Probability) -> tuple[Any, ...]:
    return (x.prob_id, ts_to_datetime(x.ts), x.event_id, to_json(x.outcomes), x.model, x.version,
            x.inputs_digest, x.state_id)


def signal(x: r.Signal) -> tuple[Any, ...]:
    return (x.signal_id, ts_to_datetime(x.ts), x.event_id, _enum(x.kind), to_json(x.legs), x.model_p, x.edge,
            x.ev_micros, x.size, x.model, x.trigger, x.reason)


def order(x: r.Order) -> tuple[Any, ...]:
    return (x.order_id, ts_to_datetime(x.ts), x.account, x.signal_id, _enum(x.mode), _enum(x.venue), x.market_id,
            x.event_id, _enum(x.side), _enum(x.action), x.limit_price_micros, x.count, _enum(x.tif), x.reason,
            x.group_id, x.model_p)


def fill(x: r.Fill) -> tuple[Any, ...]:
    return (x.fill_id, ts_to_datetime(x.ts), x.order_id, x.account, _enum(x.mode), _enum(x.venue), x.market_id,
            x.event_id, _enum(x.side), _enum(x.action), x.price_micros, x.count, x.fee_micros, x.liquidity,
            x.venue_fill_id, x.reversed, x.fee_computed)


def order_status(x: r.OrderStatus) -> tuple[Any, ...]:
    return (x.status_id, ts_to_datetime(x.ts), x.order_id, x.account, _enum(x.state), x.filled_count,
            x.remaining_count, x.avg_price_micros, x.reason, x.venue_order_id)


def position_event(x: r.PositionEvent) -> tuple[Any, ...]:
    return (x.position_event_id, ts_to_datetime(x.ts), x.position_id, x.account, _enum(x.status), x.event_id,
            _enum(x.venue), x.market_id, _enum(x.side), x.quantity, x.avg_price_micros, x.mark_price_micros,
            x.realized_pnl_micros, x.unrealized_pnl_micros, x.fees_micros, x.reason)


def ledger_entry(x: r.LedgerEntry) -> tuple[Any, ...]:
    return (x.entry_id, ts_to_datetime(x.ts), x.account, x.delta_micros, x.balance_micros, x.version, x.reason,
            x.ref)


def risk_event(x: r.RiskEvent) -> tuple[Any, ...]:
    return (x.risk_id, ts_to_datetime(x.ts), x.account, _enum(x.kind), x.rule, x.reason, x.ref, x.value, x.limit)


def alert(x: r.Alert) -> tuple[Any, ...]:
    return (x.alert_id, ts_to_datetime(x.ts), x.dedupe_key, _enum(x.severity), x.service, x.message)


def heartbeat(x: r.Heartbeat) -> tuple[Any, ...]:
    return (x.heartbeat_id, ts_to_datetime(x.ts), x.service, x.instance, _enum(x.status), x.lag,
            to_json(x.detail))


def dead_letter(x: r.DeadLetter) -> tuple[Any, ...]:
    return (x.dead_id, ts_to_datetime(x.ts), x.topic, x.partition, x.offset, x.key, x.value, x.error,
            x.error_type, x.service)


def market_listing(x: r.MarketListing) -> tuple[Any, ...]:
    return (x.listing_id, ts_to_datetime(x.ts), _enum(x.venue), x.market_id, x.group_id, x.series, x.title,
            x.subtitle, x.yes_outcome, _enum(x.market_type), x.league, x.status, ts_to_datetime(x.open_ts),
            ts_to_datetime(x.close_ts), ts_to_datetime(x.settle_ts), x.tick_micros, to_json(x.tick_bands), x.taker_fee_rate,
            x.maker_fee_rate, x.fee_exponent, x.min_order_size, x.token_yes, x.token_no, x.neg_risk, x.rules,
            x.resolution_source, _enum(x.result), _enum(x.lifecycle), x.settlement_micros,
            None if x.resolution is None else to_json(x.resolution))


def market_link(x: r.MarketLink) -> tuple[Any, ...]:
    return (_enum(x.venue), x.market_id, x.link_id, ts_to_datetime(x.ts), x.event_id, x.yes_role, x.yes_entity,
            x.confidence, x.method, x.league)


#: record type -> (table, row function). ShardInput has no table: it repeats states and quotes.
MAPPERS: dict[type, tuple[t.TableSpec, Callable[[Any], tuple[Any, ...]]]] = {
    r.RawFeed: (t.RAW_FEEDS, raw_feed),
    r.EventState: (t.EVENT_STATES, event_state),
    r.Play: (t.PLAYS, play),
    r.Quote: (t.QUOTES, quote),
    r.Probability: (t.PROBABILITIES, probability),
    r.Signal: (t.SIGNALS, signal),
    r.Order: (t.ORDERS, order),
    r.Fill: (t.FILLS, fill),
    r.OrderStatus: (t.ORDER_STATUSES, order_status),
    r.PositionEvent: (t.POSITION_EVENTS, position_event),
    r.LedgerEntry: (t.LEDGER_ENTRIES, ledger_entry),
    r.RiskEvent: (t.RISK_EVENTS, risk_event),
    r.Alert: (t.ALERTS, alert),
    r.Heartbeat: (t.HEARTBEATS, heartbeat),
    r.DeadLetter: (t.DEAD_LETTERS, dead_letter),
    r.MarketListing: (t.MARKET_LISTINGS, market_listing),
    r.MarketLink: (t.MARKET_LINKS, market_link),
}


# ------------------------------------------------------------------- checks


def _check_text(v: Any) -> bool:
    return isinstance(v, str) and "\x00" not in v


def _check_json(v: Any) -> bool:
    return isinstance(v, str)  # built by to_json, which already refused NUL


CHECKS: dict[str, Callable[[Any], bool]] = {
    t.TEXT: _check_text,
    t.INT4: lambda v: type(v) is int and INT4_MIN <= v <= INT4_MAX,
    t.INT8: lambda v: type(v) is int and INT8_MIN <= v <= INT8_MAX,
    t.FLOAT8: lambda v: isinstance(v, float) or (type(v) is int and abs(v) < 2**53),
    t.BOOL: lambda v: type(v) is bool,
    t.TIMESTAMPTZ: lambda v: isinstance(v, datetime),
    t.JSONB: _check_json,
    t.BYTEA: lambda v: isinstance(v, bytes),
}


def check(table: t.TableSpec, values: tuple[Any, ...]) -> None:
    """Refuse a value its column cannot hold (None passes here; NOT NULL is the schema's promise)."""
    if len(values) != len(table.columns):
        raise UnstorableRecord(f"{table.name}: {len(values)} values for {len(table.columns)} columns")
    for col, v in zip(table.columns, values):
        if v is not None and not CHECKS[col.pgtype](v):
            why = "a NUL character" if isinstance(v, str) and "\x00" in v else repr(v)[:60]
            raise UnstorableRecord(f"{table.name}.{col.name} ({col.pgtype}) cannot hold {why}")


def to_row(record: Any, src: SourceRef) -> Row:
    """The row for one record read at `src` (source columns last, as in every sunk table)."""
    try:
        table, fn = MAPPERS[type(record)]
    except KeyError:
        raise UnstorableRecord(f"{type(record).__name__} has no table in the sink") from None
    values = (*fn(record), src.topic, src.partition, src.offset)
    check(table, values)
    return Row(table, values)
