"""Plain-Python reference of `edges.model_edges` and `arbitrage.arbitrage`.

Kept for the tests (vectorized and scalar results must be identical) and for the
benchmark (the speedup is measured against it). It loops over rows and levels and
uses Python's exact integers for fees instead of the two-limb arithmetic, so the
two implementations share no fee code and check each other. Float expressions are
written in the same order as in numpy so both round identically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streams.fees.fixed import P4_ONE
from streams.shard.arbitrage import ArbResult
from streams.shard.edges import EdgeResult, LadderRows

MICROS = 1_000_000
C100_PAYOUT_MICROS = 10_000
KALSHI, POLYMARKET = 0, 1


@dataclass(frozen=True)
class Ladder:
    p4: list[int]
    c100: list[int]  # only real levels (size > 0), best first
    venue: int
    rate_ppm: int
    exponent: int


@dataclass(frozen=True)
class ScalarEdge:
    best_price_micros: int
    best_size_c100: int
    top_edge: float
    levels: int
    size_c100: int
    limit_price_micros: int
    fee_micros: int
    notional_micros: int
    edge: float
    ev_micros: int


@dataclass(frozen=True)
class ScalarArb:
    size_c100: int
    yes_limit_micros: int
    no_limit_micros: int
    yes_fee_micros: int
    no_fee_micros: int
    cost_micros: int
    profit_micros: int
    top_profit_micros: float


def _raw(lad: Ladder, p4: int, c100: int) -> int:
    return lad.rate_ppm * c100 * (p4 * (P4_ONE - p4)) ** lad.exponent


def fee_from_raw(lad: Ladder, raw: int) -> int:
    """Exact venue rounding of a summed raw fee numerator."""
    if lad.venue == KALSHI:
        return -(-raw // 10**14) * 10_000  # up to the cent
    digits = 11 if lad.exponent == 1 else 19
    return (raw // 10**digits) * 10  # down to 1e-5 USD


def model_edge_scalar(lad: Ladder, p_side: float, min_edge: float) -> ScalarEdge:
    raw = 0
    fee_prev = 0
    cum = 0
    notional = 0
    levels = 0
    top = -math.inf
    size = fee_at = notional_at = limit = 0
    for p4, c100 in zip(lad.p4, lad.c100):
        raw += _raw(lad, p4, c100)
        fee = fee_from_raw(lad, raw)
        cum += c100
        notional += p4 * c100
        mcost = p4 * 100 + ((fee - fee_prev) * 100) / c100
        medge = p_side - mcost / MICROS
        if levels == 0 and top == -math.inf:
            top = medge
        fee_prev = fee
        if medge < min_edge:
            break
        levels += 1
        size, fee_at, notional_at, limit = cum, fee, notional, p4 * 100
    if levels == 0:
        edge, ev = 0.0, 0
    else:
        avg_cost = ((notional_at + fee_at) * 100) / size
        edge = p_side - avg_cost / MICROS
        ev = int(math.floor(p_side * MICROS - avg_cost))
    return ScalarEdge(
        best_price_micros=lad.p4[0] * 100 if lad.p4 else 0,
        best_size_c100=lad.c100[0] if lad.c100 else 0,
        top_edge=top,
        levels=levels,
        size_c100=size,
        limit_price_micros=limit,
        fee_micros=fee_at,
        notional_micros=notional_at,
        edge=edge,
        ev_micros=ev,
    )


def _leg_cost(lad: Ladder, b: int) -> tuple[int, int, int]:
    """Fee, notional and last level index of buying `b` (×0.01) contracts up the ladder."""
    raw = notional = 0
    left = b
    level = 0
    for i, (p4, c100) in enumerate(zip(lad.p4, lad.c100)):
        if left <= 0:
            break
        take = min(left, c100)
        raw += _raw(lad, p4, take)
        notional += p4 * take
        left -= take
        level = i
    return fee_from_raw(lad, raw), notional, level


def arbitrage_scalar(yes: Ladder, no: Ladder, min_profit_micros: int) -> ScalarArb:
    total = min(sum(yes.c100), sum(no.c100))
    points: list[int] = []
    for lad in (yes, no):
        c = 0
        for s in lad.c100:
            c += s
            points.append(min(c, total))
    breaks = sorted(set(p for p in points if p > 0))
    prev_b = prev_cost = 0
    top = -math.inf
    best: tuple[int, int, int, int, int, int] | None = None  # b, cost, lvl_y, lvl_n, fee_y, fee_n
    for b in breaks:
        fy, ny, ly = _leg_cost(yes, b)
        fn, nn, ln = _leg_cost(no, b)
        cost = fy + ny + fn + nn
        seg = b - prev_b
        mprofit = ((seg * C100_PAYOUT_MICROS - (cost - prev_cost)) * 100) / seg
        if top == -math.inf:
            top = mprofit
        if mprofit < min_profit_micros:
            break
        best = (b, cost, ly, ln, fy, fn)
        prev_b, prev_cost = b, cost
    if best is None:
        return ScalarArb(0, 0, 0, 0, 0, 0, 0, top)
    b, cost, ly, ln, fy, fn = best
    profit = int(math.floor(((b * C100_PAYOUT_MICROS - cost) * 100) / b))
    return ScalarArb(b, yes.p4[ly] * 100, no.p4[ln] * 100, fy, fn, cost, profit, top)


def ladders_of(rows: LadderRows) -> list[Ladder]:
    """Rows of padded arrays → plain ladders (real levels only)."""
    out = []
    for p4, c100, v, r, e in zip(
        rows.p4.tolist(), rows.c100.tolist(), rows.venue.tolist(), rows.rate_ppm.tolist(), rows.exponent.tolist()
    ):
        n = sum(1 for c in c100 if c > 0)
        out.append(Ladder(p4[:n], c100[:n], v, r, e))
    return out


def model_edges_rows(rows: LadderRows, p_side: np.ndarray, min_edge: float) -> EdgeResult:
    """Drop-in scalar replacement for `edges.model_edges` (same result type)."""
    res = [model_edge_scalar(lad, p, min_edge) for lad, p in zip(ladders_of(rows), p_side.tolist())]
    col = (lambda name, dt: np.array([getattr(x, name) for x in res], dtype=dt))
    return EdgeResult(
        best_price_micros=col("best_price_micros", np.int64),
        best_size_c100=col("best_size_c100", np.int64),
        top_edge=col("top_edge", np.float64),
        levels=col("levels", np.int64),
        size_c100=col("size_c100", np.int64),
        limit_price_micros=col("limit_price_micros", np.int64),
        fee_micros=col("fee_micros", np.int64),
        notional_micros=col("notional_micros", np.int64),
        edge=col("edge", np.float64),
        ev_micros=col("ev_micros", np.int64),
    )


def arbitrage_rows(yes: LadderRows, no: LadderRows, min_profit_micros: int) -> ArbResult:
    """Drop-in scalar replacement for `arbitrage.arbitrage`."""
    res = [arbitrage_scalar(y, n, min_profit_micros) for y, n in zip(ladders_of(yes), ladders_of(no))]
    col = (lambda name, dt: np.array([getattr(x, name) for x in res], dtype=dt))
    return ArbResult(
        size_c100=col("size_c100", np.int64),
        yes_limit_micros=col("yes_limit_micros", np.int64),
        no_limit_micros=col("no_limit_micros", np.int64),
        yes_fee_micros=col("yes_fee_micros", np.int64),
        no_fee_micros=col("no_fee_micros", np.int64),
        cost_micros=col("cost_micros", np.int64),
        profit_micros=col("profit_micros", np.int64),
        top_profit_micros=col("top_profit_micros", np.float64),
    )
