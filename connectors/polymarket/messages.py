"""Typed CLOB market-channel messages and pure parsers from the venue's JSON.

Shapes follow the recorded payloads in tests/fixtures/polymarket (book frames,
last_trade_price frames, best_bid_ask, the 2025-09-15 `price_change`) and the
market-channel docs (docs.polymarket.com/market-data/websocket/market-channel)
for `tick_size_change`, which has no recording. Prices become int micro-dollars
exactly (Decimal, never float); sizes stay Decimal until a Quote rounds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from connectors.polymarket.errors import BadPayload, LegacyPriceChange, UnknownMessageType
from schemas.records import LONG

MICROS = 1_000_000


class BookSide(str, Enum):
    BID = "BID"  # the venue's "BUY"
    ASK = "ASK"  # the venue's "SELL"


def to_micros(text: Any, what: str = "price") -> int:
    """A decimal-dollar string ("0.514", ".48") as exact int micro-dollars in [0, 1]."""
    try:
        value = Decimal(str(text)) * MICROS
    except (InvalidOperation, ValueError) as exc:
        raise BadPayload(f"{what} {text!r} is not a decimal number") from exc
    if not value.is_finite():
        raise BadPayload(f"{what} {text!r} is not finite")
    if value != value.to_integral_value():
        raise BadPayload(f"{what} {text!r} is finer than a micro-dollar")
    micros = int(value)
    if not 0 <= micros <= MICROS:
        raise BadPayload(f"{what} {text!r} is outside [0, 1]")
    return micros


#: Contracts at one level, at most: far above any real book (the recorded ones peak near 1.1 × 10^6) and far inside what
#: depth's int64 hundredths and the 28-digit decimal context round exactly (10^30 made `quantize` raise).
MAX_SIZE = Decimal(10) ** 12


def to_size(text: Any) -> Decimal:
    try:
        size = Decimal(str(text))
    except (InvalidOperation, ValueError) as exc:
        raise BadPayload(f"size {text!r} is not a decimal number") from exc
    if not size.is_finite() or size < 0:
        raise BadPayload(f"size {text!r} is negative or not finite")
    if size > MAX_SIZE:
        raise BadPayload(f"size {text!r} is above {MAX_SIZE:,} contracts")
    return size


def to_bps(text: Any) -> int:
    """A fee rate in basis points ("0", 1000): a whole number from 0 to 10,000 (100%)."""
    if isinstance(text, bool) or not isinstance(text, (int, str)) or not str(text).strip().isdecimal():
        raise BadPayload(f"fee rate {text!r} is not whole basis points")
    bps = int(str(text).strip())
    if bps > 10_000:
        raise BadPayload(f"fee rate {text!r} is above 10,000 basis points")
    return bps


def to_ms(text: Any) -> int:
    try:
        ms = int(str(text))
    except ValueError as exc:
        raise BadPayload(f"timestamp {text!r} is not integer milliseconds") from exc
    if not 0 <= ms < LONG.stop:
        raise BadPayload(f"timestamp {text!r} is outside the epoch milliseconds a record holds")
    return ms


def to_side(text: Any) -> BookSide:
    if text == "BUY":
        return BookSide.BID
    if text == "SELL":
        return BookSide.ASK
    raise BadPayload(f"side {text!r} is neither BUY nor SELL")


def _req(obj: dict[str, Any], key: str) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise BadPayload(f"missing field {key!r}") from None


@dataclass(frozen=True)
class PriceSize:
    price_micros: int
    size: Decimal


@dataclass(frozen=True)
class BookMsg:
    """A full book for one token: the websocket `book` event or a REST /book answer."""

    asset_id: str
    market: str
    ts: int
    bids: tuple[PriceSize, ...]
    asks: tuple[PriceSize, ...]
    hash: str
    tick_micros: int | None = None
    min_order_size: Decimal | None = None
    neg_risk: bool | None = None
    last_trade_micros: int | None = None


@dataclass(frozen=True)
class PriceChange:
    """One level's new aggregate size (0 removes it) and the venue's best prices after it."""

    asset_id: str
    price_micros: int
    size: Decimal
    side: BookSide
    hash: str
    best_bid_micros: int | None
    best_ask_micros: int | None


@dataclass(frozen=True)
class PriceChangeMsg:
    market: str
    ts: int
    changes: tuple[PriceChange, ...]


@dataclass(frozen=True)
class LastTradeMsg:
    asset_id: str
    market: str
    ts: int
    price_micros: int
    size: Decimal
    side: BookSide
    fee_rate_bps: int | None = None
    transaction_hash: str | None = None


@dataclass(frozen=True)
class TickSizeChangeMsg:
    asset_id: str
    market: str
    ts: int
    old_tick_micros: int
    new_tick_micros: int


@dataclass(frozen=True)
class BestBidAskMsg:
    asset_id: str
    market: str
    ts: int
    best_bid_micros: int | None
    best_ask_micros: int | None


WsMessage = BookMsg | PriceChangeMsg | LastTradeMsg | TickSizeChangeMsg | BestBidAskMsg


def _levels(raw: Any) -> tuple[PriceSize, ...]:
    if not isinstance(raw, list):
        raise BadPayload("book side is not a list")
    return tuple(PriceSize(to_micros(_req(lv, "price")), to_size(_req(lv, "size"))) for lv in raw)


def _best(text: Any, empty_marker: int) -> int | None:
    """Best price, where the venue writes "0" (no bids) or "1" (no asks) for an empty side.

    A level at exactly 0 or 1 cannot exist (prices lie strictly inside the tick range),
    so the marker is unambiguous; see the price_change doc example (best_bid "0").
    """
    if text is None or text == "":
        return None
    micros = to_micros(text, "best price")
    return None if micros == empty_marker else micros


def parse_book(obj: dict[str, Any]) -> BookMsg:
    tick = obj.get("tick_size")
    last = obj.get("last_trade_price")
    mos = obj.get("min_order_size")
    return BookMsg(
        asset_id=str(_req(obj, "asset_id")),
        market=str(_req(obj, "market")),
        ts=to_ms(_req(obj, "timestamp")),
        bids=_levels(_req(obj, "bids")),
        asks=_levels(_req(obj, "asks")),
        hash=str(obj.get("hash", "")),
        tick_micros=to_micros(tick, "tick_size") if tick not in (None, "") else None,
        min_order_size=to_size(mos) if mos not in (None, "") else None,
        neg_risk=obj.get("neg_risk") if isinstance(obj.get("neg_risk"), bool) else None,
        last_trade_micros=to_micros(last, "last_trade_price") if last not in (None, "") else None,
    )


def parse_price_change(obj: dict[str, Any]) -> PriceChangeMsg:
    if "price_changes" not in obj:
        if "price" in obj and "asset_id" in obj:
            raise LegacyPriceChange(
                "flat price_change (schema before 2025-09-15) carries no best bid/ask to verify the book against"
            )
        raise BadPayload("price_change without price_changes[]")
    raw = obj["price_changes"]
    if not isinstance(raw, list) or not raw:
        raise BadPayload("price_changes is empty or not a list")
    changes = tuple(
        PriceChange(
            asset_id=str(_req(c, "asset_id")),
            price_micros=to_micros(_req(c, "price")),
            size=to_size(_req(c, "size")),
            side=to_side(_req(c, "side")),
            hash=str(c.get("hash", "")),
            best_bid_micros=_best(c.get("best_bid"), 0),
            best_ask_micros=_best(c.get("best_ask"), MICROS),
        )
        for c in raw
    )
    return PriceChangeMsg(market=str(_req(obj, "market")), ts=to_ms(_req(obj, "timestamp")), changes=changes)


def parse_last_trade(obj: dict[str, Any]) -> LastTradeMsg:
    fee = obj.get("fee_rate_bps")
    return LastTradeMsg(
        asset_id=str(_req(obj, "asset_id")),
        market=str(_req(obj, "market")),
        ts=to_ms(_req(obj, "timestamp")),
        price_micros=to_micros(_req(obj, "price")),
        size=to_size(_req(obj, "size")),
        side=to_side(_req(obj, "side")),
        fee_rate_bps=to_bps(fee) if fee not in (None, "") else None,
        transaction_hash=obj.get("transaction_hash"),
    )


def parse_tick_size_change(obj: dict[str, Any]) -> TickSizeChangeMsg:
    return TickSizeChangeMsg(
        asset_id=str(_req(obj, "asset_id")),
        market=str(_req(obj, "market")),
        ts=to_ms(_req(obj, "timestamp")),
        old_tick_micros=to_micros(_req(obj, "old_tick_size"), "old_tick_size"),
        new_tick_micros=to_micros(_req(obj, "new_tick_size"), "new_tick_size"),
    )


def parse_best_bid_ask(obj: dict[str, Any]) -> BestBidAskMsg:
    return BestBidAskMsg(
        asset_id=str(_req(obj, "asset_id")),
        market=str(_req(obj, "market")),
        ts=to_ms(_req(obj, "timestamp")),
        best_bid_micros=_best(obj.get("best_bid"), 0),
        best_ask_micros=_best(obj.get("best_ask"), MICROS),
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], WsMessage]] = {
    "book": parse_book,
    "price_change": parse_price_change,
    "last_trade_price": parse_last_trade,
    "tick_size_change": parse_tick_size_change,
    "best_bid_ask": parse_best_bid_ask,
}


def parse_ws_message(obj: Any) -> WsMessage:
    """Dispatch one decoded message on its `event_type`; anything else is refused."""
    if not isinstance(obj, dict):
        raise BadPayload(f"message is a {type(obj).__name__}, not an object")
    kind = obj.get("event_type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise UnknownMessageType(f"unknown event_type {kind!r}")
    try:
        return parser(obj)
    except (TypeError, AttributeError) as exc:
        raise BadPayload(f"malformed {kind}: {exc}") from exc


def split_frame(text: str) -> list[Any]:
    """A websocket text frame as its messages: the venue sends one object or an array of them."""
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadPayload(f"frame is not JSON: {exc.msg}") from exc
    return decoded if isinstance(decoded, list) else [decoded]
