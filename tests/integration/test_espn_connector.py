"""The recorded ESPN responses replayed through the connector into a real Kafka broker.

The registry's topics are fixed (the publisher refuses any other name), so the
test records each topic's end offsets before producing and reads from there;
other tests may write to the same topics meanwhile, so records are picked out
by the ids this replay produces.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from connectors.espn.client import Fetched
from connectors.espn.pipeline import EspnPipeline
from connectors.espn.replay import FileReplay, TopicReplay, replay
from connectors.espn.runner import make_publisher
from ops.topics import ensure_topics
from schemas.codec import default_codec
from schemas.enums import EventStatus, MarketType
from schemas.records import DeadLetter, EventState, Play, RawFeed
from tests.unit.espn.conftest import FIXTURES, NBA_SB, RecordingSink, body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOPICS = ("raw.espn", "events.state", "events.plays", "deadletter")
SERVICE = "espn-connector-it"
T_1900 = 1765134000000  # 2025-12-07T19:00:00Z


def _ends(bootstrap: str, topic: str, wait_s: float = 30.0) -> dict[int, int]:
    """High watermarks per partition; waits for leaders of topics that were just created."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"espn-it-{uuid.uuid4().hex[:8]}"})
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                parts = c.list_topics(topic, timeout=15).topics[topic].partitions
                return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1] for p in parts}
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{topic}: no leaders after {wait_s}s: {exc}") from exc
                time.sleep(0.2)
    finally:
        c.close()


def _read(bootstrap: str, topic: str, start: dict[int, int], end: dict[int, int]) -> Iterator[tuple[bytes | None, Any]]:
    """(key, decoded record) of every record in [start, end) of each partition."""
    codec = default_codec()
    pending = {p for p in end if end[p] > start.get(p, 0)}
    if not pending:
        return
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"espn-it-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, start.get(p, 0)) for p in pending])
    try:
        while pending:
            msg = c.poll(15)
            assert msg is not None, f"{topic}: nothing more to read, still waiting on {sorted(pending)}"
            assert msg.error() is None, msg.error()
            if msg.partition() in pending and msg.offset() < end[msg.partition()]:
                yield msg.key(), codec.decode(msg.value())
                if msg.offset() + 1 >= end[msg.partition()]:
                    pending.discard(msg.partition())
    finally:
        c.close()


@pytest.fixture(scope="module")
def replayed(kafka_bootstrap: str) -> dict[str, Any]:
    report = ensure_topics(kafka_bootstrap)
    assert not [p for p in report.problems if p.split(":")[0] in TOPICS], report.problems
    start = {t: _ends(kafka_bootstrap, t) for t in TOPICS}

    recorded = list(FileReplay(FIXTURES / "replay_manifest.json"))
    cut = body(NBA_SB)[:5000]  # the NBA scoreboard cut off mid-transfer, received just before the good one
    broken = Fetched("scoreboard", "nba", "https://site.api.espn.com/apis/site/v2/sports/basketball/nba/scoreboard", {}, 200, T_1900 - 1000, cut).raw_feed()
    feeds = [recorded[0], recorded[1], broken, recorded[2], recorded[3]]

    publisher = make_publisher(kafka_bootstrap, service=SERVICE)
    outcomes = replay(feeds, EspnPipeline(publisher))
    publisher.flush()
    end = {t: _ends(kafka_bootstrap, t) for t in TOPICS}

    raw_ids = {f.raw_id for f in feeds}
    got: dict[str, Any] = {"feeds": feeds, "broken": broken, "outcomes": outcomes, "start": start}
    got["raw"] = [(k, r) for k, r in _read(kafka_bootstrap, "raw.espn", start["raw.espn"], end["raw.espn"]) if isinstance(r, RawFeed) and r.raw_id in raw_ids]
    got["states"] = [(k, r) for k, r in _read(kafka_bootstrap, "events.state", start["events.state"], end["events.state"]) if isinstance(r, EventState) and r.source == "espn"]
    got["plays"] = [(k, r) for k, r in _read(kafka_bootstrap, "events.plays", start["events.plays"], end["events.plays"]) if isinstance(r, Play) and r.event_id == "espn:nba:401859966"]
    got["dead"] = [(k, r) for k, r in _read(kafka_bootstrap, "deadletter", start["deadletter"], end["deadletter"]) if isinstance(r, DeadLetter) and r.service == SERVICE]
    return got


def _state(got: dict[str, Any], event_id: str, ts: int) -> tuple[bytes, EventState]:
    hits = {r.state_id: (k, r) for k, r in got["states"] if r.event_id == event_id and r.ts == ts}
    assert len(hits) == 1, f"{event_id}@{ts}: {len(hits)} distinct states"
    return next(iter(hits.values()))


def test_every_raw_response_is_on_raw_espn(replayed: dict[str, Any]) -> None:
    by_id = {r.raw_id: (k, r) for k, r in replayed["raw"]}
    assert set(by_id) == {f.raw_id for f in replayed["feeds"]}
    for feed in replayed["feeds"]:
        key, rec = by_id[feed.raw_id]
        assert key == f"espn:{feed.endpoint}".encode()
        assert rec == feed  # body, url, params, status, times: byte for byte


def test_nfl_live_state_field_by_field(replayed: dict[str, Any]) -> None:
    key, s = _state(replayed, "espn:nfl:401772902", T_1900)  # CIN @ BUF, CIN ball at BUF 10
    assert key == b"espn:nfl:401772902"
    assert s.state_id.startswith(f"espn:nfl:401772902:{T_1900}:")
    assert dataclasses.replace(s, state_id="") == EventState(
        state_id="",
        event_id="espn:nfl:401772902",
        ts=T_1900,
        source="espn",
        market_type=MarketType.SPORT,
        league="nfl",
        name="Cincinnati Bengals at Buffalo Bills",
        status=EventStatus.LIVE,
        start_ts=1765130400000,
        entity_a="Buffalo Bills",
        entity_b="Cincinnati Bengals",
        entity_a_id="2",
        entity_b_id="4",
        entity_a_abbr="BUF",
        entity_b_abbr="CIN",
        score_a=11,
        score_b=14,
        period=2,
        clock_seconds=214.0,
        possession="b",
        down=1,
        distance=10,
        yard_line=90,
        spread_a=None,
        total=None,
        winner=None,
        features={
            "timeouts_a": 3.0, "timeouts_b": 3.0, "espn_home_wp": 0.3507,
            "record_wins_a": 8.0, "record_losses_a": 4.0, "record_wins_b": 4.0, "record_losses_b": 8.0, "neutral_site": 0.0,
        },
    )
    _, kc = _state(replayed, "espn:nfl:401772932", T_1900)  # HOU @ KC pregame
    assert (kc.status, kc.spread_a, kc.total, kc.features) == (
        EventStatus.SCHEDULED, -3.5, 41.5,
        {"moneyline_a": -198.0, "moneyline_b": 164.0, "p_pregame_a": pytest.approx(0.636904, abs=1e-6),
         "prior_from:line:espn-provider-100": 1.0, "record_wins_a": 6.0, "record_losses_a": 6.0,
         "record_wins_b": 7.0, "record_losses_b": 5.0, "neutral_site": 0.0},
    )
    _, snf = _state(replayed, "espn:nfl:401772931", 1764561360000)  # DEN @ WSH, Sunday night
    assert (snf.period, snf.clock_seconds, snf.score_a, snf.score_b, snf.possession, snf.yard_line) == (4, 522.0, 17, 20, "b", 20)


def test_nba_state_and_plays_field_by_field(replayed: dict[str, Any]) -> None:
    _, live = _state(replayed, "espn:nba:401810212", T_1900)  # ORL @ NY, after the broken response
    assert (live.entity_a, live.entity_b, live.score_a, live.score_b, live.period, live.clock_seconds, live.status) == (
        "New York Knicks", "Orlando Magic", 87, 73, 4, 680.0, EventStatus.LIVE
    )
    assert live.features == {
        "espn_home_wp": 0.961,
        "record_wins_a": 15.0, "record_losses_a": 7.0, "record_wins_b": 14.0, "record_losses_b": 9.0, "neutral_site": 0.0,
    }
    _, final = _state(replayed, "espn:nba:401859966", 1781810576000)
    assert (final.status, final.winner, final.score_a, final.score_b, final.spread_a, final.total) == (EventStatus.FINAL, "a", 107, 106, -2.5, 216.5)

    plays = {p.play_id: (k, p) for k, p in replayed["plays"]}
    assert len(plays) == 498
    key, three = plays["espn:nba:401859966:40185996613"]
    assert key == b"espn:nba:401859966"
    assert three == Play(
        play_id="espn:nba:401859966:40185996613",
        event_id="espn:nba:401859966",
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
    _, end = plays["espn:nba:401859966:401859966734"]
    assert (end.play_type, end.score_a, end.score_b, end.source_home_win_prob) == ("End Game", 107, 106, 1.0)


def test_state_counts_per_response(replayed: dict[str, Any]) -> None:
    per_ts = {}
    for _, s in replayed["states"]:
        per_ts.setdefault((s.league, s.ts), set()).add(s.state_id)
    assert len(per_ts[("nfl", 1764561360000)]) == 16
    assert len(per_ts[("nfl", T_1900)]) == 14
    assert len(per_ts[("nba", T_1900)]) == 7
    assert len(per_ts[("nba", 1781810576000)]) == 1
    assert [(o.published_states, o.published_plays, o.dead_letters) for o in replayed["outcomes"]] == [
        (16, 0, 0), (14, 0, 0), (0, 0, 1), (7, 0, 0), (1, 498, 0)
    ]


def test_malformed_response_lands_in_deadletter(replayed: dict[str, Any]) -> None:
    broken: RawFeed = replayed["broken"]
    mine = {r.dead_id: (k, r) for k, r in replayed["dead"] if r.error.startswith(broken.raw_id)}
    assert len(mine) == 1
    key, dl = next(iter(mine.values()))
    assert key == b"raw.espn"
    assert (dl.topic, dl.ts, dl.partition, dl.offset) == ("raw.espn", broken.fetched_at, -1, -1)
    assert (dl.key, dl.value, dl.error_type, dl.service) == (b"espn:scoreboard", broken.body.encode(), "BadPayload", SERVICE)
    assert dl.error.startswith(f"{broken.raw_id}#body: not JSON")


def test_replaying_raw_espn_rebuilds_the_same_records(kafka_bootstrap: str, replayed: dict[str, Any]) -> None:
    raw_ids = {f.raw_id for f in replayed["feeds"]}
    source = TopicReplay(kafka_bootstrap, replayed["start"]["raw.espn"], group_id=f"espn-it-{uuid.uuid4().hex[:8]}")
    sink = RecordingSink()
    replay((r for r in source if r.raw_id in raw_ids), EspnPipeline(sink, publish_raw=False))
    assert sink.on("raw.espn") == []
    rebuilt = {s.state_id for s in sink.on("events.state")}
    written = {s.state_id for _, s in replayed["states"] if s.ts in {f.fetched_at for f in replayed["feeds"]}}
    assert rebuilt == written and len(rebuilt) == 16 + 14 + 7 + 1
    assert {p.play_id: p for p in sink.on("events.plays")} == {p.play_id: p for _, p in replayed["plays"]}
    assert len(sink.dead) == 1


def test_a_restarted_connector_recovers_the_pregame_prior_from_the_compacted_topic(kafka_bootstrap: str) -> None:
    """The line is kept on `events.pregame` on the real broker; a new connector reads it back before polling."""
    import json

    from connectors.espn.pipeline import PREGAME_TOPIC
    from connectors.espn.runner import recover_pregame
    from schemas.topics import spec
    from tests.unit.espn.conftest import NFL_LIVE, load
    from tests.unit.espn.test_pipeline import _kicked_off

    assert spec(PREGAME_TOPIC).cleanup == "compact"
    report = ensure_topics(kafka_bootstrap)
    assert not [p for p in report.problems if p.split(":")[0] == PREGAME_TOPIC], report.problems
    payload = load(NFL_LIVE)
    url = "https://site.api.espn.com/apis/site/v2/sports/football/nfl/scoreboard"
    publisher = make_publisher(kafka_bootstrap, service=SERVICE)
    first = EspnPipeline(publisher, publish_raw=False)
    before = first.on_raw(Fetched("scoreboard", "nfl", url, {}, 200, T_1900, json.dumps(payload)).raw_feed())
    publisher.flush()
    priced = {s.event_id: s for s in before.states if "p_pregame_a" in s.features}
    assert len(priced) == 5  # the five scheduled games with DraftKings odds

    events = payload["events"]
    live = next(e for e in events if e["status"]["type"]["name"] == "STATUS_IN_PROGRESS")
    for i, e in enumerate(events):
        if f"espn:nfl:{e['id']}" in priced:
            _kicked_off(payload, i, live)
    sink = RecordingSink()
    restarted = EspnPipeline(sink, publish_raw=False)  # a new process: nothing in memory
    assert recover_pregame(restarted, kafka_bootstrap) >= len(priced)  # other tests may keep lines there too
    after = restarted.on_raw(Fetched("scoreboard", "nfl", url, {}, 200, T_1900 + 3_600_000, json.dumps(payload)).raw_feed())
    now = {s.event_id: s for s in after.states}
    for event_id, pre in priced.items():
        assert now[event_id].status is EventStatus.LIVE
        assert now[event_id].features["p_pregame_a"] == pre.features["p_pregame_a"]
        assert now[event_id].features["prior_from:line:espn-provider-100"] == 1.0
        assert now[event_id].features["pregame_line_carried"] == 1.0
