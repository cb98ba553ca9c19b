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

from streams.fees import order_fee_micros_v
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


def _leg_at(rows: LadderRows, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fee, notional and level index of each ladder when bought up to each breakpoint b (P, K)."""
    c100 = rows.c100
    cum = np.cumsum(c100, axis=1)
    prev = cum - c100
    take = np.clip(b[:, :, None] - prev[:, None, :], 0, c100[:, None, :])  # (P, K, L)
    p4 = np.broadcast_to(rows.p4[:, None, :], take.shape)
    per = (lambda a: a[:, None, None])
    fee = order_fee_micros_v(per(rows.venue), p4, take, per(rows.rate_ppm), per(rows.exponent), cumulative=False)
    notional = np.sum(p4 * take, axis=2)
    level = np.sum(cum[:, None, :] < b[:, :, None], axis=2)  # level holding the contracts just below b
    return fee, notional, level


def arbitrage(yes: LadderRows, no: LadderRows, min_profit_micros: int) -> ArbResult:
    yes, no = at_least_one_level(yes), at_least_one_level(no)
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
