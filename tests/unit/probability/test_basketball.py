"""Basketball model: limits, properties (hypothesis), batch == scalar, and the recorded ESPN game."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from bench.models import espn_game, recorded_summaries
from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable, UnknownLeague
from streams.probability.basketball import BasketballModel, load_basketball_params

NBA = BasketballModel("nba")


def state(
    margin: int = 0,
    period: int = 1,
    clock: float | None = 720.0,
    spread: float | None = -2.5,
    status: EventStatus = EventStatus.LIVE,
    possession: str | None = None,
    league: str = "nba",
    **features: float,
) -> EventState:
    return EventState(
        state_id="s", event_id="e", ts=0, league=league, status=status,
        score_a=100 + max(margin, 0), score_b=100 - min(margin, 0),
        period=period, clock_seconds=clock, possession=possession, spread_a=spread, features=dict(features),
    )


def p_home(s: EventState, model: BasketballModel = NBA) -> float:
    return model.probabilities(s)["a"]


def test_lead_at_the_final_buzzer_is_certain() -> None:
    assert NBA.probabilities(state(margin=1, period=4, clock=0.0, status=EventStatus.FINAL)) == {"a": 1.0, "b": 0.0}
    assert NBA.probabilities(state(margin=-3, period=5, clock=0.0, status=EventStatus.FINAL)) == {"a": 0.0, "b": 1.0}
    # still LIVE at 0.0 on the clock (the feed has not flipped to final yet): a lead is as good as won
    assert p_home(state(margin=2, period=4, clock=0.0)) == pytest.approx(P_MAX)


def test_tied_at_tipoff_is_the_spread_prior() -> None:
    p = load_basketball_params()["nba"]
    for spread in (-9.5, -2.5, 0.0, 4.0):
        got = p_home(state(spread=spread, status=EventStatus.SCHEDULED, period=0, clock=None))
        assert got == pytest.approx(float(ndtr(-spread / p.sigma)), abs=0.01)


def test_pregame_probability_feature_starts_the_game_there() -> None:
    got = p_home(state(spread=None, status=EventStatus.SCHEDULED, period=0, p_pregame_a=0.70))
    assert got == pytest.approx(0.70, abs=0.03)


def test_no_strength_information_uses_the_fitted_home_edge() -> None:
    home = p_home(state(spread=None, status=EventStatus.SCHEDULED, period=0))
    neutral = p_home(state(spread=None, status=EventStatus.SCHEDULED, period=0, neutral_site=1.0))
    assert 0.55 < home < 0.62 and neutral == pytest.approx(0.5, abs=1e-9)


def test_tie_at_end_of_regulation_is_an_overtime_near_coinflip_leaning_to_the_favourite() -> None:
    fav = p_home(state(margin=0, period=4, clock=0.0, spread=-6.0))
    dog = p_home(state(margin=0, period=4, clock=0.0, spread=6.0))
    assert 0.5 < fav < 0.65 and dog == pytest.approx(1 - fav, abs=1e-9)


def test_possession_is_worth_something_and_fades_at_the_buzzer() -> None:
    base = dict(margin=-1, period=4, clock=60.0)
    assert p_home(state(possession="a", **base)) > p_home(state(**base)) > p_home(state(possession="b", **base))


def test_overtime_uses_the_overtime_clock() -> None:
    assert p_home(state(margin=3, period=5, clock=10.0)) > p_home(state(margin=3, period=5, clock=290.0)) > 0.5


@pytest.mark.parametrize("league", ["wnba", "ncaab"])
def test_other_leagues_have_their_own_regulation(league: str) -> None:
    model = BasketballModel(league)
    half = 2 if league == "ncaab" else 4
    assert p_home(state(margin=4, period=half, clock=5.0, league=league), model) > 0.98
    assert model.params.regulation_seconds == 2400


def test_errors_are_typed() -> None:
    with pytest.raises(UnknownLeague):
        BasketballModel("euroleague")
    with pytest.raises(UnknownLeague):
        NBA.probabilities(state(league="wnba"))
    with pytest.raises(UnknownLeague):
        NBA.probabilities(EventState(state_id="s", event_id="e", ts=0, league="nba", market_type=MarketType.CRYPTO))
    with pytest.raises(StateNotModelable):
        NBA.probabilities(state(clock=None))
    with pytest.raises(StateNotModelable):
        NBA.probabilities(state(status=EventStatus.POSTPONED))
    with pytest.raises(StateNotModelable):
        NBA.probabilities(state(margin=0, period=4, clock=0.0, status=EventStatus.FINAL))


live = st.builds(
    state,
    margin=st.integers(-40, 40),
    period=st.integers(1, 6),
    clock=st.floats(0.0, 720.0),
    spread=st.one_of(st.none(), st.floats(-20.0, 20.0)),
    possession=st.sampled_from([None, "a", "b"]),
)


@settings(max_examples=200, deadline=None)
@given(live)
def test_bounds_and_sum(s: EventState) -> None:
    probs = NBA.probabilities(s)
    assert P_MIN <= probs["a"] <= P_MAX and probs["a"] + probs["b"] == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(-30, 29), st.integers(1, 4), st.floats(0.0, 720.0), st.floats(-15.0, 15.0))
def test_monotone_in_margin(margin: int, period: int, clock: float, spread: float) -> None:
    assert p_home(state(margin=margin + 1, period=period, clock=clock, spread=spread)) >= p_home(
        state(margin=margin, period=period, clock=clock, spread=spread)
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(1, 4), st.floats(1.0, 700.0))
def test_leader_gains_as_time_runs_out(lead: int, period: int, clock: float) -> None:
    """With an even matchup, less time left never hurts the leader."""
    earlier = p_home(state(margin=lead, period=period, clock=clock, spread=0.0, neutral_site=1.0))
    later = p_home(state(margin=lead, period=period, clock=clock - 1.0, spread=0.0, neutral_site=1.0))
    assert later >= earlier


def _recorded_game():  # type: ignore[no-untyped-def]
    """Every play of the recorded SA @ NY game as the ESPN connector reads it, with ESPN's probability."""
    return espn_game(recorded_summaries()["nba"])


def test_batch_equals_scalar_on_the_recorded_espn_game() -> None:
    states = _recorded_game().states
    batch = NBA.probabilities_batch(states)
    scalar = np.array([[NBA.probabilities(s)["a"], NBA.probabilities(s)["b"]] for s in states[::25]])
    np.testing.assert_allclose(batch[::25], scalar, rtol=0, atol=1e-12)


def test_tracks_espn_on_the_recorded_game() -> None:
    game = _recorded_game()
    ours = NBA.probabilities_batch(game.states)[:, 0]
    espn = game.espn
    assert len(game.states) == 498
    assert abs(ours[0] - 0.564) < 0.03  # NY -2.5 at tip-off
    assert float(np.mean(np.abs(ours - espn))) < 0.03
