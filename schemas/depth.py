"""Order-book depth as packed little-endian int64: one `bytes` value per ladder, no per-level objects.

A ladder of n levels is 2n little-endian int64: the n prices (micro-dollars), then
the n sizes (hundredths of a contract), best level first (bids highest first, asks
lowest first). fastavro reads it as one `bytes` value and numpy views it without a
copy, where a list of level records cost one dict and one dataclass per level
(~99 µs for an 80-level quote against ~6 µs packed).

Kalshi lists bids only: a NO bid at q is a YES ask at $1 − q. Its quotes carry the
two bid ladders and set `asks_implied`; `ladder` below is the one place that turns
them into asks. Venues with a book per side (Polymarket's two tokens) carry all four.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from schemas.enums import Action, Side
from schemas.records import Quote

DTYPE = np.dtype("<i8")
ONE_DOLLAR_MICROS = 1_000_000
EMPTY = b""
_NONE = np.zeros(0, DTYPE)
_NONE.setflags(write=False)


def pack(prices: Iterable[int], c100: Iterable[int]) -> bytes:
    """A ladder from parallel prices (micro-dollars) and sizes (hundredths of a contract)."""
    p = np.asarray(list(prices) if not isinstance(prices, np.ndarray) else prices, DTYPE)
    c = np.asarray(list(c100) if not isinstance(c100, np.ndarray) else c100, DTYPE)
    if p.shape != c.shape or p.ndim != 1:
        raise ValueError(f"a ladder needs as many sizes as prices, got {p.shape} and {c.shape}")
    return np.concatenate((p, c)).tobytes() if len(p) else EMPTY


def contracts_to_c100(size: float) -> int:
    """Contracts (a float rounded to 0.01 at the venue boundary) as exact hundredths."""
    return int(round(size * 100))


def pack_levels(levels: Iterable[tuple[int, float]]) -> bytes:
    """A ladder from (price micro-dollars, size in contracts) pairs, best first."""
    pairs = list(levels)
    return pack([p for p, _ in pairs], [contracts_to_c100(s) for _, s in pairs])


def unpack(packed: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(prices micro-dollars, sizes hundredths of a contract): read-only int64 views, no copy."""
    if not packed:
        return _NONE, _NONE
    if len(packed) % 16:
        raise ValueError(f"a packed ladder is pairs of int64, got {len(packed)} bytes")
    both = np.frombuffer(packed, DTYPE)
    n = len(both) // 2
    return both[:n], both[n:]


Ladder = tuple[np.ndarray, np.ndarray]  # (prices micro-dollars, sizes hundredths of a contract), best first


def pairs(prices: np.ndarray, c100: np.ndarray) -> list[tuple[int, float]]:
    """A ladder as (price micro-dollars, size in contracts) pairs, best level first: one conversion for the
    sink's rows, reports and tests (a size past 2**53 hundredths once came out one float apart on two paths)."""
    return list(zip(prices.tolist(), (c100 / 100).tolist()))


def levels(packed: bytes) -> list[tuple[int, float]]:
    """(price micro-dollars, size in contracts) pairs: for tests, reports and the rare slow path."""
    return pairs(*unpack(packed))


def _stored(quote: Quote, side: Side, action: Action) -> Ladder:
    if action is Action.BUY:
        if quote.asks_implied:  # the other side's bids at $1 − p: best bid (highest) is the best ask (lowest)
            p, c = unpack(quote.no_bid_depth if side is Side.YES else quote.yes_bid_depth)
            return ONE_DOLLAR_MICROS - p, c
        return unpack(quote.yes_ask_depth if side is Side.YES else quote.no_ask_depth)
    return unpack(quote.yes_bid_depth if side is Side.YES else quote.no_bid_depth)


def ladder(quote: Quote, side: Side, action: Action) -> Ladder:
    """The levels an order to `action` `side` takes: asks to buy, bids to sell, best first.

    Implied asks are derived here and only here. A quote without depth still has its
    top of book: that level is the ladder then.
    """
    p, c = _stored(quote, side, action)
    if len(p):
        return p, c
    name = f"{side.value.lower()}_{'ask' if action is Action.BUY else 'bid'}"
    top, size = getattr(quote, f"{name}_micros"), getattr(quote, f"{name}_size")
    if top is not None and size > 0:
        return np.array([top], DTYPE), np.array([contracts_to_c100(size)], DTYPE)
    return _NONE, _NONE


def all_ladders(quote: Quote) -> dict[str, Ladder]:
    """The four ladders as carried, by name (yes_bids, yes_asks, no_bids, no_asks), implied asks derived."""
    out = {}
    for side in (Side.YES, Side.NO):
        s = side.value.lower()
        out[f"{s}_bids"] = _stored(quote, side, Action.SELL)
        out[f"{s}_asks"] = _stored(quote, side, Action.BUY)
    return out


def book_levels(quote: Quote) -> dict[str, list[tuple[int, float]]]:
    """The four ladders as (price micro-dollars, contracts) pairs, implied asks derived: for tests and reports."""
    return {name: pairs(*arrays) for name, arrays in all_ladders(quote).items()}
