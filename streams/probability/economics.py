"""Economic release thresholds: P(the published figure >= X) from a forecast fitted on the series' own history.

Method. The quantity a market settles on is forecast one release ahead by an
AR(1), y_{t+1} = a + b y_t + e, fitted by least squares on the last `window`
observations before the forecast (nothing after it; values winsorized at
median +- 5 MADs for the slope, so a single shock cannot set it): CPI month-over-month %
on itself, the unemployment rate and payrolls on their monthly changes. The
forecast distribution is the point forecast plus the fit's own residuals, its
historical one-step forecast errors, taken as they are (no normality: monthly
changes of a rounded series are lumpy and fat-tailed) and each spread over its
rounding cell by a normal kernel of half a publication step. Errors are
scaled by sqrt(info_left), the share of the period still unknown when the
forecast is made (1 from the previous release).

Rounding. Markets settle on the published, rounded figure: CPI m/m to 0.1,
the unemployment rate to 0.1, payrolls to the thousand. "published >= X"
(X on the published grid) is "unrounded >= X - step/2" (round half up).

bench/models_macro.py scores it on held-out months beside the no-change and
random-walk anchors (README, "Crypto and economics markets").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


@dataclass(frozen=True)
class NormalForecast:
    """Normal forecast of the next unrounded value (the random-walk anchor uses it)."""

    mean: float
    sd: float

    def p_at_least(self, threshold: float, step: float) -> float:
        """P(the figure rounded to `step` is >= `threshold`)."""
        if self.sd <= 0:
            return 1.0 if self.mean >= threshold - step / 2 else 0.0
        return float(ndtr((self.mean - (threshold - step / 2)) / self.sd))


@dataclass(frozen=True)
class EmpiricalForecast:
    """Point forecast plus past forecast errors, each smoothed by a kernel of half a publication step."""

    mean: float
    errors: tuple[float, ...]

    def p_at_least(self, threshold: float, step: float) -> float:
        """P(the figure rounded to `step` is >= `threshold`)."""
        values = self.mean + np.asarray(self.errors)
        return float(np.mean(ndtr((values - (threshold - step / 2)) / (step / 2))))


@dataclass(frozen=True)
class AR1:
    a: float
    b: float
    residuals: tuple[float, ...]
    low: float = -math.inf  # the fit's winsorizing bounds, applied to the value forecast from too
    high: float = math.inf

    @property
    def resid_sd(self) -> float:
        r = np.asarray(self.residuals)
        return float(math.sqrt(np.sum(r * r) / max(1, len(r) - 2)))

    def forecast(self, last: float, info_left: float = 1.0) -> EmpiricalForecast:
        """The next value's distribution, given the last one."""
        if not 0 < info_left <= 1:
            raise ValueError(f"info_left must be in (0, 1], got {info_left}")
        scale = math.sqrt(info_left)
        x = min(self.high, max(self.low, last))
        return EmpiricalForecast(self.a + self.b * x, tuple(e * scale for e in self.residuals))


#: Values beyond median +- this many (normal-scaled) MADs are clipped before the slope is fitted.
WINSOR_MADS = 5.0


def fit_ar1(history: np.ndarray, window: int = 120, winsor_mads: float = WINSOR_MADS) -> AR1:
    """Least-squares AR(1) on the last `window` transitions of `history` (missing values dropped).

    The slope is fitted on values winsorized at median +- `winsor_mads` MADs, so one shock
    (the April 2020 jobless jump) cannot set it; the residuals are the raw values' errors.
    """
    raw = np.asarray(history, np.float64)
    raw = raw[~np.isnan(raw)][-window - 1 :]
    if len(raw) < 13:
        raise ValueError(f"an AR(1) fit needs at least 13 observations, got {len(raw)}")
    med = float(np.median(raw))
    mad = 1.4826 * float(np.median(np.abs(raw - med)))
    low, high = (med - winsor_mads * mad, med + winsor_mads * mad) if mad > 0 else (-math.inf, math.inf)
    y = np.clip(raw, low, high)
    x, z = y[:-1], y[1:]
    xm, zm = x.mean(), z.mean()
    sxx = float(np.sum((x - xm) ** 2))
    b = float(np.sum((x - xm) * (z - zm)) / sxx) if sxx > 0 else 0.0
    a = float(zm - b * xm)
    return AR1(a, b, tuple((raw[1:] - (a + b * x)).tolist()), low, high)


#: What a market's number is, computed from the series' values (FRED levels, oldest first).
TRANSFORMS = ("mom_pct", "change", "level", "qoq_saar_pct")


def settled_values(levels: np.ndarray, settles_on: str) -> np.ndarray:
    """The figure a market settles on for each period (nan where it cannot be computed)."""
    v = np.asarray(levels, np.float64)
    prev = np.r_[np.nan, v[:-1]]
    if settles_on == "mom_pct":
        return 100 * (v / prev - 1)
    if settles_on == "qoq_saar_pct":
        return 100 * ((v / prev) ** 4 - 1)
    if settles_on == "change":
        return v - prev
    if settles_on == "level":
        return v
    raise ValueError(f"unknown figure {settles_on!r}; known: {TRANSFORMS}")


def forecast_next(levels: np.ndarray, settles_on: str, window: int = 120, info_left: float = 1.0) -> EmpiricalForecast:
    """The next period's figure: levels are forecast through their changes, the others on themselves."""
    y = np.asarray(levels, np.float64)
    y = y[~np.isnan(y)]
    if settles_on == "level":
        changes = np.diff(y)
        f = fit_ar1(changes, window).forecast(float(changes[-1]), info_left)
        return EmpiricalForecast(float(y[-1]) + f.mean, f.errors)
    figures = settled_values(y, settles_on)[1:]
    return fit_ar1(figures, window).forecast(float(figures[-1]), info_left)


def at_least_level(history: np.ndarray, threshold: float, step: float, *, on_changes: bool, window: int = 120, info_left: float = 1.0) -> float:
    """P(the next published value >= threshold) for a series forecast on itself or on its changes."""
    y = np.asarray(history, np.float64)
    y = y[~np.isnan(y)]
    if on_changes:
        return forecast_next(y, "level", window, info_left).p_at_least(threshold, step)
    return fit_ar1(y, window).forecast(float(y[-1]), info_left).p_at_least(threshold, step)
