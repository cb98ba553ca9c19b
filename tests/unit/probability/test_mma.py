"""MMA finish-hazard model: prior at the bell, drift toward the decision split, limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable, UnknownLeague
from streams.probability.mma import MMAModel, load_params

MODEL = MMAModel("ufc")


def fight(
    p0: float | None = 0.7,
    rnd: int = 1,
    clock: float | None = 300.0,
    rounds: int = 3,
    status: EventStatus = EventStatus.LIVE,
    winner: str | None = None,
) -> EventState:
    f = {"rounds_scheduled": float(rounds)}
    if p0 is not None:
        f["p_pregame_a"] = p0
    return EventState(
        state_id="s", event_id="e", ts=0, league="ufc", status=status, period=rnd,
        clock_seconds=clock, winner=winner, features=f,
    )


def elapsed_state(p0: float, rounds: int, elapsed: float) -> EventState:
    rnd = min(int(elapsed // 300) + 1, rounds)
    return fight(p0, rnd=rnd, clock=rnd * 300.0 - elapsed, rounds=rounds)


def test_hazards_reproduce_round_shares() -> None:
    prm = load_params()["ufc"]
    for n, share in prm.finish_share.items():
        h = prm.hazards(n)
        alive = np.cumprod(np.concatenate([[1.0], 1 - h[:-1]]))
        np.testing.assert_allclose(alive * h, share, atol=1e-12)
        assert 0.4 < sum(share) < 0.6  # about half of UFC bouts are finished


def test_prior_at_the_opening_bell() -> None:
    for p0 in (0.2, 0.5, 0.66, 0.9):
        for rounds in (3, 5):
            assert MODEL.probabilities(fight(p0, rounds=rounds))["a"] == pytest.approx(p0, abs=2e-4)
            sched = fight(p0, rnd=0, clock=None, rounds=rounds, status=EventStatus.SCHEDULED)
            assert MODEL.probabilities(sched)["a"] == pytest.approx(p0, abs=2e-4)


def test_final_from_winner_only() -> None:
    assert MODEL.probabilities(fight(status=EventStatus.FINAL, winner="a")) == {"a": 1.0, "b": 0.0}
    assert MODEL.probabilities(fight(status=EventStatus.FINAL, winner="b")) == {"a": 0.0, "b": 1.0}
    for w in (None, "draw"):
        with pytest.raises(StateNotModelable):
            MODEL.probabilities(fight(status=EventStatus.FINAL, winner=w))


def test_errors_are_explicit() -> None:
    with pytest.raises(UnknownLeague):
        MMAModel("bellator")
    with pytest.raises(StateNotModelable):
        MODEL.probabilities(fight(p0=None))
    with pytest.raises(StateNotModelable):
        MODEL.probabilities(fight(clock=None))
    with pytest.raises(StateNotModelable):
        MODEL.probabilities(fight(rnd=4, rounds=3))


def test_at_the_final_bell_it_is_the_decision_split() -> None:
    p_fin, p_dec = MODEL.split(np.array([0.75]), np.array([3]))
    end = MODEL.probabilities(fight(0.75, rnd=3, clock=0.0))["a"]
    assert end == pytest.approx(P_MIN + (1 - 2 * P_MIN) * p_dec[0], abs=1e-12)
    assert p_fin[0] > 0.75 > p_dec[0] > 0.5


@settings(max_examples=80, deadline=None)
@given(st.floats(0.05, 0.95), st.sampled_from([3, 5]), st.floats(0, 1500), st.floats(0, 1500))
def test_favourite_edge_shrinks_with_time(p0: float, rounds: int, t1: float, t2: float) -> None:
    lo, hi = sorted((min(t1, rounds * 300.0), min(t2, rounds * 300.0)))
    early = MODEL.probabilities(elapsed_state(p0, rounds, lo))["a"]
    late = MODEL.probabilities(elapsed_state(p0, rounds, hi))["a"]
    assert abs(late - 0.5) <= abs(early - 0.5) + 1e-12
    assert (late - 0.5) * (p0 - 0.5) >= -1e-12  # the favourite stays the favourite
    row = MODEL.probabilities_batch([elapsed_state(p0, rounds, hi)])[0]
    assert np.all(row >= P_MIN) and np.all(row <= P_MAX) and row.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 0.94), st.floats(0.001, 0.05), st.floats(0, 900))
def test_monotone_in_prior(p0: float, dp: float, elapsed: float) -> None:
    a = MODEL.probabilities(elapsed_state(p0, 3, elapsed))["a"]
    b = MODEL.probabilities(elapsed_state(p0 + dp, 3, elapsed))["a"]
    assert b >= a


def test_batch_equals_scalar() -> None:
    rng = np.random.default_rng(5)
    states = [elapsed_state(float(rng.uniform(0.1, 0.9)), int(rng.choice([3, 5])), float(rng.uniform(0, 900))) for _ in range(40)]
    states.append(fight(status=EventStatus.FINAL, winner="b"))
    batch = MODEL.probabilities_batch(states)
    scalar = np.array([[MODEL.probabilities(s)["a"], MODEL.probabilities(s)["b"]] for s in states])
    np.testing.assert_allclose(batch, scalar, rtol=0, atol=1e-12)
