"""Football model: limits, properties (hypothesis), batch == scalar, and the recorded reference states."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from ops.models.derive_football import PARAMS_PATH, Game, derive, running_records
from ops.models.reference_states import NFL_SCOREBOARDS, nfl_espn_live, nflfastr_kickoffs
from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable, UnknownLeague
from streams.probability.football import FootballModel, expected_points, load_football_params

NFL = FootballModel("nfl")


def state(
    margin: int = 0,
    period: int = 1,
    clock: float | None = 900.0,
    spread: float | None = -3.0,
    status: EventStatus = EventStatus.LIVE,
    possession: str | None = "a",
    yard_line: int | None = 25,
    down: int | None = 1,
    distance: int | None = 10,
    league: str = "nfl",
    **features: float,
) -> EventState:
    return EventState(
        state_id="s", event_id="e", ts=0, league=league, status=status,
        score_a=20 + max(margin, 0), score_b=20 - min(margin, 0), period=period, clock_seconds=clock,
        possession=possession, down=down, distance=distance, yard_line=yard_line, spread_a=spread,
        features={"timeouts_a": 3.0, "timeouts_b": 3.0, **features},
    )


def p_home(s: EventState, model: FootballModel = NFL) -> float:
    return model.probabilities(s)["a"]


def test_lead_at_the_final_whistle_is_certain() -> None:
    assert NFL.probabilities(state(margin=3, period=4, clock=0.0, status=EventStatus.FINAL)) == {"a": 1.0, "b": 0.0}
    assert p_home(state(margin=1, period=4, clock=0.0, possession=None)) == pytest.approx(P_MAX)


def test_tied_at_kickoff_is_the_spread_prior() -> None:
    p = load_football_params()["nfl"]
    for spread in (-10.0, -3.0, 0.0, 7.0):
        got = p_home(state(spread=spread, status=EventStatus.SCHEDULED, period=0, possession=None))
        assert got == pytest.approx(float(ndtr(-spread / p.sigma)), abs=0.005)


def test_matches_nflfastr_reference_kickoffs() -> None:
    """nflfastR vegas_wp for home 1st & 10 at own 25 with spreads 1..14 (data/sports_ingame)."""
    refs = nflfastr_kickoffs()
    ours = NFL.probabilities_batch([r.state for r in refs])[:, 0]
    np.testing.assert_allclose(ours, [r.home_prob for r in refs], atol=0.04)
    assert np.all(np.diff(ours) > 0)


def test_expected_points_curve_follows_the_nflfastr_table() -> None:
    p = NFL.params
    ep = expected_points(p, np.array([75.0, 50.0, 10.0, 50.0, 50.0]), np.array([1, 1, 1, 3, 4]), np.array([10.0] * 5))
    assert ep[0] == pytest.approx(1.1, abs=0.35)  # own 25
    assert ep[1] == pytest.approx(2.5, abs=0.3)  # midfield
    assert ep[2] == pytest.approx(5.0, abs=0.3)  # opponent 10
    assert ep[3] == pytest.approx(1.3, abs=0.3) and ep[4] < ep[3]  # 3rd & 10 at 50, 4th down below it


def test_field_position_down_and_possession_move_the_right_way() -> None:
    late: dict[str, Any] = dict(margin=-3, period=4, clock=120.0)
    assert p_home(state(yard_line=90, **late)) > p_home(state(yard_line=50, **late)) > p_home(state(yard_line=10, **late))
    assert p_home(state(yard_line=60, down=1, **late)) > p_home(state(yard_line=60, down=4, distance=10, **late))
    assert p_home(state(possession="a", **late)) > p_home(state(possession=None, **late)) > p_home(
        state(possession="b", yard_line=75, **late)
    )


def test_timeouts_help_the_trailing_team_late() -> None:
    base = dict(margin=-4, period=4, clock=90.0, possession="b", yard_line=70)
    assert p_home(state(**base, timeouts_a=3.0)) > p_home(state(**base, timeouts_a=0.0))


def test_records_prior_when_the_live_feed_has_no_odds() -> None:
    strong_home = state(spread=None, status=EventStatus.SCHEDULED, period=0, possession=None,
                        record_wins_a=10, record_losses_a=2, record_wins_b=2, record_losses_b=10)
    assert p_home(strong_home) > 0.75
    assert p_home(state(spread=-3.0, status=EventStatus.SCHEDULED, period=0, possession=None,
                        record_wins_a=2, record_losses_a=10, record_wins_b=10, record_losses_b=2)) > 0.5


def test_tie_at_end_of_regulation_goes_to_an_overtime_near_coinflip() -> None:
    fav = p_home(state(margin=0, period=4, clock=0.0, spread=-7.0, possession=None))
    assert 0.5 < fav < 0.7


def test_errors_are_typed() -> None:
    with pytest.raises(UnknownLeague):
        FootballModel("cfl")
    with pytest.raises(UnknownLeague):
        NFL.probabilities(state(league="ncaaf"))
    with pytest.raises(StateNotModelable):
        NFL.probabilities(state(clock=None))
    with pytest.raises(StateNotModelable):
        NFL.probabilities(state(yard_line=None))
    with pytest.raises(StateNotModelable):
        NFL.probabilities(state(status=EventStatus.CANCELED))


def test_ncaaf_untimed_overtime_is_priced() -> None:
    model = FootballModel("ncaaf")
    p = p_home(state(margin=0, period=5, clock=None, league="ncaaf", spread=-3.0), model)
    assert 0.5 < p < 0.8


live = st.builds(
    state,
    margin=st.integers(-35, 35),
    period=st.integers(1, 5),
    clock=st.floats(0.0, 900.0),
    spread=st.one_of(st.none(), st.floats(-20.0, 20.0)),
    possession=st.sampled_from([None, "a", "b"]),
    yard_line=st.integers(1, 99),
    down=st.one_of(st.none(), st.integers(-1, 4)),
    distance=st.integers(1, 30),
)


@settings(max_examples=200, deadline=None)
@given(live)
def test_bounds_and_sum(s: EventState) -> None:
    probs = NFL.probabilities(s)
    assert P_MIN <= probs["a"] <= P_MAX and probs["a"] + probs["b"] == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(-30, 29), st.integers(1, 4), st.floats(0.0, 900.0), st.sampled_from([None, "a", "b"]), st.integers(1, 99))
def test_monotone_in_margin(margin: int, period: int, clock: float, possession: str | None, yard: int) -> None:
    kw = dict(period=period, clock=clock, possession=possession, yard_line=yard)
    assert p_home(state(margin=margin + 1, **kw)) >= p_home(state(margin=margin, **kw))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(1, 4), st.floats(1.0, 899.0))
def test_leader_gains_as_time_runs_out(lead: int, period: int, clock: float) -> None:
    kw = dict(margin=lead, period=period, spread=0.0, possession=None, neutral_site=1.0)
    assert p_home(state(clock=clock - 1.0, **kw)) >= p_home(state(clock=clock, **kw))


def test_batch_equals_scalar_on_recorded_states() -> None:
    states = [r.state for r in nfl_espn_live() + nflfastr_kickoffs()]
    batch = NFL.probabilities_batch(states)
    scalar = np.array([[NFL.probabilities(s)["a"], NFL.probabilities(s)["b"]] for s in states])
    np.testing.assert_allclose(batch, scalar, rtol=0, atol=1e-12)


def test_live_espn_states_are_read_as_the_live_system_sees_them() -> None:
    refs = {r.label: r for r in nfl_espn_live()}
    assert len(refs) == 9
    den = refs["DEN @ WSH"].state  # DEN (away) 1st & 10 at its own 20, ESPN yardLine 80 from the home goal
    assert (den.possession, den.yard_line, den.period, den.clock_seconds) == ("b", 20, 4, 522.0)
    ours = NFL.probabilities(den)["a"]
    assert abs(ours - refs["DEN @ WSH"].home_prob) < 0.12 and ours < 0.5


# ------------------------------------------------ records, neutral site, timeouts

KICKOFF: dict[str, Any] = dict(spread=None, status=EventStatus.SCHEDULED, period=0, possession=None)


def test_record_prior_at_kickoff_carries_its_own_uncertainty() -> None:
    """P = Phi(mu / sqrt(sigma^2 + record_prior_sd^2)): the record prior is a noisy guess at the market's."""
    p = NFL.params
    k = p.record_shrink_games
    rec: dict[str, Any] = dict(record_wins_a=9.0, record_losses_a=3.0, record_wins_b=4.0, record_losses_b=8.0)
    mu = p.record_intercept + p.record_slope * ((9 + k / 2) / (12 + k) - (4 + k / 2) / (12 + k))
    expected = float(ndtr(mu / np.hypot(p.sigma, p.record_prior_sd)))
    assert p_home(state(**KICKOFF, **rec)) == pytest.approx(expected, abs=0.004)  # tie mass settled in OT
    # the market's spread of the same size is more sure than the records
    assert p_home(state(**{**KICKOFF, "spread": -mu})) > p_home(state(**KICKOFF, **rec))


def test_a_tie_counts_half_a_win() -> None:
    with_tie = state(**KICKOFF, record_wins_a=8, record_losses_a=3, record_ties_a=1, record_wins_b=6, record_losses_b=6)
    halves = state(**KICKOFF, record_wins_a=8.5, record_losses_a=3.5, record_wins_b=6, record_losses_b=6)
    assert p_home(with_tie) == pytest.approx(p_home(halves), abs=1e-12)
    assert p_home(with_tie) > p_home(state(**KICKOFF, record_wins_a=8, record_losses_a=4, record_wins_b=6, record_losses_b=6))


def test_neutral_site_removes_the_home_edge() -> None:
    even: dict[str, Any] = dict(record_wins_a=6, record_losses_a=6, record_wins_b=6, record_losses_b=6)
    assert p_home(state(**KICKOFF, **even, neutral_site=1.0)) == pytest.approx(0.5, abs=1e-9)
    assert p_home(state(**KICKOFF, **even, neutral_site=0.0)) > 0.55
    assert p_home(state(**KICKOFF, neutral_site=1.0)) == pytest.approx(0.5, abs=1e-9)  # no records either


def test_first_half_timeouts_do_not_carry_to_the_end_of_the_game() -> None:
    """Timeouts reset at halftime: before it they buy no end-game clock; late in the 4th they do."""
    first_half: dict[str, Any] = dict(margin=-4, period=2, clock=90.0, possession="b", yard_line=70)
    assert p_home(state(**first_half, timeouts_a=3.0)) == p_home(state(**first_half, timeouts_a=0.0))
    late: dict[str, Any] = dict(margin=-4, period=4, clock=90.0, possession="b", yard_line=70)
    assert p_home(state(**late, timeouts_a=3.0)) - p_home(state(**late, timeouts_a=0.0)) > 0.01


def test_normalized_scoreboard_states_price_like_the_reference_states() -> None:
    """The live system's states (ESPN normalizer) carry records and timeouts, and price as the references do."""
    refs = {r.state.event_id: r for r in nfl_espn_live()}
    nfl = league("nfl")
    live = [
        s for path in NFL_SCOREBOARDS for s in scoreboard_states(nfl, json.loads(path.read_text()), 0).states
        if "espn_home_wp" in s.features and s.status is EventStatus.LIVE
    ]
    assert len(live) == 9
    for s in live:
        ref = refs[s.event_id.rsplit(":", 1)[1]]
        assert s.features["espn_home_wp"] == ref.home_prob
        assert NFL.probabilities(s)["a"] == pytest.approx(NFL.probabilities(ref.state)["a"], abs=1e-12)
    buf = next(s for s in live if s.entity_a_abbr == "BUF")  # 8-4 home vs 4-8: the record prior favours BUF
    assert NFL._record_margin([buf])[0] > NFL.params.record_intercept


def test_running_records_count_only_earlier_regular_season_games() -> None:
    games = [
        Game("2020", "KC", "HOU", 14.0, True, False, 1.0, np.nan),
        Game("2020", "HOU", "KC", -3.0, True, False, 0.0, np.nan),
        Game("2020", "KC", "BUF", 0.0, True, False, 0.5, np.nan),
        Game("2020", "KC", "HOU", 7.0, False, False, 1.0, np.nan),  # playoff: neither counted nor scored
        Game("2021", "HOU", "KC", 3.0, True, False, 1.0, np.nan),  # new season starts at 0-0
    ]
    rows = running_records(games)
    np.testing.assert_array_equal(rows.records, [
        [0, 0, 0, 0, 0, 0],
        [0, 1, 0, 1, 0, 0],  # HOU 0-1, KC 1-0
        [2, 0, 0, 0, 0, 0],  # KC 2-0, BUF 0-0
        [0, 0, 0, 0, 0, 0],
    ])
    assert rows.diff(8.0)[2] == pytest.approx((2 + 4) / (2 + 8) - 0.5)


def test_params_file_is_what_the_derivation_writes_and_uses_no_espn_state() -> None:
    params = json.loads(PARAMS_PATH.read_text())
    assert derive() == params
    nfl = params["nfl"]
    assert "no ESPN state is used" in nfl["source"] and nfl["ingame_fit"].startswith("nflfastR")
    assert nfl["record_heldout_brier"] < nfl["record_heldout_base_brier"]  # the record prior beats the base rate out of sample
    lo, hi = nfl["ingame_ratio_flat_range"]
    assert lo <= nfl["ingame_sigma_ratio"] <= hi


def test_bench_scores_the_states_the_normalizer_produces() -> None:
    from bench.models import nfl_espn_live as bench_live

    ours = {r.label: r for r in bench_live()}
    refs = {r.label: r for r in nfl_espn_live()}
    assert set(ours) == set(refs) and len(ours) == 9
    for label, r in ours.items():
        assert r.home_prob == refs[label].home_prob and r.elapsed_seconds == refs[label].elapsed_seconds
        assert {"record_wins_a", "record_losses_b", "timeouts_a", "timeouts_b", "neutral_site"} <= set(r.state.features)
