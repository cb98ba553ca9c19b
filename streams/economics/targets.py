"""Release-target events from venue listings and FRED observations: `step(state, record) -> (state, outputs)`, pure.

One state per indicator. An economics listing adds the target it asks about
(`streams.economics.parse`). An observation state from the FRED connector
(source "fred", `fred:<indicator>:<period>`) adds a published value; then every
open target is re-emitted: a target for the period after the last published one
is LIVE with the forecast of `streams.probability.economics` (fitted on the
history up to then); a target whose period is published is FINAL with the
published figure (rounded to its grid), then dropped. Targets further ahead wait.

A release-calendar state from the connector (`fred:<indicator>:release:<day>`, its
start the publication time) tells when the next figure comes: an open target's
state starts then, and its forecast errors are scaled by the share of the time
between the last release and the next still to run (`info_left`, at least
`TargetsConfig.min_info_left`): the spread narrows as the print nears. Each new
calendar date re-emits the open targets priced at that record's time.
"""

from __future__ import annotations

from bisect import bisect_right

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Union

import numpy as np

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState, MarketListing
from streams.economics.parse import NotATarget, parse_listing
from streams.economics.target import EconTarget, to_state
from streams.probability.economics import forecast_next, settled_values

OBSERVATION_SOURCE = "fred"
#: What each indicator's markets settle on, from its FRED series' levels.
SETTLES_ON = {
    "cpi": "mom_pct", "core_cpi": "mom_pct", "core_pce": "mom_pct", "unrate": "level",
    "payrolls": "change", "gdp": "qoq_saar_pct", "fed_upper": "level",
}
#: Months between two periods of the indicator (GDP is quarterly; the rest monthly).
PERIOD_MONTHS = {"gdp": 3}

Record = Union[MarketListing, EventState]


@dataclass(frozen=True)
class TargetsConfig:
    window: int = 120  # periods the AR(1) is fitted on
    #: The forecast spread never narrows below this share of its full width before the print: revisions,
    #: seasonal adjustment and what no indicator shows stay unknown until the figure is out.
    min_info_left: float = 0.1


@dataclass(frozen=True)
class IndicatorState:
    indicator: str
    levels: dict[str, float] = field(default_factory=dict)  # period -> published level
    targets: dict[str, EconTarget] = field(default_factory=dict)
    releases: tuple[int, ...] = ()  # publication times on the calendar, sorted


def next_release(releases: tuple[int, ...], ts: int) -> int | None:
    """The first publication time on the (sorted) calendar after `ts`."""
    i = bisect_right(releases, ts)
    return releases[i] if i < len(releases) else None


def info_left(releases: tuple[int, ...], ts: int, period_months: int, floor: float) -> float:
    """Share of the time from the last release before `ts` to the next one still to run at `ts` (1 with no next
    release on the calendar; a missing last one is taken a period before the next)."""
    i = bisect_right(releases, ts)
    if i == len(releases):
        return 1.0
    nxt = releases[i]
    prev = releases[i - 1] if i else nxt - int(period_months * 30.44 * 86_400_000)
    return min(1.0, max(floor, (nxt - ts) / max(1, nxt - prev)))


def _period_of(state: EventState) -> str | None:
    parts = state.event_id.split(":")
    return parts[2] if len(parts) == 3 and parts[0] == "fred" else None


def is_release(state: EventState) -> bool:
    """A release-calendar state of the FRED connector: `fred:<indicator>:release:<day>`, start = publication time."""
    parts = state.event_id.split(":")
    return (state.market_type is MarketType.ECONOMICS and state.source == OBSERVATION_SOURCE and len(parts) == 4
            and parts[0] == "fred" and parts[2] == "release" and state.start_ts is not None)


def is_observation(state: EventState) -> bool:
    return (
        state.market_type is MarketType.ECONOMICS and state.source == OBSERVATION_SOURCE
        and "value" in state.features and _period_of(state) is not None
    )


def _next_period(period: str, months: int) -> str:
    d = date.fromisoformat(period)
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1).isoformat()


def _published(x: float, step: float) -> float:
    return round(float(np.floor(x / step + 0.5 + 1e-9)) * step, 10)


class TargetsProcessor:
    def __init__(self, config: TargetsConfig | None = None) -> None:
        self.config = config or TargetsConfig()

    def state_key(self, record: Record) -> str | None:
        if isinstance(record, EventState):
            return record.league if (is_observation(record) or is_release(record)) and record.league in SETTLES_ON else None
        if record.market_type is not MarketType.ECONOMICS:
            return None
        try:
            return parse_listing(record)[0].indicator
        except NotATarget:
            return None  # discovery reports it (one alert each)

    def initial(self, indicator: str) -> IndicatorState:
        return IndicatorState(indicator)

    def step(self, state: IndicatorState, record: Record) -> tuple[IndicatorState, list[EventState]]:
        if isinstance(record, EventState) and is_release(record):
            if record.league != state.indicator:
                raise ValueError(f"{record.event_id} is not a release of {state.indicator}")
            at = int(record.start_ts or 0)
            if at in state.releases:
                return state, []
            before = next_release(state.releases, record.ts)
            state = replace(state, releases=tuple(sorted((*state.releases, at))))
            if at <= record.ts or (before is not None and before <= at):
                return state, []  # a past date, or one after the next print: the open targets' pricing is unchanged
            outputs = [o for t in sorted(state.targets.values(), key=lambda t: t.event_id)
                       if (o := self._emit(state, t, record.ts)) is not None and o.status is not EventStatus.FINAL]
            return state, outputs
        if isinstance(record, EventState):
            if not is_observation(record) or record.league != state.indicator:
                raise ValueError(f"{record.event_id} is not a FRED observation of {state.indicator}")
            period, value = _period_of(record), float(record.features["value"])
            assert period is not None
            if state.levels.get(period) == value:
                return state, []
            state = replace(state, levels={**state.levels, period: value})
            outputs = [o for t in sorted(state.targets.values(), key=lambda t: t.event_id) if (o := self._emit(state, t, record.ts))]
            settled = {o.event_id for o in outputs if o.status is EventStatus.FINAL}
            return replace(state, targets={k: t for k, t in state.targets.items() if k not in settled}), outputs
        target, _ = parse_listing(record)
        if target.indicator != state.indicator:
            raise ValueError(f"{record.listing_id} is about {target.indicator}, not {state.indicator}")
        if target.event_id in state.targets:
            return state, []
        state = replace(state, targets={**state.targets, target.event_id: target})
        ts = record.ts
        out = self._emit(state, target, ts)
        return state, [out] if out is not None else []

    def _emit(self, state: IndicatorState, target: EconTarget, ts: int) -> EventState | None:
        settles_on = SETTLES_ON.get(state.indicator)
        if settles_on is None or not state.levels:
            return None
        periods = sorted(state.levels)
        levels = np.array([state.levels[p] for p in periods])
        if target.period in state.levels:
            i = periods.index(target.period)
            figure = settled_values(levels[: i + 1], settles_on)[-1]
            if figure != figure:
                return None  # the prior period is missing: cannot compute the settled figure
            return to_state(target, None, ts=ts, published=_published(float(figure), target.step), status=EventStatus.FINAL)
        if target.period != _next_period(periods[-1], PERIOD_MONTHS.get(state.indicator, 1)):
            return None
        months = PERIOD_MONTHS.get(state.indicator, 1)
        left = info_left(state.releases, ts, months, self.config.min_info_left)
        try:
            forecast = forecast_next(levels, settles_on, self.config.window, left)
        except ValueError:
            return None  # not enough history yet
        release = next_release(state.releases, ts)
        return to_state(target, forecast, ts=ts, published=None, status=EventStatus.SCHEDULED, start_ts=release)
