"""The crypto model on target states: role "a" is the YES condition, time left from the state's own ts."""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.crypto.target import CryptoTarget, ResolutionRule, TargetKind, to_state
from streams.probability.base import StateNotModelable
from streams.probability.crypto import CryptoModel
from streams.probability.lognormal import p_above, p_between, p_touch, years
from streams.probability.registry import model_for

EXPIRY = 1_770_933_600_000  # 2026-02-12 22:00 UTC = 5 pm ET
RULE = ResolutionRule("cfbenchmarks:BRTI", 60)


def state(target: CryptoTarget, ts: int, spot: float = 72_000.0, sigma: float = 0.5, status: EventStatus = EventStatus.LIVE) -> EventState:
    return to_state(target, spot=spot, sigma=sigma, ts=ts, state_id="s", status=status)


def test_above_uses_time_to_the_averaging_window_midpoint() -> None:
    t = CryptoTarget("btc", TargetKind.ABOVE, EXPIRY, RULE, strike=72_749.99)
    now = EXPIRY - 5 * 3_600_000
    p = model_for(MarketType.CRYPTO, "btc").probabilities(state(t, now))
    assert p["a"] == pytest.approx(p_above(72_000.0, 72_749.99, 0.5, years(EXPIRY - now - 30_000)), abs=1e-12)
    assert p["a"] + p["b"] == pytest.approx(1.0)


def test_range_and_touch_states() -> None:
    now = EXPIRY - 3_600_000
    rng = CryptoTarget("btc", TargetKind.BETWEEN, EXPIRY, RULE, strike=71_500.0, strike_high=71_999.99)
    assert CryptoModel("btc").probabilities(state(rng, now))["a"] == pytest.approx(
        p_between(72_000.0, 71_500.0, 71_999.99, 0.5, years(EXPIRY - now - 30_000)), abs=1e-12
    )
    touch = CryptoTarget("btc", TargetKind.TOUCH, EXPIRY, ResolutionRule("binance:BTCUSDT", 0), strike=72_500.0)
    assert CryptoModel("btc").probabilities(state(touch, now))["a"] == pytest.approx(p_touch(72_000.0, 72_500.0, 0.5, years(EXPIRY - now)))


def test_up_down_before_and_after_the_window_opens() -> None:
    start = EXPIRY - 300_000
    up = CryptoTarget("btc", TargetKind.UP, EXPIRY, ResolutionRule("chainlink:btc-usd", 0), window_start_ts=start)
    before = CryptoModel("btc").probabilities(state(up, start - 60_000))["a"]
    assert before == pytest.approx(norm.cdf(-0.5 * 0.5 * math.sqrt(years(300_000))), abs=1e-12)
    opened = CryptoTarget("btc", TargetKind.UP, EXPIRY, up.rule, strike=71_900.0, window_start_ts=start)
    after = CryptoModel("btc").probabilities(state(opened, start + 60_000))["a"]  # 100 up with 4 minutes left
    assert after == pytest.approx(norm.cdf((math.log(72_000 / 71_900) - 0.125 * years(240_000)) / (0.5 * math.sqrt(years(240_000)))))
    with pytest.raises(StateNotModelable):
        CryptoModel("btc").probabilities(state(up, start + 1))


def test_final_state_is_the_indicator() -> None:
    t = CryptoTarget("btc", TargetKind.ABOVE, EXPIRY, RULE, strike=71_000.0)
    p = CryptoModel("btc").probabilities(state(t, EXPIRY, status=EventStatus.FINAL))
    assert p == {"a": 1.0, "b": 0.0}


def test_a_spot_state_is_not_modelable() -> None:
    spot = EventState(state_id="x", event_id="crypto:btc:usd:spot", ts=0, source="coingecko", market_type=MarketType.CRYPTO, league="btc", features={"price": 1.0})
    with pytest.raises(StateNotModelable):
        CryptoModel("btc").probabilities(spot)


def test_event_id_carries_the_resolution_rule() -> None:
    a = CryptoTarget("btc", TargetKind.ABOVE, EXPIRY, RULE, strike=72_749.99)
    b = CryptoTarget("btc", TargetKind.ABOVE, EXPIRY, ResolutionRule("binance:BTCUSDT", 0), strike=72_749.99)
    assert a.event_id == "crypto:btc:above-72749.99:20260212T220000Z:cfbenchmarks:BRTI/60s"
    assert a.event_id != b.event_id
