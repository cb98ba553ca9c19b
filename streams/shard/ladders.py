"""The ask ladders of a whole batch of quotes as padded arrays, built and checked in one numpy pass.

Per quote only the level prices and sizes are copied out of the records (two list
comprehensions per side); the rules of `state.ladder_arrays` — first `MAX_LEVELS`
levels, levels of zero size dropped, prices on the $0.0001 grid inside (0, 1) and
strictly ascending — are then applied to every level of the batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from schemas.records import Level, Quote
from streams.fees.fixed import PRICE_QUANTUM_MICROS
from streams.shard.state import MAX_LEVELS, BadShardInput, quote_ladders

_SIZE_LIMIT = 2.0**62  # c100 must fit int64 with room for running sums


@dataclass(frozen=True)
class QuoteLadders:
    """Row i holds quote i's YES (side 0) and NO (side 1) ask ladders."""

    p4: np.ndarray  # (n, 2, W) int64, $0.0001
    c100: np.ndarray  # (n, 2, W) int64, 0.01 contracts, 0 = no level
    ts: np.ndarray  # (n,) quote event time
    bad: tuple[int, ...]  # rows whose ladder is refused (see `refusal`)


def _side(levels: Sequence[Level], best_price: int | None, best_size: float) -> tuple[list[int], list[float]]:
    if levels:
        lv = levels[:MAX_LEVELS]
        return [x.price_micros for x in lv], [x.size for x in lv]
    if best_price is not None and best_size > 0:
        return [best_price], [best_size]
    return [], []


def batch_ladders(quotes: Sequence[Quote]) -> QuoteLadders:
    prices: list[int] = []
    sizes: list[float] = []
    lens: list[int] = []
    for q in quotes:
        p, s = _side(q.yes_asks, q.yes_ask_micros, q.yes_ask_size)
        prices += p
        sizes += s
        lens.append(len(p))
        p, s = _side(q.no_asks, q.no_ask_micros, q.no_ask_size)
        prices += p
        sizes += s
        lens.append(len(p))
    n = len(quotes)
    ts = np.fromiter((q.ts for q in quotes), np.int64, n)
    price = np.array(prices, np.int64)
    size = np.array(sizes, np.float64)
    ladder = np.repeat(np.arange(2 * n), np.array(lens, np.int64))
    keep = size > 0
    scaled = size * 100.0
    huge = keep & ~(scaled < _SIZE_LIMIT)
    keep_ok = keep & ~huge
    c100_all = np.rint(np.where(keep_ok, scaled, 0.0)).astype(np.int64)
    bad_price = keep & ((price % PRICE_QUANTUM_MICROS != 0) | (price <= 0) | (price >= 1_000_000))
    kp, kl, kc = price[keep], ladder[keep], c100_all[keep]
    step_down = (kl[1:] == kl[:-1]) & (kp[1:] <= kp[:-1])
    bad_ladder = np.zeros(2 * n, bool)
    bad_ladder[ladder[bad_price | huge]] = True
    bad_ladder[kl[1:][step_down]] = True
    # column of a kept level = how many kept levels precede it in its own ladder
    first = np.searchsorted(kl, np.arange(2 * n), side="left")
    col = np.arange(len(kl)) - first[kl]
    width = int(col.max()) + 1 if len(col) else 1
    p4 = np.zeros((2 * n, width), np.int64)
    c100 = np.zeros((2 * n, width), np.int64)
    p4[kl, col] = kp // PRICE_QUANTUM_MICROS
    c100[kl, col] = kc
    bad = tuple(np.flatnonzero(bad_ladder.reshape(n, 2).any(axis=1)).tolist())
    return QuoteLadders(p4.reshape(n, 2, width), c100.reshape(n, 2, width), ts, bad)


def refusal(quote: Quote) -> str:
    """Why a quote's ladder was refused, worded by the single-ladder check."""
    try:
        quote_ladders(quote)
    except BadShardInput as exc:
        return str(exc)
    return f"quote {quote.quote_id}: ladder refused"
