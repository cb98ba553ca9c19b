"""Baseball base-out model: RE24 against a published table, limits, ESPN game, properties."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable, UnknownLeague
from streams.probability.baseball import PARAMS_FILE, BaseballModel, half_inning_runs, load_params, run_expectancy

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "probability"
MODEL = BaseballModel("mlb")
REFERENCE_MASKS = [0, 1, 2, 4, 3, 5, 6, 7]  # rows of the reference table as base bitmasks


def state(**kw: object) -> EventState:
    features = dict(kw.pop("features", {}))  # type: ignore[arg-type]
    base: dict[str, object] = dict(state_id="s", event_id="e", ts=0, league="mlb", status=EventStatus.LIVE, period=1)
    base.update(kw)
    base["features"] = {"half": 0.0, "outs": 0.0, **features}
    return EventState(**base)  # type: ignore[arg-type]


def american(ml: float) -> float:
    return -ml / (-ml + 100) if ml < 0 else 100 / (ml + 100)


# --------------------------------------------------------------- the chain


def test_half_inning_distributions_are_proper() -> None:
    d = half_inning_runs(load_params(), 1.0)
    np.testing.assert_allclose(d.sum(axis=1), 1.0, atol=1e-9)
    # About 70-74% of MLB half-innings are scoreless.
    assert 0.68 < d[0, 0] < 0.76


def test_re24_matches_published_table_in_shape() -> None:
    """The chain's RE24 follows the empirical Retrosheet matrix cell by cell.

    The reference comes from a higher-scoring era (0.539 runs from 0 outs, bases
    empty vs 0.47 in 2006-2023), so cells are compared after scaling by the
    ratio of the two tables' totals.
    """
    ref_block = json.loads(PARAMS_FILE.read_text())["re24_reference"]
    ref = np.array(ref_block["table"])  # rows: bases in reference order, cols: outs
    re = run_expectancy(load_params())
    ours = np.array([[re[o * 8 + m] for o in range(3)] for m in REFERENCE_MASKS])
    scaled = ours * ref.sum() / ours.sum()
    rel = np.abs(scaled - ref) / ref
    assert rel.max() < 0.12
    # Ordering facts: more outs -> fewer runs; runner on third worth more than on first.
    assert np.all(np.diff(ours, axis=1) < 0)
    assert re[4] > re[2] > re[1] > re[0]


# ------------------------------------------------------------------ limits


def test_final_from_scores() -> None:
    assert MODEL.probabilities(state(status=EventStatus.FINAL, period=9, score_a=5, score_b=4)) == {"a": 1.0, "b": 0.0}
    assert MODEL.probabilities(state(status=EventStatus.FINAL, period=9, score_a=1, score_b=4)) == {"a": 0.0, "b": 1.0}
    with pytest.raises(StateNotModelable):
        MODEL.probabilities(state(status=EventStatus.FINAL, period=9, score_a=3, score_b=3))


def test_tied_at_start_equals_prior() -> None:
    for p0 in (0.35, 0.5, 0.6, 0.7):
        s = state(status=EventStatus.SCHEDULED, period=0, features={"p_pregame_a": p0})
        assert MODEL.probabilities(s)["a"] == pytest.approx(p0, abs=2e-3)
    # Without a price: MLB home win share 2006-2023 (0.5376).
    assert MODEL.probabilities(state(status=EventStatus.SCHEDULED, period=0))["a"] == pytest.approx(0.5376, abs=2e-3)


def test_end_of_game_situations() -> None:
    # Home leads after the top of the ninth: game over.
    done = state(period=9, score_a=3, score_b=2, features={"half": 0, "outs": 3})
    assert MODEL.probabilities(done)["a"] == pytest.approx(P_MAX)
    # Away leads by one, two outs, nobody on, bottom ninth: a long shot.
    p = MODEL.probabilities(state(period=9, score_a=2, score_b=3, features={"half": 1, "outs": 2}))["a"]
    assert 0.02 < p < 0.08
    # Bases loaded, same situation: much better.
    loaded = state(period=9, score_a=2, score_b=3, features={"half": 1, "outs": 2, "on_first": 1, "on_second": 1, "on_third": 1})
    assert MODEL.probabilities(loaded)["a"] > 2 * p


def test_extra_innings_start_with_runner_on_second() -> None:
    tied_after_nine = state(period=9, score_a=3, score_b=3, features={"half": 1, "outs": 3})
    explicit = state(period=10, score_a=3, score_b=3, features={"half": 0, "outs": 0, "on_second": 1})
    assert MODEL.probabilities(tied_after_nine)["a"] == pytest.approx(MODEL.probabilities(explicit)["a"], abs=1e-12)
    # Batting last is worth something in a tied extra inning.
    assert 0.5 < MODEL.probabilities(explicit)["a"] < 0.6


def test_espn_game_per_play_difference() -> None:
    """Real game CHW at DET (2026-06-21): per-play MAE from ESPN's WP must stay <= 0.05."""
    meta = json.loads((FIXTURES / "espn_games_meta.json").read_text())["mlb"]["pregame_odds"]
    ph, pa = american(meta["moneyline_home"]), american(meta["moneyline_away"])
    p0 = ph / (ph + pa)
    rows = list(csv.DictReader((FIXTURES / "espn_mlb_401815839_winprob.csv").open()))
    states = [
        state(
            state_id=r["seq"],
            status=EventStatus.FINAL if i == len(rows) - 1 else EventStatus.LIVE,
            period=int(r["inning"]),
            score_a=int(r["home_score"]),
            score_b=int(r["away_score"]),
            features={
                "p_pregame_a": p0,
                "half": 0.0 if r["half"] == "Top" else 1.0,
                "outs": float(r["outs_after_play"]),
                "on_first": float(r["on_first_after_play"]),
                "on_second": float(r["on_second_after_play"]),
                "on_third": float(r["on_third_after_play"]),
            },
        )
        for i, r in enumerate(rows)
    ]
    ours = MODEL.probabilities_batch(states)[:, 0]
    espn = np.array([float(r["espn_home_win_pct"]) for r in rows])
    mae = float(np.mean(np.abs(ours - espn)))
    assert len(rows) == 79
    assert mae <= 0.05
    assert ours[-1] == 1.0  # walk-off final


def test_errors_are_explicit() -> None:
    with pytest.raises(UnknownLeague):
        BaseballModel("npb")
    with pytest.raises(StateNotModelable):
        MODEL.probabilities(state(status=EventStatus.SCHEDULED, period=0, features={"p_pregame_a": 0.995}))
    bare = EventState(state_id="s", event_id="e", ts=0, league="mlb", status=EventStatus.LIVE, period=3)
    with pytest.raises(StateNotModelable):
        MODEL.probabilities(bare)


# -------------------------------------------------------------- properties

situations = st.tuples(
    st.integers(1, 11),  # inning
    st.integers(0, 1),  # half
    st.integers(0, 2),  # outs
    st.integers(0, 7),  # bases bitmask
    st.integers(-6, 6),  # home lead
    st.floats(0.25, 0.75),  # pregame
)


def situation(inning: int, half: int, outs: int, bases: int, lead: int, p0: float) -> EventState:
    bases = bases | (2 if inning > 9 and bases == 0 else 0)
    return state(
        period=inning,
        score_a=max(lead, 0) + 2,
        score_b=max(-lead, 0) + 2,
        features={
            "p_pregame_a": p0,
            "half": float(half),
            "outs": float(outs),
            "on_first": float(bases & 1),
            "on_second": float(bases >> 1 & 1),
            "on_third": float(bases >> 2 & 1),
        },
    )


@settings(max_examples=80, deadline=None)
@given(situations)
def test_bounds_and_sum(sit: tuple[int, int, int, int, int, float]) -> None:
    row = MODEL.probabilities_batch([situation(*sit)])[0]
    assert np.all(row >= P_MIN) and np.all(row <= P_MAX)
    assert row.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(situations)
def test_monotone_in_home_lead(sit: tuple[int, int, int, int, int, float]) -> None:
    inning, half, outs, bases, lead, p0 = sit
    lo = MODEL.probabilities(situation(inning, half, outs, bases, lead, p0))["a"]
    hi = MODEL.probabilities(situation(inning, half, outs, bases, lead + 1, p0))["a"]
    assert hi >= lo - 1e-9


@settings(max_examples=80, deadline=None)
@given(situations)
def test_outs_help_the_fielding_side(sit: tuple[int, int, int, int, int, float]) -> None:
    """One more out (time running out for the batting side) never helps the batting side."""
    inning, half, outs, bases, lead, p0 = sit
    if outs == 2:
        outs = 1
    p_now = MODEL.probabilities(situation(inning, half, outs, bases, lead, p0))["a"]
    p_next = MODEL.probabilities(situation(inning, half, outs + 1, bases, lead, p0))["a"]
    batting_home = half == 1
    assert (p_next <= p_now + 1e-9) if batting_home else (p_next >= p_now - 1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 5), st.floats(0.3, 0.5))
def test_leader_gains_with_each_inning(inning: int, lead: int, p0: float) -> None:
    """Time running out helps a leader who is not the stronger side (a stronger one may gain from time)."""
    early = MODEL.probabilities(situation(inning, 0, 0, 0, lead, p0))["a"]
    late = MODEL.probabilities(situation(inning + 1, 0, 0, 0, lead, p0))["a"]
    assert late >= early - 1e-9


def test_batch_equals_scalar() -> None:
    rng = np.random.default_rng(11)
    states = [
        situation(int(rng.integers(1, 12)), int(rng.integers(0, 2)), int(rng.integers(0, 3)), int(rng.integers(0, 8)),
                  int(rng.integers(-4, 5)), float(rng.uniform(0.3, 0.7)))
        for _ in range(60)
    ]
    states.append(state(status=EventStatus.SCHEDULED, period=0))
    states.append(state(status=EventStatus.FINAL, period=9, score_a=0, score_b=1))
    batch = MODEL.probabilities_batch(states)
    scalar = np.array([[MODEL.probabilities(s)["a"], MODEL.probabilities(s)["b"]] for s in states])
    np.testing.assert_allclose(batch, scalar, rtol=0, atol=1e-12)
