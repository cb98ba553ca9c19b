"""Game summary → Play records and the game's state, on the recorded 2026 NBA Finals game 3."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from connectors.espn.errors import BadPayload
from connectors.espn.leagues import league
from connectors.espn.fields import display_clock_seconds
from connectors.espn.plays import summary
from schemas.enums import EventStatus, MarketType
from schemas.records import EventState, Play
from tests.unit.espn.conftest import NBA_GAME, load

NBA = league("nba")
FETCHED = 1781810576000  # replay_manifest.json: 2026-06-18T19:22:56Z
EVENT = "espn:nba:401859966"


@pytest.fixture(scope="module")
def game() -> dict:
    return load(NBA_GAME)


def test_summary_state_field_by_field(game: dict) -> None:
    s = summary(NBA, game, FETCHED).state
    assert s.state_id.startswith(f"{EVENT}:{FETCHED}:")
    assert dataclasses.replace(s, state_id="") == EventState(
        state_id="",
        event_id=EVENT,
        ts=FETCHED,
        source="espn",
        market_type=MarketType.SPORT,
        league="nba",
        name="San Antonio Spurs at New York Knicks",
        status=EventStatus.FINAL,
        start_ts=1781137800000,  # 2026-06-11T00:30Z
        entity_a="New York Knicks",
        entity_b="San Antonio Spurs",
        entity_a_id="18",
        entity_b_id="24",
        entity_a_abbr="NY",
        entity_b_abbr="SA",
        score_a=107,
        score_b=106,
        period=4,  # the header has no period for a finished game: the last play's
        clock_seconds=0.0,
        possession=None,
        down=None,
        distance=None,
        yard_line=None,
        spread_a=-2.5,  # pickcenter: "NY -2.5", spread -2.5
        total=216.5,
        winner="a",
        features={
            "moneyline_a": -135.0,
            "moneyline_b": 114.0,
            "p_pregame_a": pytest.approx(0.551441, abs=1e-6),  # devigged -135 / +114
            "prior_from:line:espn-provider-100": 1.0,  # pickcenter provider {"name": "Draft Kings", "id": "100"}
            "record_wins_a": 53.0,  # header competitors[].record (singular in summaries), type "total" "53-29"
            "record_losses_a": 29.0,
            "record_wins_b": 62.0,  # SA "62-20"
            "record_losses_b": 20.0,
            "neutral_site": 0.0,  # header.competitions[0].neutralSite false
        },
    )


def test_plays_field_by_field(game: dict) -> None:
    res = summary(NBA, game, FETCHED)
    assert res.rejected == ()
    assert len(res.plays) == 498
    assert len({p.play_id for p in res.plays}) == 498
    assert all(p.source_home_win_prob is not None for p in res.plays)  # all 498 joined by playId
    assert sum(p.scoring_play for p in res.plays) == 109
    first, three = res.plays[0], next(p for p in res.plays if p.score_value == 3)
    assert first == Play(
        play_id=f"{EVENT}:4018599664",
        event_id=EVENT,
        ts=1781138620000,  # wallclock 2026-06-11T00:43:40Z
        league="nba",
        sequence=4,
        period=1,
        clock_seconds=720.0,
        team_id="24",
        play_type="Jumpball",
        text="Victor Wembanyama vs. Karl-Anthony Towns (De'Aaron Fox gains possession)",
        score_a=0,
        score_b=0,
        scoring_play=False,
        score_value=0,
        source_home_win_prob=0.564,
        features={},
    )
    assert three == Play(
        play_id=f"{EVENT}:40185996613",
        event_id=EVENT,
        ts=1781138709000,
        league="nba",
        sequence=13,
        period=1,
        clock_seconds=669.0,
        team_id="24",
        play_type="Jump Shot",
        text="Devin Vassell makes 26-foot three point jumper (Stephon Castle assists)",
        score_a=2,
        score_b=5,
        scoring_play=True,
        score_value=3,
        source_home_win_prob=0.509,
        features={},
    )
    last = res.plays[-1]
    assert (last.play_id, last.sequence, last.period, last.clock_seconds, last.team_id) == (f"{EVENT}:401859966734", 734, 4, 0.0, None)
    assert (last.play_type, last.score_a, last.score_b, last.source_home_win_prob, last.ts) == ("End Game", 107, 106, 1.0, 1781149057000)
    sub_minute = next(p for p in res.plays if p.sequence == 169)  # clock shown as "45.9"
    assert (sub_minute.clock_seconds, sub_minute.source_home_win_prob) == (45.9, 0.149)


def test_plays_are_idempotent_and_independent_of_receive_time(game: dict) -> None:
    a = summary(NBA, game, FETCHED).plays
    b = summary(NBA, copy.deepcopy(game), FETCHED + 60_000).plays
    assert a == b  # play time is ESPN's wallclock, not when we read it


def test_site_api_shape_reads_the_same(game: dict) -> None:
    wrapped = summary(NBA, game, FETCHED)
    bare = summary(NBA, game["gamepackageJSON"], FETCHED)
    assert bare == wrapped


def test_bad_play_is_rejected_alone(game: dict) -> None:
    g = copy.deepcopy(game)
    g["gamepackageJSON"]["plays"][10]["homeScore"] = "ten"
    res = summary(NBA, g, FETCHED)
    assert len(res.plays) == 497
    (bad,) = res.rejected
    assert bad.where == "plays[10]" and bad.ref == game["gamepackageJSON"]["plays"][10]["id"]
    assert "plays[10].homeScore: expected an integer" in str(bad.error)


@pytest.mark.parametrize("score", [39317569850075658609229824, 1e30, "-" + "9" * 30])
def test_a_score_past_64_bits_is_rejected_with_the_play_not_at_publish(game: dict, score: object) -> None:
    """`make fuzz` found a play whose score was retyped to a 26-digit number: it read as an int and the codec
    refused the Play at publish (an escape). Now the play is rejected alone, with its field named."""
    g = copy.deepcopy(game)
    g["gamepackageJSON"]["plays"][10]["awayScore"] = score
    res = summary(NBA, g, FETCHED)
    (bad,) = res.rejected
    assert bad.where == "plays[10]" and "awayScore" in str(bad.error) and "64-bit" in str(bad.error)
    assert len(res.plays) == 497


def test_summary_without_header_is_bad_payload(game: dict) -> None:
    g = copy.deepcopy(game["gamepackageJSON"])
    del g["header"]
    with pytest.raises(BadPayload, match="summary.header: missing"):
        summary(NBA, g, FETCHED)


def test_win_probability_outside_unit_interval_is_bad_payload(game: dict) -> None:
    g = copy.deepcopy(game["gamepackageJSON"])
    g["winprobability"][0]["homeWinPercentage"] = 56.4  # a percent, not a probability
    with pytest.raises(BadPayload, match=r"winprobability\[0\].homeWinPercentage: 56.4 outside"):
        summary(NBA, g, FETCHED)


@pytest.mark.parametrize(("shown", "seconds"), [("12:00", 720.0), ("0:07", 7.0), ("45.9", 45.9), ("0.0", 0.0), ("15:00", 900.0)])
def test_display_clock(shown: str, seconds: float) -> None:
    assert display_clock_seconds(shown, "clock") == seconds


def test_unreadable_clock_is_bad_payload() -> None:
    with pytest.raises(BadPayload, match="unreadable clock"):
        display_clock_seconds("67'", "clock")
