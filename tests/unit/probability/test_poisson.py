"""Hockey and soccer Poisson model: limits, prior, three-way draw, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable, UnknownLeague
from streams.probability.poisson import PoissonModel, load_params

NHL = PoissonModel("nhl")
NHL_REG = PoissonModel("nhl", regulation_only=True)
EPL = PoissonModel("epl")
MLS = PoissonModel("mls")


def state(league: str = "nhl", **kw: object) -> EventState:
    base: dict[str, object] = dict(
        state_id="s", event_id="e", ts=0, league=league, status=EventStatus.LIVE, period=1, clock_seconds=1200.0
    )
    base.update(kw)
    return EventState(**base)  # type: ignore[arg-type]


def soccer(**kw: object) -> EventState:
    kw.setdefault("clock_seconds", 2700.0)
    return state("epl", **kw)


# ------------------------------------------------------------- limits


def test_home_lead_at_final_whistle_is_certain() -> None:
    final = state(status=EventStatus.FINAL, period=3, clock_seconds=0.0, score_a=3, score_b=2)
    assert NHL.probabilities(final) == {"a": 1.0, "b": 0.0}
    assert EPL.probabilities(soccer(status=EventStatus.FINAL, score_a=0, score_b=1)) == {"a": 0.0, "b": 1.0, "draw": 0.0}
    assert EPL.probabilities(soccer(status=EventStatus.FINAL, score_a=2, score_b=2))["draw"] == 1.0


def test_lead_with_no_time_left_reaches_the_bound() -> None:
    p = NHL.probabilities(state(period=3, clock_seconds=0.0, score_a=2, score_b=1))
    assert p["a"] == pytest.approx(P_MAX)


def test_hockey_final_tie_without_winner_is_not_guessed() -> None:
    with pytest.raises(StateNotModelable):
        NHL.probabilities(state(status=EventStatus.FINAL, period=4, score_a=2, score_b=2))
    # With the shootout winner recorded the tie settles.
    won = state(status=EventStatus.FINAL, period=5, score_a=2, score_b=2, winner="b")
    assert NHL.probabilities(won) == {"a": 0.0, "b": 1.0}


def test_tied_at_start_equals_market_prior() -> None:
    for p0 in (0.3, 0.5, 0.62, 0.8):
        assert NHL.probabilities(state(features={"p_pregame_a": p0}))["a"] == pytest.approx(p0, abs=1e-3)
        assert EPL.probabilities(soccer(features={"p_pregame_a": p0}))["a"] == pytest.approx(p0, abs=1e-3)


def test_no_price_starts_from_fitted_home_rate() -> None:
    # NHL 2020-21..2023-24 regular season home win share is 0.5337 (fit_poisson.py).
    assert NHL.probabilities(state(status=EventStatus.SCHEDULED, period=0))["a"] == pytest.approx(0.534, abs=0.006)


def test_fitted_rates_reproduce_observed_final_goals() -> None:
    # Observed means (incl. OT/shootout goal) on those games: home 3.223, away 2.995.
    prm = load_params()["nhl"]
    lam_h, lam_a = prm.home_rate, prm.away_rate
    grid = np.arange(20)
    ph, pa = poisson.pmf(grid, lam_h), poisson.pmf(grid, lam_a)
    p_tie = float(ph @ pa)
    q = lam_h / (lam_h + lam_a)
    assert lam_h + p_tie * q == pytest.approx(3.223, abs=0.002)
    assert lam_a + p_tie * (1 - q) == pytest.approx(2.995, abs=0.002)


def test_soccer_three_way_sums_and_draw_value() -> None:
    p = EPL.probabilities(soccer(features={"p_pregame_a": 0.45}))
    assert set(p) == {"a", "b", "draw"}
    assert sum(p.values()) == pytest.approx(1.0)
    assert 0.2 < p["draw"] < 0.32  # EPL draw rate is about a quarter of matches
    # Level with a minute left: the draw dominates.
    late = EPL.probabilities(soccer(period=2, clock_seconds=60.0, score_a=1, score_b=1))
    assert late["draw"] > 0.9


def test_mls_has_larger_home_edge_than_epl() -> None:
    s = soccer(status=EventStatus.SCHEDULED, period=0)
    assert MLS.probabilities(s)["a"] > EPL.probabilities(s)["a"]


def test_hockey_regulation_view_and_overtime() -> None:
    p2 = NHL.probabilities(state(features={"p_pregame_a": 0.55}))
    p3 = NHL_REG.probabilities(state(features={"p_pregame_a": 0.55}))
    assert NHL_REG.outcomes(state()) == ("a", "b", "draw")
    assert p3["a"] < p2["a"] and p3["draw"] > 0.15
    # The two views agree once the overtime split of the draw is added back.
    q = float(NHL.overtime_home(NHL.strength(np.array([0.55])))[0])
    assert p3["a"] + q * p3["draw"] == pytest.approx(p2["a"], abs=1e-3)
    ot = state(period=4, clock_seconds=200.0, score_a=3, score_b=3, features={"p_pregame_a": 0.6})
    assert NHL.probabilities(ot)["a"] == pytest.approx(float(NHL.overtime_home(NHL.strength(np.array([0.6])))[0]), abs=1e-3)
    assert NHL_REG.probabilities(ot) == {"a": 0.0, "b": 0.0, "draw": 1.0}
    ended_ot = state(status=EventStatus.FINAL, period=4, score_a=4, score_b=3)
    assert NHL_REG.probabilities(ended_ot)["draw"] == 1.0


def test_errors_are_explicit() -> None:
    with pytest.raises(UnknownLeague):
        PoissonModel("khl")
    with pytest.raises(StateNotModelable):
        NHL.probabilities(state(clock_seconds=None))
    with pytest.raises(StateNotModelable):
        EPL.probabilities(soccer(period=3, clock_seconds=100.0))


# ------------------------------------------------------------- properties

MODELS = [NHL, NHL_REG, EPL, MLS]
leads = st.integers(min_value=-5, max_value=5)
priors = st.floats(min_value=0.05, max_value=0.95)


def live(model: PoissonModel, period: int, clock: float, lead: int, p0: float) -> EventState:
    prm = model.params
    return state(
        league=model.league,
        period=min(period, prm.periods),
        clock_seconds=min(clock, prm.period_seconds),
        score_a=max(lead, 0) + 1,
        score_b=max(-lead, 0) + 1,
        features={"p_pregame_a": p0},
    )


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(MODELS), st.integers(1, 3), st.floats(0, 2700), leads, priors)
def test_bounds_and_sum(model: PoissonModel, period: int, clock: float, lead: int, p0: float) -> None:
    row = model.probabilities_batch([live(model, period, clock, lead, p0)])[0]
    assert np.all(row >= P_MIN) and np.all(row <= P_MAX)
    assert row.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(MODELS), st.integers(1, 3), st.floats(0, 2700), leads, priors)
def test_monotone_in_lead(model: PoissonModel, period: int, clock: float, lead: int, p0: float) -> None:
    lo = model.probabilities(live(model, period, clock, lead, p0))["a"]
    hi = model.probabilities(live(model, period, clock, lead + 1, p0))["a"]
    assert hi >= lo - 1e-12


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(MODELS), st.floats(0, 2700), st.floats(0, 2700), st.integers(1, 4), st.floats(0.05, 0.5))
def test_leader_gains_as_time_runs_out(model: PoissonModel, c1: float, c2: float, lead: int, p0: float) -> None:
    """Less time left never hurts a leader who is not the stronger side."""
    prm = model.params
    early, late = sorted((min(c1, prm.period_seconds), min(c2, prm.period_seconds)), reverse=True)
    p_early = model.probabilities(live(model, prm.periods, early, lead, p0))["a"]
    p_late = model.probabilities(live(model, prm.periods, late, lead, p0))["a"]
    assert p_late >= p_early - 1e-12


def test_batch_equals_scalar() -> None:
    rng = np.random.default_rng(7)
    for model in MODELS:
        states = [
            live(model, int(rng.integers(1, 4)), float(rng.uniform(0, 2700)), int(rng.integers(-3, 4)), float(rng.uniform(0.1, 0.9)))
            for _ in range(40)
        ]
        states.append(state(league=model.league, status=EventStatus.FINAL, period=2, score_a=2, score_b=0))
        batch = model.probabilities_batch(states)
        scalar = np.array([[model.probabilities(s)[o] for o in model.outcomes(s)] for s in states])
        np.testing.assert_allclose(batch, scalar, rtol=0, atol=1e-12)
