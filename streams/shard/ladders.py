"""The ask ladders of a whole batch of quotes as padded arrays, built and checked in one numpy pass.

Per quote the packed ladders are viewed as int64 arrays (`schemas.depth`) and
concatenated; the rules of `state.ladder_arrays` — first `MAX_LEVELS`
levels, levels of zero size dropped, prices on the $0.0001 grid inside (0, 1) and
strictly ascending — are then applied to every level of the batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from schemas import depth
from schemas.enums import Action, Side
from schemas.records import Quote
from streams.fees.fixed import PRICE_QUANTUM_MICROS
from streams.shard.state import MAX_LEVELS, SIZE_LIMIT, BadShardInput, quote_ladders


_NONE = np.zeros(0, np.int64)


@dataclass(frozen=True)
class QuoteLadders:
    """Row i holds quote i's YES (side 0) and NO (side 1) ask ladders."""

    p4: np.ndarray  # (n, 2, W) int64, $0.0001
    c100: np.ndarray  # (n, 2, W) int64, 0.01 contracts, 0 = no level
    ts: np.ndarray  # (n,) quote event time
    bad: tuple[int, ...]  # rows whose ladder is refused (see `refusal`)


def batch_ladders(quotes: Sequence[Quote]) -> QuoteLadders:
    parts: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    lens: list[int] = []
    malformed: list[int] = []
    for i, q in enumerate(quotes):
        for side in (Side.YES, Side.NO):
            try:
                p, c = depth.ladder(q, side, Action.BUY)
            except ValueError:
                p = c = _NONE  # a packed ladder of the wrong length: the row is refused
                malformed.append(i)
            p, c = p[:MAX_LEVELS], c[:MAX_LEVELS]
            parts.append(p)
            sizes.append(c)
            lens.append(len(p))
    n = len(quotes)
    ts = np.fromiter((q.ts for q in quotes), np.int64, n)
    price = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    size = np.concatenate(sizes) if sizes else np.zeros(0, np.int64)
    ladder = np.repeat(np.arange(2 * n), np.array(lens, np.int64))
    keep = size > 0
    huge = keep & (size >= SIZE_LIMIT)
    c100_all = np.where(keep & ~huge, size, 0)
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
    bad_row = bad_ladder.reshape(n, 2).any(axis=1)
    bad_row[malformed] = True
    bad = tuple(np.flatnonzero(bad_row).tolist())
    return QuoteLadders(p4.reshape(n, 2, width), c100.reshape(n, 2, width), ts, bad)


def refusal(quote: Quote) -> str:
    """Why a quote's ladder was refused, worded by the single-ladder check."""
    try:
        quote_ladders(quote)
    except BadShardInput as exc:
        return str(exc)
    return f"quote {quote.quote_id}: ladder refused"
