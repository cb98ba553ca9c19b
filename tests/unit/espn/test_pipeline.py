"""Raw response → topics: raw first, dead letters for bad input, the next response still flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.espn.client import Fetched
from connectors.espn.errors import BadPayload
from connectors.espn.leagues import league
from connectors.espn.pipeline import EspnPipeline, league_of
from connectors.espn.pregame import devig, prior_source
from connectors.espn.replay import FileReplay, load_manifest, replay
from schemas.enums import EventStatus
from schemas.records import RawFeed
from tests.unit.espn.conftest import FIXTURES, NBA_SB, NFL_LIVE, T_2025_12_07_19, RecordingSink, body, load

SB_URL = "https://site.api.espn.com/apis/site/v2/sports/{}/scoreboard"


def raw(name_or_body: str, path: str = "football/nfl", endpoint: str = "scoreboard", status: int = 200, at: int = T_2025_12_07_19) -> RawFeed:
    text = body(name_or_body) if name_or_body.endswith(".json") else name_or_body
    url = SB_URL.format(path).replace("/scoreboard", f"/{endpoint}")
    return Fetched(endpoint, path.split("/")[1], url, {}, status, at, text).raw_feed()


def test_raw_is_published_before_the_states_it_yields(sink: RecordingSink) -> None:
    out = EspnPipeline(sink).on_raw(raw(NFL_LIVE))
    assert sink.order[0] == "raw.espn" and sink.order.count("events.state") == 14
    assert sink.order.count("events.pregame") == 5  # the five scheduled games with odds
    topic, key, record = sink.published[0]
    assert (topic, key, record.body) == ("raw.espn", "espn:scoreboard", body(NFL_LIVE))
    assert all(k == s.event_id for t, k, s in sink.published[1:])
    assert (out.published_states, out.dead_letters, len(out.states)) == (14, 0, 14)


def test_truncated_body_is_dead_lettered_and_the_next_response_flows(sink: RecordingSink) -> None:
    pipe = EspnPipeline(sink)
    cut = body(NBA_SB)[:5000]  # a response cut off mid-transfer
    bad = raw(cut, "basketball/nba")
    pipe.on_raw(bad)
    out = pipe.on_raw(raw(NBA_SB, "basketball/nba", at=T_2025_12_07_19 + 1))
    (dl,) = sink.dead
    assert (dl["topic"], dl["key"], dl["value"], dl["ts"]) == ("raw.espn", "espn:scoreboard", cut.encode(), T_2025_12_07_19)
    assert isinstance(dl["error"], BadPayload) and str(dl["error"]).startswith(f"{bad.raw_id}#body: not JSON")
    assert out.published_states == 7
    assert [t for t in sink.order if t != "events.pregame"] == ["raw.espn", "deadletter", "raw.espn"] + ["events.state"] * 7


def test_one_bad_game_goes_to_deadletter_and_the_rest_of_the_scoreboard_flows(sink: RecordingSink) -> None:
    payload = load(NFL_LIVE)
    payload["events"][0]["competitions"][0]["competitors"][1]["score"] = "three"
    out = EspnPipeline(sink).on_raw(raw(json.dumps(payload)))
    assert out.published_states == 13 and out.dead_letters == 1
    (dl,) = sink.dead
    assert "events[0].competitions[0].competitors[away].score: expected an integer, got 'three'" in str(dl["error"])
    assert json.loads(dl["value"])["id"] == "401772900"


def test_unchanged_states_are_not_republished(sink: RecordingSink) -> None:
    pipe = EspnPipeline(sink)
    pipe.on_raw(raw(NFL_LIVE))
    again = pipe.on_raw(raw(NFL_LIVE, at=T_2025_12_07_19 + 10_000))
    assert (len(again.states), again.published_states) == (14, 0)
    payload = load(NFL_LIVE)
    payload["events"][0]["competitions"][0]["status"]["clock"] = 340.0
    moved = pipe.on_raw(raw(json.dumps(payload), at=T_2025_12_07_19 + 20_000))
    assert moved.published_states == 1


def test_error_answers_are_kept_raw_and_not_normalized(sink: RecordingSink) -> None:
    out = EspnPipeline(sink).on_raw(raw("upstream timeout", status=503))
    assert sink.order == ["raw.espn"] and out.states == () and sink.dead == []


def test_topic_replay_mode_does_not_republish_raw(sink: RecordingSink) -> None:
    EspnPipeline(sink, publish_raw=False).on_raw(raw(NFL_LIVE))
    assert "raw.espn" not in sink.order and len(sink.on("events.state")) == 14


def test_league_from_site_api_and_cdn_urls() -> None:
    def at(url: str) -> RawFeed:
        return RawFeed(raw_id="x", ts=0, url=url)

    assert league_of(at("https://site.api.espn.com/apis/site/v2/sports/soccer/eng.1/scoreboard")) == league("epl")
    assert league_of(at("https://site.api.espn.com/apis/site/v2/sports/football/college-football/summary")) == league("ncaaf")
    assert league_of(at("https://cdn.espn.com/core/nba/game")) == league("nba")
    with pytest.raises(BadPayload, match="no followed league"):
        league_of(at("https://site.api.espn.com/apis/site/v2/sports/golf/pga/scoreboard"))


def test_file_replay_yields_the_recorded_responses_in_manifest_order(sink: RecordingSink) -> None:
    manifest = FIXTURES / "replay_manifest.json"
    recs = load_manifest(manifest)
    assert [r.fetched_at for r in recs] == [1764561360000, 1765134000000, 1765134000000, 1781810576000, 1782097659000]
    outs = replay(FileReplay(manifest), EspnPipeline(sink))
    assert [o.raw_id.rsplit(":", 1)[0] for o in outs] == [
        "espn:scoreboard:nfl:1764561360000",
        "espn:scoreboard:nfl:1765134000000",
        "espn:scoreboard:nba:1765134000000",
        "espn:summary:nba:1781810576000",
        "espn:summary:mlb:1782097659000",
    ]
    assert [(o.published_states, o.published_plays, o.dead_letters) for o in outs] == [
        (16, 0, 0), (14, 0, 0), (7, 0, 0), (1, 498, 0), (1, 573, 0)]
    again = RecordingSink()
    replay(FileReplay(manifest), EspnPipeline(again))
    assert again.published == sink.published  # replay is deterministic, ids included


def test_manifest_with_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps([{"file": "gone.json", "endpoint": "scoreboard", "url": SB_URL.format("football/nfl"), "fetched_at": 0}]))
    with pytest.raises(FileNotFoundError):
        list(FileReplay(tmp_path / "m.json"))


def test_pregame_line_is_carried_into_the_live_states_that_lack_it(sink: RecordingSink) -> None:
    """ESPN drops the odds once a game starts; the last pregame line rides along, marked."""
    payload = load(NFL_LIVE)
    events = payload["events"]
    pre = next(i for i, e in enumerate(events) if e["status"]["type"]["name"] == "STATUS_SCHEDULED"
               and e["competitions"][0].get("odds"))
    live = next(e for e in events if e["status"]["type"]["name"] == "STATUS_IN_PROGRESS")
    pipe = EspnPipeline(sink)
    before = {s.event_id: s for s in pipe.on_raw(raw(json.dumps(payload))).states}
    event_id = f"espn:nfl:{events[pre]['id']}"
    scheduled = before[event_id]
    assert scheduled.spread_a is not None and "moneyline_a" in scheduled.features

    # the same game an hour later: kicked off, odds gone (the shape of the in-progress games above)
    events[pre]["status"] = live["status"]
    events[pre]["competitions"][0]["status"] = live["competitions"][0]["status"]
    del events[pre]["competitions"][0]["odds"]
    pipe.on_raw(raw(json.dumps(payload), at=T_2025_12_07_19 + 3_600_000))
    published = [s for t, k, s in sink.published if t == "events.state" and s.event_id == event_id]
    now = published[-1]
    assert now.status.value == "LIVE"
    assert (now.spread_a, now.total) == (scheduled.spread_a, scheduled.total)
    assert now.features["moneyline_a"] == scheduled.features["moneyline_a"]
    assert now.features["pregame_line_carried"] == 1.0
    # the devigged prior and its source ride along: HOU @ KC -198 / +164
    assert now.features["p_pregame_a"] == scheduled.features["p_pregame_a"] == pytest.approx(
        devig((scheduled.features["moneyline_a"], scheduled.features["moneyline_b"]))[0]
    )
    assert prior_source(now) == "line:espn-provider-100"
    assert now.state_id.startswith(f"{event_id}:{T_2025_12_07_19 + 3_600_000}:")
    others = [s for t, k, s in sink.published[len(published):] if t == "events.state" and s.event_id != event_id]
    assert all("pregame_line_carried" not in s.features for s in others)  # games never seen pregame stay as they are


def _kicked_off(payload: dict, index: int, live: dict) -> None:
    """The scheduled game at `index` as ESPN shows it once started: status of an in-progress game, odds gone.

    Made-up transformation of the real payload (no later capture of these games is
    recorded); the shape is that of the real in-progress games of the same scoreboard.
    """
    payload["events"][index]["status"] = live["status"]
    payload["events"][index]["competitions"][0]["status"] = live["competitions"][0]["status"]
    del payload["events"][index]["competitions"][0]["odds"]


def test_a_restarted_pipeline_recovers_the_pregame_prior_from_the_log(sink: RecordingSink) -> None:
    """The line is kept on `events.pregame`; a new pipeline fed that topic prices live states from it."""
    payload = load(NFL_LIVE)
    events = payload["events"]
    pre = [i for i, e in enumerate(events) if e["status"]["type"]["name"] == "STATUS_SCHEDULED" and e["competitions"][0].get("odds")]
    live = next(e for e in events if e["status"]["type"]["name"] == "STATUS_IN_PROGRESS")
    EspnPipeline(sink).on_raw(raw(json.dumps(payload)))
    kept = sink.on("events.pregame")
    assert sorted(s.event_id for s in kept) == sorted(f"espn:nfl:{events[i]['id']}" for i in pre)
    assert all(s.status is EventStatus.SCHEDULED and "p_pregame_a" in s.features for s in kept)

    for i in pre:
        _kicked_off(payload, i, live)
    fresh = RecordingSink()
    restarted = EspnPipeline(fresh)
    assert restarted.recover(kept) == len(pre)
    restarted.on_raw(raw(json.dumps(payload), at=T_2025_12_07_19 + 3_600_000))
    states = {s.event_id: s for s in fresh.on("events.state")}
    for state in kept:
        now = states[state.event_id]
        assert now.status is EventStatus.LIVE and "moneyline_a" in now.features  # only from the kept line
        assert now.features["p_pregame_a"] == state.features["p_pregame_a"]
        assert (now.spread_a, now.total) == (state.spread_a, state.total)
        assert prior_source(now) == "line:espn-provider-100"
    assert fresh.on("events.pregame") == []  # live states never overwrite the kept line

    forgetful = RecordingSink()  # without the log, the same restart loses every prior
    EspnPipeline(forgetful).on_raw(raw(json.dumps(payload), at=T_2025_12_07_19 + 3_600_000))
    assert all("p_pregame_a" not in s.features for s in forgetful.on("events.state") if s.event_id in states and s.status is EventStatus.LIVE)


def test_an_unchanged_line_is_not_kept_twice(sink: RecordingSink) -> None:
    pipe = EspnPipeline(sink)
    pipe.on_raw(raw(NFL_LIVE))
    pipe.on_raw(raw(NFL_LIVE, at=T_2025_12_07_19 + 60_000))
    assert len(sink.on("events.pregame")) == 5
