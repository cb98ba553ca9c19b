"""Kalshi websocket frames as typed messages, dispatched on their `type` field.

Shapes follow Kalshi's AsyncAPI spec (docs.kalshi.com/asyncapi.yaml, v2.0.0;
examples recorded in tests/fixtures/kalshi/ws_doc_examples_asyncapi.ndjson) and
the archived live frames (ws_ticker_frames.ndjson, ws_trade_frames.ndjson).
Fixed-point fields (`*_dollars_fp`, `price_dollars`, `delta_fp`, `count_fp`) win
over the legacy integer-cent fields, which are read only when the newer ones
are absent. Parsing is pure: receive time is an argument, never the clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

from connectors.kalshi import fixedpoint as fp
from connectors.kalshi.errors import BadPayload
from schemas.enums import Side
from schemas.records import LONG

Level = tuple[int, int]  # (price micro-dollars, size in hundredths of a contract)


@dataclass(frozen=True)
class Subscribed:
    id: int | None
    channel: str
    sid: int


@dataclass(frozen=True)
class Unsubscribed:
    id: int | None
    sid: int
    seq: int | None


@dataclass(frozen=True)
class Ok:
    id: int | None
    sid: int | None
    seq: int | None
    market_tickers: tuple[str, ...]


@dataclass(frozen=True)
class ErrorReply:
    id: int | None
    code: int
    message: str
    market_ticker: str | None


@dataclass(frozen=True)
class BookSnapshot:
    sid: int
    seq: int
    ticker: str
    yes: tuple[Level, ...]  # YES bids
    no: tuple[Level, ...]  # NO bids


@dataclass(frozen=True)
class BookDelta:
    sid: int
    seq: int
    ticker: str
    side: Side
    price_micros: int
    delta_centi: int
    ts: int | None  # event time (ms) when Kalshi sent one
    client_order_id: str | None


@dataclass(frozen=True)
class TickerUpdate:
    sid: int
    ticker: str
    ts: int
    last_price_micros: int | None
    yes_bid_micros: int | None
    yes_ask_micros: int | None
    yes_bid_size_centi: int | None
    yes_ask_size_centi: int | None
    volume_centi: int | None
    open_interest_centi: int | None


@dataclass(frozen=True)
class PublicTrade:
    sid: int
    seq: int | None
    trade_id: str
    ticker: str
    ts: int
    yes_price_micros: int
    no_price_micros: int
    count_centi: int
    taker_side: Side


@dataclass(frozen=True)
class MarketLifecycle:
    """A `market_lifecycle_v2` event: a market was created, activated, deactivated, closed, determined or settled."""

    sid: int
    ticker: str
    event_type: str
    result: str  # "yes"/"no" once determined, else ""


WsMessage = Union[Subscribed, Unsubscribed, Ok, ErrorReply, BookSnapshot, BookDelta, TickerUpdate, PublicTrade,
                  MarketLifecycle]


class UnknownMessageType(BadPayload):
    """A frame whose `type` this connector does not handle; it is dead-lettered, not guessed at."""


# ------------------------------------------------------------------ helpers


def _req(d: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise BadPayload(where, f"expected an object, got {type(d).__name__}")
    if key not in d or d[key] is None:
        raise BadPayload(f"{where}.{key}", "missing")
    return d[key]


def _int(value: Any, where: str) -> int:
    """An integer a record can hold (Avro `long`): a larger one is a bad frame here, not a refusal at publish."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadPayload(where, f"expected an integer, got {value!r}")
    if value not in LONG:
        raise BadPayload(where, f"{value!r} is outside a 64-bit integer")
    return value


def _seconds_ms(value: Any, where: str) -> int:
    """Unix seconds as epoch milliseconds."""
    seconds = _int(value, where)
    if not 0 <= seconds * 1000 < LONG.stop:
        raise BadPayload(where, f"{value!r} is not unix seconds")
    return seconds * 1000


def _opt_int(d: dict[str, Any], key: str, where: str) -> int | None:
    return None if d.get(key) is None else _int(d[key], f"{where}.{key}")


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadPayload(where, f"expected a non-empty string, got {value!r}")
    return value


def _side(value: Any, where: str) -> Side:
    if value == "yes":
        return Side.YES
    if value == "no":
        return Side.NO
    raise BadPayload(where, f"expected 'yes' or 'no', got {value!r}")


def rfc3339_ms(value: Any, where: str) -> int:
    """"2022-11-22T20:44:01Z" / "...:53.361842Z" as epoch milliseconds."""
    if not isinstance(value, str):
        raise BadPayload(where, f"expected an RFC 3339 time, got {value!r}")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadPayload(where, f"not an RFC 3339 time: {value!r}") from exc
    if dt.tzinfo is None:
        raise BadPayload(where, f"time without a zone: {value!r}")
    return int(dt.timestamp() * 1000)


def _price(d: dict[str, Any], dollars_key: str, cents_key: str, where: str) -> int | None:
    if d.get(dollars_key) is not None:
        return fp.price_to_micros(d[dollars_key], f"{where}.{dollars_key}")
    if d.get(cents_key) is not None:
        return fp.cents_to_micros(d[cents_key], f"{where}.{cents_key}")
    return None


def _count(d: dict[str, Any], fp_key: str, int_key: str, where: str, *, signed: bool = False) -> int | None:
    if d.get(fp_key) is not None:
        return fp.count_to_centi(d[fp_key], f"{where}.{fp_key}", signed=signed)
    if d.get(int_key) is not None:
        return _int(d[int_key], f"{where}.{int_key}") * 100
    return None


def parse_levels(raw: Any, where: str, *, legacy: str = "") -> tuple[Level, ...]:
    """[[price, count], ...] in any of Kalshi's three forms into exact (micros, centi) pairs.

    `legacy` is "" for `*_dollars_fp` ([str, str]), "dollars" for `*_dollars`
    ([str, int]) and "cents" for the bare side ([int cents, int]).
    """
    if not isinstance(raw, list):
        raise BadPayload(where, f"expected a list of levels, got {raw!r}")
    levels: dict[int, int] = {}
    for i, item in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(item, list) or len(item) != 2:
            raise BadPayload(w, f"expected [price, count], got {item!r}")
        p_raw, c_raw = item
        if legacy == "cents":
            price = fp.cents_to_micros(p_raw, w)
        else:
            price = fp.price_to_micros(p_raw, w)
        if legacy:
            centi = _int(c_raw, w) * 100
        else:
            centi = fp.count_to_centi(c_raw, w)
        if not 0 < price < fp.ONE_DOLLAR_MICROS:
            raise BadPayload(w, f"a resting bid at {p_raw!r} is impossible")
        if centi <= 0:
            raise BadPayload(w, f"a level with size {c_raw!r}")
        if price in levels:
            raise BadPayload(w, f"price {p_raw!r} listed twice")
        levels[price] = centi
    return tuple(sorted(levels.items()))


def snapshot_side(msg: dict[str, Any], side: str, where: str) -> tuple[Level, ...]:
    """One side of a websocket snapshot; an absent key means no bids on that side (per the spec)."""
    for key, legacy in ((f"{side}_dollars_fp", ""), (f"{side}_dollars", "dollars"), (side, "cents")):
        if msg.get(key) is not None:
            return parse_levels(msg[key], f"{where}.{key}", legacy=legacy)
    return ()


# ------------------------------------------------------------------ dispatch


def _book_snapshot(frame: dict[str, Any]) -> BookSnapshot:
    msg = _req(frame, "msg", "orderbook_snapshot")
    if not isinstance(msg, dict):
        raise BadPayload("orderbook_snapshot.msg", "expected an object")
    w = "orderbook_snapshot.msg"
    return BookSnapshot(
        sid=_int(_req(frame, "sid", "orderbook_snapshot"), "orderbook_snapshot.sid"),
        seq=_int(_req(frame, "seq", "orderbook_snapshot"), "orderbook_snapshot.seq"),
        ticker=_str(_req(msg, "market_ticker", w), f"{w}.market_ticker"),
        yes=snapshot_side(msg, "yes", w),
        no=snapshot_side(msg, "no", w),
    )


def _book_delta(frame: dict[str, Any]) -> BookDelta:
    msg = _req(frame, "msg", "orderbook_delta")
    if not isinstance(msg, dict):
        raise BadPayload("orderbook_delta.msg", "expected an object")
    w = "orderbook_delta.msg"
    price = _price(msg, "price_dollars", "price", w)
    delta = _count(msg, "delta_fp", "delta", w, signed=True)
    if price is None:
        raise BadPayload(f"{w}.price_dollars", "missing")
    if delta is None:
        raise BadPayload(f"{w}.delta_fp", "missing")
    if not 0 < price < fp.ONE_DOLLAR_MICROS:
        raise BadPayload(f"{w}.price_dollars", f"no bid can rest at {price} micro-dollars")
    return BookDelta(
        sid=_int(_req(frame, "sid", "orderbook_delta"), "orderbook_delta.sid"),
        seq=_int(_req(frame, "seq", "orderbook_delta"), "orderbook_delta.seq"),
        ticker=_str(_req(msg, "market_ticker", w), f"{w}.market_ticker"),
        side=_side(msg.get("side"), f"{w}.side"),
        price_micros=price,
        delta_centi=delta,
        ts=rfc3339_ms(msg["ts"], f"{w}.ts") if msg.get("ts") is not None else None,
        client_order_id=msg.get("client_order_id"),
    )


def _ticker(frame: dict[str, Any]) -> TickerUpdate:
    msg = _req(frame, "msg", "ticker")
    if not isinstance(msg, dict):
        raise BadPayload("ticker.msg", "expected an object")
    w = "ticker.msg"
    return TickerUpdate(
        sid=_int(_req(frame, "sid", "ticker"), "ticker.sid"),
        ticker=_str(_req(msg, "market_ticker", w), f"{w}.market_ticker"),
        ts=_seconds_ms(_req(msg, "ts", w), f"{w}.ts"),  # unix seconds per the spec
        last_price_micros=_price(msg, "price_dollars", "price", w),
        yes_bid_micros=_price(msg, "yes_bid_dollars", "yes_bid", w),
        yes_ask_micros=_price(msg, "yes_ask_dollars", "yes_ask", w),
        yes_bid_size_centi=_count(msg, "yes_bid_size_fp", "yes_bid_size", w),
        yes_ask_size_centi=_count(msg, "yes_ask_size_fp", "yes_ask_size", w),
        volume_centi=_count(msg, "volume_fp", "volume", w),
        open_interest_centi=_count(msg, "open_interest_fp", "open_interest", w),
    )


def _trade(frame: dict[str, Any]) -> PublicTrade:
    msg = _req(frame, "msg", "trade")
    if not isinstance(msg, dict):
        raise BadPayload("trade.msg", "expected an object")
    w = "trade.msg"
    yes = _price(msg, "yes_price_dollars", "yes_price", w)
    no = _price(msg, "no_price_dollars", "no_price", w)
    count = _count(msg, "count_fp", "count", w)
    if yes is None or no is None or count is None:
        raise BadPayload(w, "trade without yes/no price or count")
    return PublicTrade(
        sid=_int(_req(frame, "sid", "trade"), "trade.sid"),
        seq=_opt_int(frame, "seq", "trade"),
        trade_id=_str(_req(msg, "trade_id", w), f"{w}.trade_id"),
        ticker=_str(_req(msg, "market_ticker", w), f"{w}.market_ticker"),
        ts=_seconds_ms(_req(msg, "ts", w), f"{w}.ts"),
        yes_price_micros=yes,
        no_price_micros=no,
        count_centi=count,
        taker_side=_side(msg.get("taker_side"), f"{w}.taker_side"),
    )


def _lifecycle(frame: dict[str, Any]) -> MarketLifecycle:
    msg = _req(frame, "msg", "market_lifecycle_v2")
    if not isinstance(msg, dict):
        raise BadPayload("market_lifecycle_v2.msg", "expected an object")
    w = "market_lifecycle_v2.msg"
    return MarketLifecycle(
        sid=_int(_req(frame, "sid", "market_lifecycle_v2"), "market_lifecycle_v2.sid"),
        ticker=_str(_req(msg, "market_ticker", w), f"{w}.market_ticker"),
        event_type=_str(_req(msg, "event_type", w), f"{w}.event_type"),
        result=str(msg.get("result") or ""),
    )


def _subscribed(frame: dict[str, Any]) -> Subscribed:
    msg = _req(frame, "msg", "subscribed")
    return Subscribed(
        id=_opt_int(frame, "id", "subscribed"),
        channel=_str(_req(msg, "channel", "subscribed.msg"), "subscribed.msg.channel"),
        sid=_int(_req(msg, "sid", "subscribed.msg"), "subscribed.msg.sid"),
    )


def _unsubscribed(frame: dict[str, Any]) -> Unsubscribed:
    return Unsubscribed(
        id=_opt_int(frame, "id", "unsubscribed"),
        sid=_int(_req(frame, "sid", "unsubscribed"), "unsubscribed.sid"),
        seq=_opt_int(frame, "seq", "unsubscribed"),
    )


def _ok(frame: dict[str, Any]) -> Ok:
    msg = frame.get("msg")
    tickers: tuple[str, ...] = ()
    if isinstance(msg, dict) and isinstance(msg.get("market_tickers"), list):
        tickers = tuple(str(t) for t in msg["market_tickers"])
    return Ok(id=_opt_int(frame, "id", "ok"), sid=_opt_int(frame, "sid", "ok"), seq=_opt_int(frame, "seq", "ok"), market_tickers=tickers)


def _error(frame: dict[str, Any]) -> ErrorReply:
    msg = _req(frame, "msg", "error")
    if not isinstance(msg, dict):
        raise BadPayload("error.msg", "expected an object")
    return ErrorReply(
        id=_opt_int(frame, "id", "error"),
        code=_int(_req(msg, "code", "error.msg"), "error.msg.code"),
        message=str(msg.get("msg", "")),
        market_ticker=msg.get("market_ticker"),
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], WsMessage]] = {
    "subscribed": _subscribed,
    "unsubscribed": _unsubscribed,
    "ok": _ok,
    "error": _error,
    "orderbook_snapshot": _book_snapshot,
    "orderbook_delta": _book_delta,
    "ticker": _ticker,
    "trade": _trade,
    "market_lifecycle_v2": _lifecycle,
}

HANDLED_TYPES = frozenset(_PARSERS)


def parse_frame(text: str | bytes) -> WsMessage:
    """One websocket text frame as a typed message; `BadPayload` for garbage or unknown types."""
    try:
        frame = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload("frame", f"not JSON: {exc}") from exc
    if not isinstance(frame, dict):
        raise BadPayload("frame", f"expected a JSON object, got {type(frame).__name__}")
    kind = frame.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise UnknownMessageType("frame.type", f"unhandled message type {kind!r}")
    return parser(frame)
