"""Economics thresholds: publication rounding, the AR(1) fit, errors scaled by time to release."""

from __future__ import annotations

import numpy as np
import pytest

from streams.probability.economics import EmpiricalForecast, NormalForecast, at_least_level, fit_ar1


def test_rounding_to_the_published_grid() -> None:
    # A figure of exactly 0.25 unrounded publishes as 0.3 (half up): ">= 0.3" holds at 0.25, not at 0.2499.
    assert EmpiricalForecast(0.25, (0.0,)).p_at_least(0.3, 0.1) == pytest.approx(0.5)
    assert NormalForecast(0.25, 1e-9).p_at_least(0.3, 0.1) == pytest.approx(0.5, abs=1e-6)
    assert NormalForecast(0.2499, 0.0).p_at_least(0.3, 0.1) == 0.0
    assert NormalForecast(0.25, 0.0).p_at_least(0.3, 0.1) == 1.0
    # Payrolls in thousands: ">= 150" is "unrounded >= 149.5".
    assert NormalForecast(149.5, 40.0).p_at_least(150, 1.0) == pytest.approx(0.5)
    # Monotone in the threshold, complementary across the grid.
    f = EmpiricalForecast(0.21, (-0.1, 0.0, 0.05, 0.1, 0.3))
    ps = [f.p_at_least(x, 0.1) for x in (0.0, 0.1, 0.2, 0.3, 0.4)]
    assert ps == sorted(ps, reverse=True) and 0 < ps[-1] < ps[0] < 1


def test_ar1_recovers_a_known_process() -> None:
    rng = np.random.default_rng(5)
    y = [0.2]
    for _ in range(2_000):
        y.append(0.1 + 0.5 * y[-1] + rng.normal(0, 0.15))
    fit = fit_ar1(np.array(y), window=2_000)
    assert fit.a == pytest.approx(0.1, abs=0.02) and fit.b == pytest.approx(0.5, abs=0.05)
    assert fit.resid_sd == pytest.approx(0.15, rel=0.05)
    with pytest.raises(ValueError):
        fit_ar1(np.array([1.0, 2.0, np.nan]))


def test_less_left_to_learn_means_sharper_forecasts() -> None:
    fit = fit_ar1(np.sin(np.arange(200) / 3.0) + np.random.default_rng(1).normal(0, 0.2, 200))
    full, late = fit.forecast(0.0, 1.0), fit.forecast(0.0, 0.25)
    x = round(full.mean + 0.3, 1)
    assert late.p_at_least(x, 0.1) < full.p_at_least(x, 0.1)  # far tail thins as information arrives
    with pytest.raises(ValueError):
        fit.forecast(0.0, 0.0)


def test_unemployment_on_changes_from_the_recorded_series() -> None:
    from bench.models_macro import unrate

    ind = unrate()
    cut = ind.dates.index("2019-12-01")  # up to the November 2019 print (3.6 %): next is December
    hist = ind.level[:cut]
    assert hist[-1] == 3.6
    p_up = at_least_level(hist, 3.7, 0.1, on_changes=True)
    p_same = at_least_level(hist, 3.6, 0.1, on_changes=True)
    p_down = at_least_level(hist, 3.5, 0.1, on_changes=True)
    assert 0 < p_up < p_same < p_down < 1
    assert p_same > 0.3  # a flat month is the commonest outcome in a calm labour market
