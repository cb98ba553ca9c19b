"""Lognormal price-target probabilities: parity, limits, reflection, ranges, and the EWMA volatility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from streams.probability.lognormal import (
    YEAR_MS,
    EwmaVolatility,
    ewma_variance_rate,
    p_above,
    p_above_batch,
    p_below,
    p_between,
    p_touch,
)

CASES = [(100.0, 90.0, 0.6, 1 / 365), (100.0, 110.0, 0.8, 7 / 365), (72_000.0, 72_749.99, 0.45, 5 / 24 / 365), (2.0, 2.0, 1.2, 0.1)]


@pytest.mark.parametrize(("s", "k", "sigma", "t"), CASES)
def test_digital_parity(s: float, k: float, sigma: float, t: float) -> None:
    assert p_above(s, k, sigma, t) + p_below(s, k, sigma, t) == pytest.approx(1.0, abs=1e-12)


def test_digital_is_phi_d2() -> None:
    s, k, sigma, t = 100.0, 105.0, 0.5, 0.25
    d2 = (math.log(s / k) - 0.5 * sigma**2 * t) / (sigma * math.sqrt(t))
    assert p_above(s, k, sigma, t) == pytest.approx(norm.cdf(d2), abs=1e-12)
    # At the money the zero-drift price is a martingale, so the median sits below spot: P(above) < 1/2.
    assert p_above(100.0, 100.0, 0.5, 0.25) < 0.5


@pytest.mark.parametrize(("s", "k", "expected"), [(101.0, 100.0, 1.0), (99.0, 100.0, 0.0), (100.0, 100.0, 0.0)])
def test_t_to_zero_and_sigma_to_zero_are_the_indicator(s: float, k: float, expected: float) -> None:
    assert p_above(s, k, 0.7, 0.0) == expected
    assert p_above(s, k, 0.0, 1.0) == expected
    # And the limit is approached continuously away from the strike.
    if s != k:
        assert p_above(s, k, 0.7, 1e-9) == pytest.approx(expected, abs=1e-6)
        assert p_above(s, k, 1e-7, 1.0) == pytest.approx(expected, abs=1e-6)


def test_range_is_the_difference_of_two_digitals() -> None:
    s, lo, hi, sigma, t = 72_100.0, 72_000.0, 72_499.99, 0.5, 3 / 24 / 365
    assert p_between(s, lo, hi, sigma, t) == pytest.approx(p_above(s, lo, sigma, t) - p_above(s, hi, sigma, t), abs=1e-15)
    # A ladder of adjacent ranges covering everything sums to 1 with its two tails.
    edges = np.linspace(60_000, 85_000, 51)
    inner = sum(p_between(s, a, b, sigma, 1 / 365) for a, b in zip(edges[:-1], edges[1:]))
    tails = p_below(s, edges[0], sigma, 1 / 365) + p_above(s, edges[-1], sigma, 1 / 365)
    assert inner + tails == pytest.approx(1.0, abs=1e-12)


def test_touch_without_drift_is_twice_the_tail() -> None:
    # Reflection principle for a driftless Brownian motion: P(max >= b) = 2 P(W_T >= b). Over a short
    # horizon the log-drift -sigma^2/2 is negligible beside the diffusion and the closed form applies.
    s, k, sigma, t = 100.0, 100.5, 0.5, 1e-4
    b = math.log(k / s)
    closed = 2 * norm.sf(b / (sigma * math.sqrt(t)))
    assert p_touch(s, k, sigma, t) == pytest.approx(closed, rel=1e-2)


def test_touch_from_above_is_the_inverse_gaussian_first_passage() -> None:
    # Down barrier: log distance b, drift towards it +sigma^2/2, so the passage time is inverse Gaussian
    # with mean b / mu and shape b^2 / sigma^2 (an independent closed form, scipy's invgauss).
    from scipy.stats import invgauss

    s, k, sigma, t = 100.0, 80.0, 0.9, 0.5
    b, mu = math.log(s / k), 0.5 * sigma**2
    mean, shape = b / mu, b**2 / sigma**2
    assert p_touch(s, k, sigma, t) == pytest.approx(invgauss.cdf(t, mean / shape, scale=shape), abs=1e-12)


@pytest.mark.parametrize("k", [115.0, 85.0])
def test_touch_matches_a_simulated_path_maximum(k: float) -> None:
    # the bridge correction below is exact between grid points, so the step count does not bias the estimate:
    # 200 steps give it within 0.002 of p_touch, as 2,000 did, at a tenth of the memory and time
    s, sigma, t, steps, paths = 100.0, 0.8, 30 / 365, 200, 20_000
    rng = np.random.default_rng(7)
    dt = t / steps
    x = np.cumsum(-0.5 * sigma**2 * dt + sigma * math.sqrt(dt) * rng.standard_normal((paths, steps)), axis=1)
    b = math.log(k / s)
    # Brownian-bridge correction: the chance of crossing between two grid points that both stay on one side.
    lo_end, hi_end = x[:, :-1], x[:, 1:]
    if b > 0:
        hit = (x >= b).any(axis=1)
        cross = np.exp(-2 * np.clip(b - lo_end, 0, None) * np.clip(b - hi_end, 0, None) / (sigma**2 * dt))
    else:
        hit = (x <= b).any(axis=1)
        cross = np.exp(-2 * np.clip(lo_end - b, 0, None) * np.clip(hi_end - b, 0, None) / (sigma**2 * dt))
    p_mc = 1 - np.mean(np.where(hit, 0.0, np.prod(1 - cross, axis=1)))
    assert p_touch(s, k, sigma, t) == pytest.approx(p_mc, abs=0.01)
    # Touching is at least as likely as finishing beyond the barrier.
    assert p_touch(s, k, sigma, t) > (p_above(s, k, sigma, t) if k > s else p_below(s, k, sigma, t))


def test_touch_limits() -> None:
    assert p_touch(100.0, 100.0, 0.5, 0.1) == 1.0
    assert p_touch(100.0, 120.0, 0.5, 0.0) == 0.0
    assert p_touch(100.0, 80.0, 0.0, 1.0) == 0.0


def test_batch_equals_scalar() -> None:
    s = np.array([100.0, 100.0, 50.0, 70_000.0])
    k = np.array([90.0, 100.0, 60.0, 71_000.0])
    sig = np.array([0.5, 0.0, 0.9, 0.4])
    t = np.array([0.1, 0.1, 0.0, 0.01])
    np.testing.assert_allclose(p_above_batch(s, k, sig, t), [p_above(*a) for a in zip(s, k, sig, t)], atol=1e-15)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        p_above(0.0, 1.0, 0.5, 0.1)
    with pytest.raises(ValueError):
        p_above(1.0, 1.0, -0.5, 0.1)
    with pytest.raises(ValueError):
        p_between(1.0, 2.0, 2.0, 0.5, 0.1)


def test_ewma_recovers_a_known_volatility_and_matches_its_recursive_form() -> None:
    rng = np.random.default_rng(3)
    sigma = 0.65
    n, step_ms = 24 * 90, 3_600_000
    dt = step_ms / YEAR_MS
    r = -0.5 * sigma**2 * dt + sigma * math.sqrt(dt) * rng.standard_normal(n)
    px = 30_000 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    ts = np.arange(n + 1) * step_ms
    half_life = 30 * 24 * step_ms
    batch = math.sqrt(ewma_variance_rate(ts, px, half_life))
    assert batch == pytest.approx(sigma, rel=0.08)
    vol = EwmaVolatility(half_life)
    for t_, p_ in zip(ts, px):
        vol = vol.update(int(t_), float(p_))
    assert vol.sigma == pytest.approx(batch, rel=1e-9)
    # A duplicate or older price changes nothing.
    assert vol.update(int(ts[-1]), 1.0) is vol


def test_ewma_weights_recent_returns_more() -> None:
    ts = np.arange(0, 200) * 3_600_000
    calm = np.exp(np.cumsum(np.r_[0.0, np.full(149, 0.001) * (-1) ** np.arange(149)]))
    wild = calm[-1] * np.exp(np.cumsum(np.full(50, 0.02) * (-1) ** np.arange(50)))
    px = np.r_[calm, wild]
    short = ewma_variance_rate(ts, px, 12 * 3_600_000)
    long = ewma_variance_rate(ts, px, 2_000 * 3_600_000)
    assert short > long
