"""Model edges over many ask ladders at once, in numpy, with exact venue fees.

A row is one market side: its ask ladder (padded), its fee schedule and the model
probability that the side pays. For every level the marginal all-in cost per
contract is the level price plus the fee the level adds to the order; the edge
survives while `p − marginal cost ≥ min_edge`, and the signalled size is the
cumulative size of that surviving prefix. Results per row: top of book, size,
limit price (deepest level used), total fee, average edge and EV per contract.

`scalar_reference.model_edges_scalar` computes the same numbers with Python loops;
a property test holds both to identical results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.fees import fee_from_numerator, fee_numerator, fits_int64, order_fee_micros_v

MICROS = 1_000_000


@dataclass(frozen=True)
class LadderRows:
    """R ask ladders with their fee parameters; per-row arrays are shaped (R,)."""

    p4: np.ndarray  # (R, L) int64, price in $0.0001
    c100: np.ndarray  # (R, L) int64, size in 0.01 contracts, 0 = no level
    venue: np.ndarray
    rate_ppm: np.ndarray
    exponent: np.ndarray

    @property
    def rows(self) -> int:
        return int(self.p4.shape[0])


@dataclass(frozen=True)
class EdgeResult:
    best_price_micros: np.ndarray  # (R,) 0 when the side has no ask
    best_size_c100: np.ndarray
    top_edge: np.ndarray  # p − all-in cost per contract for the best level alone (−inf: no ask)
    levels: np.ndarray  # surviving levels
    size_c100: np.ndarray  # contracts (×100) at which the edge survives the book
    limit_price_micros: np.ndarray  # price of the deepest surviving level
    fee_micros: np.ndarray  # total fee of buying `size`
    notional_micros: np.ndarray  # total price paid for `size`
    edge: np.ndarray  # p − average all-in cost per contract at `size`
    ev_micros: np.ndarray  # expected value per contract at `size`, floored


def _per_row(a: np.ndarray) -> np.ndarray:
    return a[:, None]


def at_least_one_level(rows: LadderRows) -> LadderRows:
    if rows.p4.shape[1]:
        return rows
    z = np.zeros((rows.rows, 1), np.int64)
    return LadderRows(z, z, rows.venue, rows.rate_ppm, rows.exponent)


def model_edges(rows: LadderRows, p_side: np.ndarray, min_edge: float) -> EdgeResult:
    rows = at_least_one_level(rows)
    p4, c100 = rows.p4, rows.c100
    r = rows.rows
    valid = c100 > 0
    cum_c100 = np.cumsum(c100, axis=1)
    cum_notional = np.cumsum(p4 * c100, axis=1)
    venue, rate, expo = _per_row(rows.venue), _per_row(rows.rate_ppm), _per_row(rows.exponent)
    if fits_int64(c100, p4, rate, expo):  # the usual case: plain int64 sums, same results
        fee_cum = fee_from_numerator(venue, expo, np.cumsum(fee_numerator(p4, c100, rate, expo), axis=1))
    else:
        fee_cum = order_fee_micros_v(venue, p4, c100, rate, expo, cumulative=True)
    fee_prev = np.zeros_like(fee_cum)
    fee_prev[:, 1:] = fee_cum[:, :-1]
    safe_c100 = np.where(valid, c100, 1)
    mcost = p4 * 100 + ((fee_cum - fee_prev) * 100) / safe_c100
    medge = _per_row(p_side) - mcost / MICROS
    alive = np.logical_and.accumulate(valid & (medge >= min_edge), axis=1)
    levels = alive.sum(axis=1)
    last = np.maximum(levels - 1, 0)
    idx = np.arange(r)
    has = levels > 0
    size = np.where(has, cum_c100[idx, last], 0)
    fee = np.where(has, fee_cum[idx, last], 0)
    notional = np.where(has, cum_notional[idx, last], 0)
    avg_cost = ((notional + fee) * 100) / np.where(has, size, 1)
    edge = np.where(has, p_side - avg_cost / MICROS, 0.0)
    ev = np.where(has, np.floor(p_side * MICROS - avg_cost), 0.0).astype(np.int64)
    has_ask = valid[:, 0]
    top = np.where(has_ask, medge[:, 0], -np.inf)
    return EdgeResult(
        best_price_micros=np.where(has_ask, p4[:, 0] * 100, 0),
        best_size_c100=np.where(has_ask, c100[:, 0], 0),
        top_edge=top,
        levels=levels,
        size_c100=size,
        limit_price_micros=np.where(has, p4[idx, last] * 100, 0),
        fee_micros=fee,
        notional_micros=notional,
        edge=edge,
        ev_micros=ev,
    )
