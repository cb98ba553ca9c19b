"""Cross-venue arbitrage: buy YES on one venue and NO on the other for less than $1 after fees.

Only pairs with equivalent rules are candidates (same outcome role, same resolution
source and settle time: `state.equivalent_rules`); differing settle times are a bet
on the gap, not an arbitrage. For each pair the two ask ladders are walked together:
every distinct cumulative size of either ladder is a breakpoint, each segment between
breakpoints has one price per leg, and the marginal locked-in profit per contract of a
segment is `$1 − (Δcost of both legs)/Δsize`, fees included (each leg's fee is the
exact venue fee of the whole order up to that size). The size is where the surviving
prefix ends, the profit is the average per contract up to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.fees import fee_from_numerator, fee_from_wide, fee_numerator, fee_numerator_wide, fits_int64
from streams.fees.fixed import E18, P4_ONE, wide_mul, wide_sum
from streams.shard.edges import LadderRows, at_least_one_level

C100_PAYOUT_MICROS = 10_000  # $1 per contract = 10_000 micros per 0.01 contract


@dataclass(frozen=True)
class ArbResult:
    size_c100: np.ndarray  # (P,) size at which the lock survives
    yes_limit_micros: np.ndarray  # deepest YES price used
    no_limit_micros: np.ndarray
    yes_fee_micros: np.ndarray  # total fee of each leg at `size`
    no_fee_micros: np.ndarray
    cost_micros: np.ndarray  # both legs' price and fees at `size`
    profit_micros: np.ndarray  # locked-in profit per contract at `size`, floored
    top_profit_micros: np.ndarray  # marginal profit per contract of the first segment (−inf: none)


_ROW_STRIDE = 1 << 42  # > any cumulative size in 0.01 contracts; keeps row blocks apart in one sort order


def _leg_at(rows: LadderRows, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fee, notional and level index of each ladder when bought up to each breakpoint b (P, K).

    Whole levels below the breakpoint come from running sums; only the level the
    breakpoint falls in is added partially, so the work is O(P·K), not O(P·K·L).
    """
    p4, c100 = rows.p4, rows.c100
    p, width = c100.shape
    cum = np.cumsum(c100, axis=1)
    # level holding the contracts just below b = number of levels ending strictly below b
    offs = np.arange(p, dtype=np.int64)[:, None] * _ROW_STRIDE
    flat = (cum + offs).ravel()
    level = np.searchsorted(flat, (b + offs).ravel(), side="left").reshape(b.shape) - offs // _ROW_STRIDE * width
    lv = np.minimum(level, width - 1)
    r = np.arange(p)[:, None]
    prev = (cum - c100)[r, lv]
    part = b - prev
    per = (lambda a: a[:, None])
    q4 = p4[r, lv] * (P4_ONE - p4[r, lv])
    qe = np.where(per(rows.exponent) == 2, q4 * q4, q4)
    if fits_int64(c100, p4, per(rows.rate_ppm), per(rows.exponent)):  # the usual case: plain int64
        num = fee_numerator(p4, c100, per(rows.rate_ppm), per(rows.exponent))
        before = np.cumsum(num, axis=1) - num
        fee = fee_from_numerator(per(rows.venue), per(rows.exponent), before[r, lv] + per(rows.rate_ppm) * part * qe)
    else:
        hi, lo = fee_numerator_wide(p4, c100, per(rows.rate_ppm), per(rows.exponent))
        s_hi, s_lo = wide_sum(hi, lo, cumulative=True)
        e_hi, e_lo = s_hi - hi, s_lo - lo  # exclusive running sums (inclusive minus own, exact)
        borrow = e_lo < 0
        e_hi, e_lo = e_hi - borrow, e_lo + borrow * E18
        ph, pl = wide_mul(per(rows.rate_ppm) * part, qe)
        t_lo = e_lo[r, lv] + pl
        t_hi = e_hi[r, lv] + ph + t_lo // E18
        fee = fee_from_wide(per(rows.venue), per(rows.exponent), t_hi, t_lo % E18)
    notional = (np.cumsum(p4 * c100, axis=1) - p4 * c100)[r, lv] + p4[r, lv] * part
    return fee, notional, level


def _take(rows: LadderRows, keep: np.ndarray) -> LadderRows:
    return LadderRows(rows.p4[keep], rows.c100[keep], rows.venue[keep], rows.rate_ppm[keep], rows.exponent[keep])


def arbitrage(yes: LadderRows, no: LadderRows, min_profit_micros: int) -> ArbResult:
    """Walk only the pairs whose best asks leave room for the minimum profit before fees.

    Fees are never negative, so `$1 − best YES − best NO < min profit` rules a pair out
    exactly; for those only the first segment is priced (its marginal profit is reported).
    """
    yes, no = at_least_one_level(yes), at_least_one_level(no)
    both = (yes.c100[:, 0] > 0) & (no.c100[:, 0] > 0)
    gross = C100_PAYOUT_MICROS * 100 - (yes.p4[:, 0] + no.p4[:, 0]) * 100
    cand = both & (gross >= min_profit_micros)
    if cand.all():
        return _walk(yes, no, min_profit_micros)
    first = np.minimum(yes.c100[:, :1], no.c100[:, :1])
    fy, ny, _ = _leg_at(yes, first)
    fn, nn, _ = _leg_at(no, first)
    seg = first[:, 0]
    top = np.where(both, ((seg * C100_PAYOUT_MICROS - (fy + ny + fn + nn)[:, 0]) * 100) / np.where(both, seg, 1), -np.inf)
    p = yes.rows
    zero = np.zeros(p, np.int64)
    out = ArbResult(zero, zero.copy(), zero.copy(), zero.copy(), zero.copy(), zero.copy(), zero.copy(), top)
    if cand.any():
        sub = _walk(_take(yes, cand), _take(no, cand), min_profit_micros)
        for name in out.__dataclass_fields__:
            getattr(out, name)[cand] = getattr(sub, name)
    return out


def _walk(yes: LadderRows, no: LadderRows, min_profit_micros: int) -> ArbResult:
    p = yes.rows
    total = np.minimum(yes.c100.sum(axis=1), no.c100.sum(axis=1))
    b = np.sort(np.concatenate([np.cumsum(yes.c100, axis=1), np.cumsum(no.c100, axis=1)], axis=1), axis=1)
    b = np.minimum(b, total[:, None])
    seg = np.diff(b, axis=1, prepend=0)
    fee_y, not_y, lv_y = _leg_at(yes, b)
    fee_n, not_n, lv_n = _leg_at(no, b)
    cost = fee_y + not_y + fee_n + not_n
    dcost = np.diff(cost, axis=1, prepend=0)
    has = seg > 0
    mprofit = ((seg * C100_PAYOUT_MICROS - dcost) * 100) / np.where(has, seg, 1)
    alive = np.logical_and.accumulate(~has | (mprofit >= min_profit_micros), axis=1)
    use = alive & has
    k = np.where(use.any(axis=1), b.shape[1] - 1 - np.argmax(use[:, ::-1], axis=1), 0)
    ok = use.any(axis=1)
    idx = np.arange(p)
    size = np.where(ok, b[idx, k], 0)
    cost_at = np.where(ok, cost[idx, k], 0)
    l_last = yes.p4.shape[1] - 1
    lvy = np.minimum(lv_y[idx, k], l_last)
    lvn = np.minimum(lv_n[idx, k], no.p4.shape[1] - 1)
    profit = np.where(ok, np.floor(((size * C100_PAYOUT_MICROS - cost_at) * 100) / np.where(ok, size, 1)), 0)
    first = np.argmax(has, axis=1)
    top = np.where(has.any(axis=1), mprofit[idx, first], -np.inf)
    return ArbResult(
        size_c100=size,
        yes_limit_micros=np.where(ok, yes.p4[idx, lvy] * 100, 0),
        no_limit_micros=np.where(ok, no.p4[idx, lvn] * 100, 0),
        yes_fee_micros=np.where(ok, fee_y[idx, k], 0),
        no_fee_micros=np.where(ok, fee_n[idx, k], 0),
        cost_micros=cost_at,
        profit_micros=profit.astype(np.int64),
        top_profit_micros=top,
    )
