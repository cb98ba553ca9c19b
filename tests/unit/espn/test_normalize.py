"""Scoreboard payloads → EventState, asserted field by field on recorded ESPN responses."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from connectors.espn.errors import BadPayload
from connectors.espn.leagues import league
from connectors.espn.normalize import event_states, map_status, parse_body, scoreboard_states
from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from tests.unit.espn.conftest import NBA_SB, NFL_LIVE, NFL_SNF, T_2025_12_07_19, load

NFL = league("nfl")
NBA = league("nba")


def _by_id(states: tuple[EventState, ...], espn_id: str) -> EventState:
    (s,) = [s for s in states if s.event_id.endswith(f":{espn_id}")]
    return s


def _without_id(s: EventState) -> EventState:
    assert s.state_id.startswith(f"{s.event_id}:{s.ts}:") and len(s.state_id.rsplit(":", 1)[1]) == 16
    return dataclasses.replace(s, state_id="")


def _nfl_live() -> tuple[EventState, ...]:
    res = scoreboard_states(NFL, load(NFL_LIVE), T_2025_12_07_19)
    assert res.rejected == ()
    assert len(res.states) == 14
    return res.states


def test_nfl_live_game_home_possession_field_by_field() -> None:
    s = _by_id(_nfl_live(), "401772900")  # SEA @ ATL, 1st & 10 at ATL 12, ATL ball
    assert _without_id(s) == EventState(
        state_id="",
        event_id="espn:nfl:401772900",
        ts=T_2025_12_07_19,
        source="espn",
        market_type=MarketType.SPORT,
        league="nfl",
        name="Seattle Seahawks at Atlanta Falcons",
        status=EventStatus.LIVE,
        start_ts=1765130400000,  # 2025-12-07T18:00Z
        entity_a="Atlanta Falcons",
        entity_b="Seattle Seahawks",
        entity_a_id="1",
        entity_b_id="26",
        entity_a_abbr="ATL",
        entity_b_abbr="SEA",
        score_a=3,
        score_b=3,
        period=2,
        clock_seconds=349.0,
        possession="a",
        down=1,
        distance=10,
        yard_line=12,
        spread_a=None,
        total=None,
        winner=None,
        features={
            "timeouts_a": 2.0,  # situation.homeTimeouts
            "timeouts_b": 3.0,  # situation.awayTimeouts
            "espn_home_wp": 0.4138,
            "record_wins_a": 4.0,  # ATL "4-8" (records[type=total])
            "record_losses_a": 8.0,
            "record_wins_b": 9.0,  # SEA "9-3"
            "record_losses_b": 3.0,
            "neutral_site": 0.0,  # competitions[0].neutralSite false
        },
    )


def test_nfl_away_possession_counts_yards_from_the_away_goal_line() -> None:
    states = _nfl_live()
    cin = _by_id(states, "401772902")  # CIN (away) ball at BUF 10: 90 yards from CIN's own goal line
    assert (cin.possession, cin.down, cin.distance, cin.yard_line) == ("b", 1, 10, 90)
    assert (cin.score_a, cin.score_b, cin.clock_seconds) == (11, 14, 214.0)
    wsh = _by_id(states, "401772899")  # WSH (away) ball at its own 34; ESPN yardLine 66
    assert (wsh.possession, wsh.yard_line) == ("b", 34)
    mia = _by_id(states, "401772790")  # MIA (away) at its own 41; ESPN yardLine 59
    assert (mia.possession, mia.yard_line, mia.features["espn_home_wp"]) == ("b", 41, 0.1129)


def test_nfl_kickoff_has_no_down_and_unknown_possession_has_no_yard_line() -> None:
    states = _nfl_live()
    kickoff = _by_id(states, "401772792")  # NO @ TB: down -1, no possession
    assert (kickoff.possession, kickoff.down, kickoff.distance, kickoff.yard_line) == (None, None, None, None)
    assert kickoff.features == {
        "timeouts_a": 2.0, "timeouts_b": 3.0, "espn_home_wp": 0.7571,
        "record_wins_a": 7.0, "record_losses_a": 5.0, "record_wins_b": 2.0, "record_losses_b": 10.0, "neutral_site": 0.0,
    }
    jax = _by_id(states, "401772793")  # IND @ JAX: 1st & 10 but ESPN names no possessing team
    assert (jax.possession, jax.down, jax.distance, jax.yard_line) == (None, 1, 10, None)


def test_nfl_scheduled_game_spread_total_and_moneylines() -> None:
    s = _by_id(_nfl_live(), "401772932")  # HOU @ KC, DraftKings "KC -3.5", o/u 41.5
    assert (s.status, s.period, s.clock_seconds, s.score_a, s.score_b) == (EventStatus.SCHEDULED, 0, None, 0, 0)
    assert (s.entity_a_abbr, s.spread_a, s.total) == ("KC", -3.5, 41.5)
    assert s.features == {
        "moneyline_a": -198.0, "moneyline_b": 164.0,
        # devigged: (198/298) / (198/298 + 100/264); DraftKings is ESPN provider 100
        "p_pregame_a": pytest.approx(0.636904, abs=1e-6), "prior_from:line:espn-provider-100": 1.0,
        "record_wins_a": 6.0, "record_losses_a": 6.0, "record_wins_b": 7.0, "record_losses_b": 5.0, "neutral_site": 0.0,
    }
    assert s.start_ts == 1765156800000  # 2025-12-08T01:20Z
    den = _by_id(_nfl_live(), "401772794")  # DEN @ LV, "DEN -8.5": the home side gets +8.5
    assert (den.entity_a_abbr, den.spread_a, den.total) == ("LV", 8.5, 40.5)


def test_nfl_final_has_winner_and_no_clock_left() -> None:
    s = _by_id(_nfl_live(), "401772947")  # DAL @ DET 30-44
    assert (s.status, s.score_a, s.score_b, s.winner, s.clock_seconds, s.period) == (EventStatus.FINAL, 44, 30, "a", 0.0, 4)
    snf = scoreboard_states(NFL, load(NFL_SNF), 1764561360000)
    assert len(snf.states) == 16 and snf.rejected == ()
    away_win = _by_id(snf.states, "401772785")  # SF @ CLE 26-8
    assert (away_win.winner, away_win.score_a, away_win.score_b) == ("b", 8, 26)
    live = _by_id(snf.states, "401772931")  # DEN ball at own 20, ESPN yardLine 80
    assert (live.period, live.clock_seconds, live.possession, live.yard_line) == (4, 522.0, "b", 20)


def test_nba_live_and_scheduled_field_by_field() -> None:
    res = scoreboard_states(NBA, load(NBA_SB), T_2025_12_07_19)
    assert len(res.states) == 7 and res.rejected == ()
    live = _by_id(res.states, "401810212")
    assert _without_id(live) == EventState(
        state_id="",
        event_id="espn:nba:401810212",
        ts=T_2025_12_07_19,
        source="espn",
        market_type=MarketType.SPORT,
        league="nba",
        name="Orlando Magic at New York Knicks",
        status=EventStatus.LIVE,
        start_ts=1765126800000,  # 2025-12-07T17:00Z
        entity_a="New York Knicks",
        entity_b="Orlando Magic",
        entity_a_id="18",
        entity_b_id="19",
        entity_a_abbr="NY",
        entity_b_abbr="ORL",
        score_a=87,
        score_b=73,
        period=4,
        clock_seconds=680.0,
        possession=None,
        down=None,
        distance=None,
        yard_line=None,
        spread_a=None,
        total=None,
        winner=None,
        features={
            "espn_home_wp": 0.961,
            "record_wins_a": 15.0, "record_losses_a": 7.0, "record_wins_b": 14.0, "record_losses_b": 9.0, "neutral_site": 0.0,
        },
    )
    tor = _by_id(res.states, "401810213")  # BOS @ TOR, "BOS -3.5"
    assert (tor.entity_a_abbr, tor.spread_a, tor.total, tor.features) == (
        "TOR", 3.5, 224.5,
        {"moneyline_a": 130.0, "moneyline_b": -155.0, "p_pregame_a": pytest.approx(0.417007, abs=1e-6),
         "prior_from:line:espn-provider-100": 1.0, "record_wins_a": 15.0, "record_losses_a": 9.0,
         "record_wins_b": 14.0, "record_losses_b": 9.0, "neutral_site": 0.0},
    )
    mem = _by_id(res.states, "401810215")  # POR @ MEM, "MEM -1.5": home favourite
    assert (mem.spread_a, mem.total) == (-1.5, 231.5)


def test_same_payload_same_time_gives_the_same_records() -> None:
    a = scoreboard_states(NBA, load(NBA_SB), T_2025_12_07_19).states
    b = scoreboard_states(NBA, load(NBA_SB), T_2025_12_07_19).states
    assert a == b
    later = scoreboard_states(NBA, load(NBA_SB), T_2025_12_07_19 + 1000).states
    assert [s.state_id for s in later] != [s.state_id for s in a]
    assert [s.state_id.rsplit(":", 1)[1] for s in later] == [s.state_id.rsplit(":", 1)[1] for s in a]


# ------------------------------------------------------------------ bad input


def _event(espn_id: str = "401772900") -> dict:
    (e,) = [e for e in load(NFL_LIVE)["events"] if e["id"] == espn_id]
    return copy.deepcopy(e)


def test_missing_competitor_is_bad_payload() -> None:
    e = _event()
    e["competitions"][0]["competitors"].pop()
    with pytest.raises(BadPayload, match=r"competitors: expected 2 competitors, got 1"):
        event_states(NFL, e, T_2025_12_07_19)


def test_non_numeric_score_is_bad_payload() -> None:
    e = _event()
    e["competitions"][0]["competitors"][0]["score"] = "3a"
    with pytest.raises(BadPayload, match=r"competitors\[home\]\.score: expected an integer"):
        event_states(NFL, e, T_2025_12_07_19)


def test_unknown_status_is_bad_payload() -> None:
    e = _event()
    e["competitions"][0]["status"]["type"].update(name="STATUS_WHATEVER", state="??")
    with pytest.raises(BadPayload, match="unknown status 'STATUS_WHATEVER'"):
        event_states(NFL, e, T_2025_12_07_19)


def test_possession_by_a_third_team_is_bad_payload() -> None:
    e = _event()
    e["competitions"][0]["situation"]["possession"] = "99"
    with pytest.raises(BadPayload, match="possession: team '99' is neither side"):
        event_states(NFL, e, T_2025_12_07_19)


def test_spread_that_contradicts_details_is_bad_payload() -> None:
    e = _event("401772932")
    e["competitions"][0]["odds"][0]["spread"] = 3.5  # details say "KC -3.5" with KC at home
    with pytest.raises(BadPayload, match="disagrees with details"):
        event_states(NFL, e, T_2025_12_07_19)


def test_one_bad_event_is_rejected_alone() -> None:
    payload = load(NFL_LIVE)
    del payload["events"][3]["competitions"][0]["competitors"]
    res = scoreboard_states(NFL, payload, T_2025_12_07_19)
    assert len(res.states) == 13
    (bad,) = res.rejected
    assert (bad.where, bad.ref) == ("events[3]", payload["events"][3]["id"])
    assert "competitors" in str(bad.error) and bad.value.startswith(b"{")


def test_scoreboard_without_events_and_non_json_body_are_bad_payload() -> None:
    with pytest.raises(BadPayload, match="scoreboard.events: missing"):
        scoreboard_states(NFL, {"leagues": []}, 0)
    with pytest.raises(BadPayload, match="not JSON"):
        parse_body('{"events": [')
    with pytest.raises(BadPayload, match="expected an object"):
        parse_body("[1, 2]")


@pytest.mark.parametrize(
    ("name", "state", "expected"),
    [
        ("STATUS_SCHEDULED", "pre", EventStatus.SCHEDULED),
        ("STATUS_IN_PROGRESS", "in", EventStatus.LIVE),
        ("STATUS_HALFTIME", "in", EventStatus.BREAK),
        ("STATUS_END_PERIOD", "in", EventStatus.BREAK),
        ("STATUS_FINAL", "post", EventStatus.FINAL),
        ("STATUS_FULL_TIME", "post", EventStatus.FINAL),
        ("STATUS_POSTPONED", "post", EventStatus.POSTPONED),
        ("STATUS_CANCELED", "post", EventStatus.CANCELED),
        ("STATUS_DELAYED", "pre", EventStatus.SCHEDULED),
        ("STATUS_DELAYED", "in", EventStatus.SUSPENDED),
        ("STATUS_SUSPENDED", "in", EventStatus.SUSPENDED),
        ("STATUS_SOMETHING_NEW", "in", EventStatus.LIVE),
    ],
)
def test_status_mapping(name: str, state: str, expected: EventStatus) -> None:
    assert map_status({"type": {"name": name, "state": state}}, "status") is expected


def test_halftime_state_is_a_break() -> None:
    e = _event()
    e["competitions"][0]["status"].update(clock=0.0, period=2)
    e["competitions"][0]["status"]["type"].update(name="STATUS_HALFTIME", state="in")
    (s,) = event_states(NFL, e, T_2025_12_07_19)
    assert (s.status, s.period, s.clock_seconds) == (EventStatus.BREAK, 2, 0.0)


# ------------------------------------------- records, timeouts, neutral site

#: Every live NFL game of the two recorded scoreboards, typed from the payloads:
#: (file, ESPN id, home "W-L", away "W-L", situation.homeTimeouts, situation.awayTimeouts).
LIVE_NFL_SIDES = [
    (NFL_LIVE, "401772900", (4, 8), (9, 3), 2, 3),  # SEA @ ATL
    (NFL_LIVE, "401772902", (8, 4), (4, 8), 3, 3),  # CIN @ BUF
    (NFL_LIVE, "401772898", (3, 9), (1, 11), 2, 2),  # TEN @ CLE
    (NFL_LIVE, "401772899", (4, 8), (3, 9), 3, 2),  # WSH @ MIN
    (NFL_LIVE, "401772790", (3, 9), (5, 7), 3, 2),  # MIA @ NYJ
    (NFL_LIVE, "401772792", (7, 5), (2, 10), 2, 3),  # NO @ TB
    (NFL_LIVE, "401772793", (8, 4), (8, 4), 3, 3),  # IND @ JAX
    (NFL_LIVE, "401772791", (6, 6), (6, 6), 3, 1),  # PIT @ BAL
    (NFL_SNF, "401772931", (3, 8), (9, 2), 3, 3),  # DEN @ WSH
]


@pytest.mark.parametrize(("name", "espn_id", "home", "away", "to_home", "to_away"), LIVE_NFL_SIDES)
def test_live_nfl_records_timeouts_and_neutral_site(
    name: str, espn_id: str, home: tuple[int, int], away: tuple[int, int], to_home: int, to_away: int
) -> None:
    s = _by_id(scoreboard_states(NFL, load(name), T_2025_12_07_19).states, espn_id)
    assert s.status is EventStatus.LIVE
    f = s.features
    assert (f["record_wins_a"], f["record_losses_a"]) == (float(home[0]), float(home[1]))
    assert (f["record_wins_b"], f["record_losses_b"]) == (float(away[0]), float(away[1]))
    assert (f["timeouts_a"], f["timeouts_b"]) == (float(to_home), float(to_away))
    assert f["neutral_site"] == 0.0
    assert "record_ties_a" not in f and "record_ties_b" not in f  # "W-L" summaries show no ties


def test_record_with_ties_is_read_as_wins_losses_ties() -> None:
    gb = _by_id(_nfl_live(), "401772897")  # CHI @ GB: GB "8-3-1", CHI "9-3"
    f = gb.features
    assert (f["record_wins_a"], f["record_losses_a"], f["record_ties_a"]) == (8.0, 3.0, 1.0)
    assert (f["record_wins_b"], f["record_losses_b"]) == (9.0, 3.0) and "record_ties_b" not in f
    snf = scoreboard_states(NFL, load(NFL_SNF), 1764561360000)
    dal = _by_id(snf.states, "401772694")  # KC @ DAL final: DAL "6-5-1", KC "6-6"
    assert (dal.features["record_wins_a"], dal.features["record_losses_a"], dal.features["record_ties_a"]) == (6.0, 5.0, 1.0)


def test_neutral_site_true_is_one() -> None:
    e = _event()
    e["competitions"][0]["neutralSite"] = True
    (s,) = event_states(NFL, e, T_2025_12_07_19)
    assert s.features["neutral_site"] == 1.0


def test_missing_records_and_neutral_flag_are_left_out() -> None:
    e = _event()
    for c in e["competitions"][0]["competitors"]:
        del c["records"]
    del e["competitions"][0]["neutralSite"]
    (s,) = event_states(NFL, e, T_2025_12_07_19)
    assert s.features == {"timeouts_a": 2.0, "timeouts_b": 3.0, "espn_home_wp": 0.4138}


def test_malformed_record_and_neutral_flag_are_bad_payload() -> None:
    e = _event()
    e["competitions"][0]["competitors"][0]["records"][0]["summary"] = "four-eight"
    with pytest.raises(BadPayload, match=r"records\[0\]\.summary: record 'four-eight' is not wins-losses"):
        event_states(NFL, e, T_2025_12_07_19)
    e = _event()
    e["competitions"][0]["neutralSite"] = "no"
    with pytest.raises(BadPayload, match="neutralSite: expected true/false"):
        event_states(NFL, e, T_2025_12_07_19)


def test_hockey_records_are_not_read_as_wins_losses() -> None:
    """An NHL "W-L-OTL" third number is overtime losses, not ties: the normalizer leaves NHL records out."""
    e = _event()
    e["competitions"][0].pop("situation")
    (s,) = event_states(league("nhl"), e, T_2025_12_07_19)
    assert not any(k.startswith("record_") for k in s.features) and s.features["neutral_site"] == 0.0


def test_individual_sport_odds_are_put_on_a_side_only_when_competitors_say_home_and_away() -> None:
    """Made-up: the recorded HOU @ KC competition read as a UFC bout (no MMA scoreboard is recorded)."""
    from connectors.espn.normalize import competition_state

    event = copy.deepcopy(next(e for e in load(NFL_LIVE)["events"] if e["id"] == "401772932"))
    comp = event["competitions"][0]
    sided = competition_state(league("ufc"), event, comp, T_2025_12_07_19, per_match=True)
    assert sided.features["p_pregame_a"] == pytest.approx(0.636904, abs=1e-6)
    for c in comp["competitors"]:
        del c["homeAway"]
    unsided = competition_state(league("ufc"), event, comp, T_2025_12_07_19, per_match=True)
    assert "p_pregame_a" not in unsided.features and "moneyline_a" not in unsided.features
