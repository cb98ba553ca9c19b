"""Price-target probabilities under a driftless lognormal price, and the volatility they need.

The price follows geometric Brownian motion with zero drift of the *price*
(risk-neutral with a zero rate, which is also the best short-horizon forecast
of a crypto spot): ln S_T ~ N(ln S_0 - sigma^2 T / 2, sigma^2 T). T is in
years (365-day, 24/7 markets), sigma is annualized.

- above K at T: the cash-or-nothing digital, P = Phi(d2),
  d2 = (ln(S/K) - sigma^2 T / 2) / (sigma sqrt T);
- between K1 and K2: the difference of the two digitals;
- touches K before T: the first-passage probability of a Brownian motion with
  drift nu = -sigma^2 / 2 in log space (reflection principle with a Girsanov
  correction); with nu = 0 it is exactly twice the digital's tail.

At T = 0 or sigma = 0 the price no longer moves: every answer is the indicator
of where the price already is (a strict "above" is NO at S = K).

Volatility: `ewma_variance_rate` is a time-decayed EWMA of squared log returns
over an irregularly sampled history. Each return r_i over dt_i (years) gets
the weight w_i = 0.5 ** (age_i / half_life), age measured from the newest
sample; the annual variance is sum(w r^2) / sum(w dt), the ratio that stays
unbiased when sampling intervals differ (a 1-hour and a 1-day return each
count for the time they span). `EwmaVolatility` is the same estimator in
recursive form for streams: one update per price, no history kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

YEAR_MS = 365.0 * 24 * 3600 * 1000


def years(ms: float) -> float:
    return max(0.0, ms) / YEAR_MS


def _d2(spot: float, strike: float, sigma: float, t_years: float) -> float:
    s = sigma * math.sqrt(t_years)
    return (math.log(spot / strike) - 0.5 * s * s) / s


def _check(spot: float, strike: float, sigma: float, t_years: float) -> None:
    if not (spot > 0 and strike > 0):
        raise ValueError(f"prices must be positive: spot={spot}, strike={strike}")
    if sigma < 0 or t_years < 0 or math.isnan(sigma) or math.isnan(t_years):
        raise ValueError(f"sigma and T must be non-negative: sigma={sigma}, T={t_years}")


def p_above(spot: float, strike: float, sigma: float, t_years: float) -> float:
    """P(S_T > K)."""
    _check(spot, strike, sigma, t_years)
    if sigma * math.sqrt(t_years) == 0.0:
        return 1.0 if spot > strike else 0.0
    return float(ndtr(_d2(spot, strike, sigma, t_years)))


def p_below(spot: float, strike: float, sigma: float, t_years: float) -> float:
    """P(S_T < K) (= 1 - P(S_T > K): the distribution has no atom)."""
    _check(spot, strike, sigma, t_years)
    if sigma * math.sqrt(t_years) == 0.0:
        return 1.0 if spot < strike else 0.0
    return float(ndtr(-_d2(spot, strike, sigma, t_years)))


def p_between(spot: float, low: float, high: float, sigma: float, t_years: float) -> float:
    """P(K1 <= S_T <= K2) as the difference of two digitals."""
    if not low < high:
        raise ValueError(f"empty range [{low}, {high}]")
    _check(spot, low, sigma, t_years)
    if sigma * math.sqrt(t_years) == 0.0:
        return 1.0 if low <= spot <= high else 0.0
    return max(0.0, p_above(spot, low, sigma, t_years) - p_above(spot, high, sigma, t_years))


def p_touch(spot: float, barrier: float, sigma: float, t_years: float) -> float:
    """P(the price reaches `barrier` at some time before T), from above or below."""
    _check(spot, barrier, sigma, t_years)
    if spot == barrier:
        return 1.0
    s = sigma * math.sqrt(t_years)
    if s == 0.0:
        return 0.0
    b = abs(math.log(barrier / spot))  # distance in log space, > 0
    nu = -0.5 * sigma * sigma if barrier > spot else 0.5 * sigma * sigma  # drift towards the barrier
    nt = nu * t_years
    first = ndtr((-b + nt) / s)
    # exp(2 nu b / sigma^2) * Phi((-b - nu T) / s); with nu = -/+ sigma^2/2 the exponent is -/+ b.
    second = math.exp(2.0 * nu * b / (sigma * sigma)) * ndtr((-b - nt) / s)
    return float(min(1.0, first + second))


def p_above_batch(spot: np.ndarray, strike: np.ndarray, sigma: np.ndarray, t_years: np.ndarray) -> np.ndarray:
    """Vectorized `p_above` (the benchmark prices thousands of strikes at once)."""
    spot, strike, sigma, t_years = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (spot, strike, sigma, t_years)))
    s = sigma * np.sqrt(t_years)
    out = (spot > strike).astype(np.float64)
    live = s > 0
    d2 = (np.log(spot[live] / strike[live]) - 0.5 * s[live] ** 2) / s[live]
    out[live] = ndtr(d2)
    return out


# ---------------------------------------------------------------- volatility


def ewma_variance_rate(ts_ms: np.ndarray, prices: np.ndarray, half_life_ms: float) -> float:
    """Annual variance of log returns, EWMA-weighted by age (see the module docstring)."""
    ts = np.asarray(ts_ms, np.float64)
    px = np.asarray(prices, np.float64)
    if len(ts) < 2:
        raise ValueError("volatility needs at least two prices")
    if np.any(np.diff(ts) <= 0) or np.any(px <= 0):
        raise ValueError("prices must be positive with strictly increasing times")
    r = np.diff(np.log(px))
    dt = np.diff(ts) / YEAR_MS
    age = ts[-1] - ts[1:]
    w = 0.5 ** (age / half_life_ms)
    return float(np.sum(w * r * r) / np.sum(w * dt))


@dataclass(frozen=True)
class EwmaVolatility:
    """Recursive form of `ewma_variance_rate`: decayed sums of r^2 and dt, updated per price.

    Decaying both sums by 0.5 ** (elapsed / half_life) at each new sample gives
    exactly the batch estimator's weights. Prices at or before the last sample
    time are ignored (replays and duplicate polls change nothing).
    """

    half_life_ms: float
    last_ts: int = 0
    last_price: float = 0.0
    sum_r2: float = 0.0
    sum_dt: float = 0.0
    samples: int = 0

    def update(self, ts_ms: int, price: float) -> EwmaVolatility:
        if price <= 0 or not math.isfinite(price):
            raise ValueError(f"price must be positive and finite, got {price}")
        if self.samples and ts_ms <= self.last_ts:
            return self
        if not self.samples:
            return EwmaVolatility(self.half_life_ms, ts_ms, price, 0.0, 0.0, 1)
        elapsed = ts_ms - self.last_ts
        decay = 0.5 ** (elapsed / self.half_life_ms)
        r = math.log(price / self.last_price)
        return EwmaVolatility(
            self.half_life_ms,
            ts_ms,
            price,
            self.sum_r2 * decay + r * r,
            self.sum_dt * decay + elapsed / YEAR_MS,
            self.samples + 1,
        )

    @property
    def sigma(self) -> float:
        """Annualized volatility; raises until two prices have been seen."""
        if self.samples < 2 or self.sum_dt <= 0:
            raise ValueError("volatility needs at least two prices")
        return math.sqrt(self.sum_r2 / self.sum_dt)
