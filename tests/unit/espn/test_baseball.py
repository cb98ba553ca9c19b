"""MLB situation (half, outs, runners) from the recorded CHW @ DET game package, and the baseball model pricing it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from connectors.espn.baseball import from_scoreboard
from connectors.espn.errors import BadPayload
from connectors.espn.leagues import league
from connectors.espn.plays import play_states, summary
from connectors.espn.pregame import devig, prior_source
from schemas.enums import EventStatus
from streams.probability.baseball import BaseballModel
from tests.unit.espn.conftest import load

MLB = league("mlb")
MLB_GAME = "mlb_game_cdn_core_401815839.json"
FETCHED = 1782097659000  # replay_manifest.json: 2026-06-22T03:07:39Z
#: ESPN's per-plate-appearance table of the same game, extracted by others from the same payload (data/PROVENANCE.md).
WINPROB_CSV = Path(__file__).resolve().parents[3] / "data" / "sports_ingame" / "espn_mlb_401815839_winprob.csv"


@pytest.fixture(scope="module")
def game() -> dict:
    return load(MLB_GAME)


def test_the_mlb_summary_normalizes_with_its_moneyline_prior(game: dict) -> None:
    """Pick center "DET -120" is the moneyline favourite, not a 120-run spread; the prior is devigged from it."""
    sm = summary(MLB, game, FETCHED)
    assert sm.rejected == () and len(sm.plays) == 573
    s = sm.state
    assert (s.event_id, s.status, s.entity_a_abbr, s.entity_b_abbr, s.score_a, s.score_b, s.period, s.winner) == (
        "espn:mlb:401815839", EventStatus.FINAL, "DET", "CHW", 5, 4, 10, "a")
    assert (s.spread_a, s.total) == (1.5, 8.5)  # the run line as ESPN gives it
    assert s.features["moneyline_a"] == -120.0 and s.features["moneyline_b"] == -101.0
    assert s.features["p_pregame_a"] == pytest.approx(devig((-120.0, -101.0))[0]) == pytest.approx(0.520501, abs=1e-6)
    assert prior_source(s) == "line:espn-provider-100"
    # the last at-bat: Vierling's walk-off single, bottom 10th, nobody out, bases loaded after it
    assert {k: s.features[k] for k in ("half", "outs", "on_first", "on_second", "on_third")} == {
        "half": 1.0, "outs": 0.0, "on_first": 1.0, "on_second": 1.0, "on_third": 1.0}


def test_every_plate_appearance_has_espns_situation(game: dict) -> None:
    """After each at-bat: inning, half, outs, runners and score equal ESPN's own per-PA table of the game."""
    with WINPROB_CSV.open(newline="") as fh:
        rows = {r["at_bat_id"]: r for r in csv.DictReader(fh)}
    raw_by_id = {f"espn:mlb:401815839:{p['id']}": p for p in game["gamepackageJSON"]["plays"]}
    ends = [ps for ps in play_states(MLB, game, FETCHED) if raw_by_id[ps.play.play_id]["type"]["type"] == "end-batterpitcher"]
    assert len(ends) == len(rows) == 79
    for ps in ends:
        r = rows[raw_by_id[ps.play.play_id]["atBatId"]]
        f, s = ps.state.features, ps.state
        got = (s.period, f["half"], s.score_a, s.score_b, f["outs"], f["on_first"], f["on_second"], f["on_third"])
        want = (int(r["inning"]), 0.0 if r["half"] == "Top" else 1.0, int(r["home_score"]), int(r["away_score"]),
                float(r["outs_after_play"]), float(r["on_first_after_play"]), float(r["on_second_after_play"]),
                float(r["on_third_after_play"]))
        assert got == want, r["text"]


def test_the_baseball_model_prices_every_live_state_of_the_recorded_game(game: dict) -> None:
    """On main no ESPN MLB state carried half/outs: the model refused every in-game state."""
    states = [ps.state for ps in play_states(MLB, game, FETCHED) if ps.play.period >= 1]
    assert all(s.status is EventStatus.LIVE for s in states)
    p = BaseballModel().probabilities_batch(states)[:, 0]
    assert len(p) == 573 and ((p > 0) & (p < 1)).all()
    first = BaseballModel().probabilities(states[0])["a"]  # top 1st, nobody out: the devigged line, nudged
    assert first == pytest.approx(0.5205, abs=0.02)
    assert p[-1] > 0.99  # home leads in the bottom of the 10th: the walk-off


def test_innings_transitions_and_extra_innings(game: dict) -> None:
    plays = game["gamepackageJSON"]["plays"]
    by_text = {p.get("text"): ps.state.features for p, ps in zip(plays, play_states(MLB, game, FETCHED))}
    assert (by_text["Middle of the 1st inning"]["half"], by_text["Middle of the 1st inning"]["outs"]) == (0.0, 3.0)
    assert (by_text["End of the 9th inning"]["half"], by_text["End of the 9th inning"]["outs"]) == (1.0, 3.0)
    # the 10th opens as "bottom 9th over": the model itself puts the automatic runner on second
    top10 = by_text["Top of the 10th inning"]
    assert (top10["half"], top10["outs"]) == (1.0, 3.0)


def test_scoreboard_situation_shape() -> None:
    """Made-up input in the shape documented for a live MLB scoreboard (BOS @ NYY 401874913, "Top 7th"):
    `situation.outs` and boolean `onFirst`/`onSecond`/`onThird`, the half in `status.type.detail`."""
    status = {"period": 7, "type": {"name": "STATUS_IN_PROGRESS", "state": "in", "detail": "Top 7th", "shortDetail": "Top 7th"}}
    sit = {"balls": 2, "strikes": 1, "outs": 2, "onFirst": False, "onSecond": True, "onThird": False}
    assert from_scoreboard(sit, status, "x") == {"half": 0.0, "outs": 2.0, "on_first": 0.0, "on_second": 1.0, "on_third": 0.0}
    assert from_scoreboard(sit, {"periodPrefix": "Bottom"}, "x")["half"] == 1.0
    assert from_scoreboard(sit, {"type": {"detail": "Mid 7th"}}, "x") == {
        "half": 0.0, "outs": 3.0, "on_first": 0.0, "on_second": 0.0, "on_third": 0.0}
    assert from_scoreboard({"outs": 1}, {"type": {"detail": "Rain Delay"}}, "x") == {}  # half unknown: nothing guessed
    with pytest.raises(BadPayload):
        from_scoreboard({**sit, "outs": 4}, status, "x")


def test_a_malformed_play_is_rejected_alone(game: dict) -> None:
    broken = json.loads(json.dumps(game))
    end = next(p for p in broken["gamepackageJSON"]["plays"] if p["type"]["type"] == "end-batterpitcher")
    end["outs"] = "two"
    sm = summary(MLB, broken, FETCHED)
    assert len(sm.rejected) == 1 and len(sm.plays) == 572
