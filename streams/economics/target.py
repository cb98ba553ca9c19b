"""An economic release target: "the published <figure> of <indicator> for <period> >= X".

Every venue wording is normalized to "published >= X" on the publication grid:
"above 0.3%" for a figure published to 0.1 is ">= 0.4"; "below X" is the NO side of
">= X" (the link's YES role is then "b"). Two markets pair only when indicator,
period, figure and threshold are equal.

A target travels on `events.state` as an EventState (market_type ECONOMICS, league =
indicator) whose features carry the threshold, the publication step and the forecast
(mean and 20 quantiles of its past errors); `to_state`/`from_state` are the only code
that reads or writes those keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.probability.economics import EmpiricalForecast

TARGET_SOURCE = "econ-targets"
N_QUANTILES = 20


@dataclass(frozen=True)
class EconTarget:
    indicator: str  # "cpi", "core_cpi", "unrate", "payrolls", "gdp", "fed_upper", ...
    period: str  # first day of the reference period, YYYY-MM-DD
    threshold: float  # YES when the published figure >= threshold
    step: float  # publication grid

    @property
    def event_id(self) -> str:
        return f"econ:{self.indicator}:{self.period}:ge-{self.threshold:.10g}"

    def describe(self) -> str:
        return f"{self.indicator} {self.period[:7]} >= {self.threshold:.10g}"


def to_state(target: EconTarget, forecast: EmpiricalForecast | None, *, ts: int, published: float | None, status: EventStatus,
             start_ts: int | None = None) -> EventState:
    """The target with its forecast (open) or its published figure (settled)."""
    features = {"threshold": target.threshold, "step": target.step}
    if published is not None:
        features["published"] = published
    if forecast is not None:
        features["mean"] = forecast.mean
        q = np.quantile(np.asarray(forecast.errors), (np.arange(N_QUANTILES) + 0.5) / N_QUANTILES)
        features.update({f"err_q{i:02d}": float(v) for i, v in enumerate(q)})
    return EventState(
        state_id=f"{target.event_id}@{ts}", event_id=target.event_id, ts=ts, source=TARGET_SOURCE,
        market_type=MarketType.ECONOMICS, league=target.indicator, name=target.describe(), status=status, start_ts=start_ts,
        entity_a=target.describe(), entity_b=f"{target.indicator} {target.period[:7]} < {target.threshold:.10g}",
        features=features,
    )


@dataclass(frozen=True)
class PricedRelease:
    threshold: float
    step: float
    published: float | None
    forecast: EmpiricalForecast | None


def from_state(state: EventState) -> PricedRelease:
    f = state.features
    errors = tuple(f[f"err_q{i:02d}"] for i in range(N_QUANTILES)) if "err_q00" in f else None
    return PricedRelease(
        threshold=float(f["threshold"]), step=float(f["step"]), published=f.get("published"),
        forecast=EmpiricalForecast(float(f["mean"]), errors) if errors is not None else None,
    )
