"""bench.models helpers: scoring, devig, results merge, and the tip-off prior on real games."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.models import calibration, espn_game, merge_results, recorded_summaries, score, tipoff_states
from schemas.enums import EventStatus
from ops.models.margins import PregameGames, load_pregame
from streams.probability.basketball import BasketballModel
from streams.probability.football import FootballModel


def test_the_bench_prices_what_the_connector_read_from_the_recorded_games() -> None:
    """The ESPN figures come from the connector's states: the prior and situation are the normalizer's, not the bench's."""
    games = {lg: espn_game(raw) for lg, raw in recorded_summaries().items()}
    nba, mlb = games["nba"], games["mlb"]
    assert (len(nba.states), len(mlb.states)) == (498, 79)  # every NBA play, every MLB plate appearance
    assert all(s.status is EventStatus.LIVE and s.features["prior_from:line:espn-provider-100"] == 1.0 for s in nba.states + mlb.states)
    assert nba.states[0].spread_a == -2.5 and nba.states[0].features["p_pregame_a"] == pytest.approx(0.5514, abs=1e-4)  # NY -135 / SA +114
    assert mlb.states[0].features["p_pregame_a"] == pytest.approx(0.5205, abs=1e-4)  # DET -120 / CHW -101
    assert all({"half", "outs", "on_first", "on_second", "on_third"} <= s.features.keys() for s in mlb.states)
    assert mlb.espn[0] == 0.543 and mlb.espn[-1] == 1.0  # ESPN after Antonacci's fly out; after the walk-off


def test_score_of_known_forecasts() -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    half = score(np.full(4, 0.5), y)
    assert half.brier == pytest.approx(0.25) and half.logloss == pytest.approx(np.log(2))
    assert score(np.array([0.9, 0.1, 0.9, 0.1]), y).brier == pytest.approx(0.01)


def test_calibration_deciles_split_the_forecasts() -> None:
    p = np.linspace(0.01, 0.99, 1000)
    px, py = calibration(p, (p > 0.5).astype(float))
    assert len(px) == 10 and np.all(np.diff(px) > 0) and py[0] == 0.0 and py[-1] == 1.0


def test_merge_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"shard.quotes_per_s": 1234.0, "models.nba.brier": 0.3}))
    merge_results({"models.nba.brier": 0.2034, "models.nba.games": 20361}, path)
    assert json.loads(path.read_text()) == {"shard.quotes_per_s": 1234.0, "models.nba.brier": 0.2034, "models.nba.games": 20361}


@pytest.mark.parametrize("league,model", [("nba", BasketballModel("nba")), ("nfl", FootballModel("nfl"))])
def test_tipoff_prior_starts_at_the_market(league: str, model: BasketballModel | FootballModel) -> None:
    """On 2,000 real games, our tip-off Brier is within 0.002 of the devigged market's."""
    full = load_pregame(league)
    sub = PregameGames(league, full.p_home[:2000], full.margin[:2000], full.home_win[:2000], full.total[:2000],
                       full.ml_home[:2000], full.ml_away[:2000])
    p = model.probabilities_batch(tipoff_states(league, sub))[:, 0]
    assert abs(score(p, sub.home_win).brier - score(sub.p_home, sub.home_win).brier) < 0.002
    assert np.corrcoef(p, sub.p_home)[0, 1] > 0.999
