"""The crypto price-target model: a target EventState -> P(YES) for role "a", P(NO) for "b".

Time left is the state's own event time to the target's resolution time (never
the clock). Averaged settlements (Kalshi: the 60-second mean of the index
before the hour) are priced at their window's midpoint: the mean of a Brownian
path over a window w has the variance of the path at its midpoint to first
order (w/3 vs w/2 — negligible beside hours, and conservative). An Up/Down
market before its window opens is at the money over the whole window:
P = Phi(-sigma sqrt(tau) / 2).
"""

from __future__ import annotations

import math
from scipy.special import ndtr

from schemas.records import EventState
from streams.crypto.target import PricedTarget, TargetKind, from_state
from streams.probability.base import StateNotModelable
from streams.probability.binary import BinaryTargetModel, bounded, read_target
from streams.probability.lognormal import p_above, p_below, p_between, p_touch, years


def p_yes(t: PricedTarget, now_ms: int) -> float:
    """P(the target's YES condition) as of `now_ms`."""
    left = years(t.expiry_ts - now_ms)  # clamped at 0 by `years`
    tau = years(t.expiry_ts - now_ms - t.window_s * 500)  # to the averaging window's midpoint
    if t.kind is TargetKind.UP:
        if t.strike is None:
            if t.window_start_ts is None:
                raise StateNotModelable("up/down target without its window start")
            if now_ms >= t.window_start_ts:
                raise StateNotModelable("up/down window open but its opening price is unknown")
            span = years(t.expiry_ts - t.window_start_ts)
            return float(ndtr(-0.5 * t.sigma * math.sqrt(span)))
        # ">=": YES unless the end price is strictly below the opening price.
        return 1.0 - p_below(t.spot, t.strike, t.sigma, tau)
    assert t.strike is not None
    if t.kind is TargetKind.ABOVE:
        return p_above(t.spot, t.strike, t.sigma, tau)
    if t.kind is TargetKind.BELOW:
        return p_below(t.spot, t.strike, t.sigma, tau)
    if t.kind is TargetKind.BETWEEN:
        assert t.strike_high is not None
        return p_between(t.spot, t.strike, t.strike_high, t.sigma, tau)
    if t.kind is TargetKind.TOUCH:
        return p_touch(t.spot, t.strike, t.sigma, left)
    raise StateNotModelable(f"no pricing for target kind {t.kind}")


class CryptoModel(BinaryTargetModel):
    """Lognormal digitals on the target the state describes (streams.probability.lognormal)."""

    name = "crypto-lognormal"
    version = "1"

    def _target(self, state: EventState) -> PricedTarget:
        t = read_target(state, from_state, "price-target")
        if not (t.spot > 0 and t.sigma >= 0 and math.isfinite(t.sigma)):
            raise StateNotModelable(f"{state.event_id}: spot {t.spot} / sigma {t.sigma} unusable")
        return t

    def p_yes(self, state: EventState) -> float:
        return bounded(state, p_yes(self._target(state), state.ts))
