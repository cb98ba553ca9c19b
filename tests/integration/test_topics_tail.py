"""`arbees topics tail` / `show` on the real broker: every registry topic decodes, garbage is shown with its offset."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace

import pytest
from confluent_kafka import Producer, TopicPartition
from typer.testing import CliRunner

from ops.kafka.groups import commit_offsets
from connectors.publisher import Publisher
from ops.cli import app
from ops.topic_lines import readable
from ops.topic_reader import TailOptions, show, tail
from ops.topics import ensure_topics
from schemas.deadletters import dead_letter
from schemas.records import EventState, RawFeed, ShardInput
from schemas.topics import TOPICS
from tests.unit.sink.samples import every_type

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def records_per_topic(run: str) -> dict[str, object]:
    """One record (built from recorded payloads: tests/unit/sink/samples.py) for every registry topic."""
    by_type = {type(r).__name__: r for r in every_type(run)}
    state = by_type["EventState"]
    assert isinstance(state, EventState)
    by_type["ShardInput"] = ShardInput(input_id=f"in-{run}", event_id=state.event_id, ts=state.ts, state=state)
    by_type["DeadLetter"] = dead_letter(topic="markets.quotes", value=b"\x00\x00\x00\x00\x07bad", error="made-up bad input",
                                        service="test", ts=state.ts, partition=0, offset=1)
    # kept away from trading workers of other tests (they trade espn: events): a made-up event id
    by_type["Signal"] = replace(by_type["Signal"], event_id=f"tail-test:{run}")  # type: ignore[type-var]
    out = {}
    for t in TOPICS:
        rec = by_type[t.value_types[-1].__name__]
        if isinstance(rec, RawFeed):
            rec = replace(rec, source=t.name.split(".", 1)[1])
        out[t.name] = rec
    return out


def test_every_registry_topic_tails_decoded_and_show_reports_offsets(kafka_bootstrap: str) -> None:
    assert not ensure_topics(kafka_bootstrap).problems
    run = uuid.uuid4().hex[:10]
    key = f"tail-{run}"
    since = int(time.time() * 1000) - 1_000
    pub = Publisher(kafka_bootstrap, service="test")
    wanted = records_per_topic(run)
    for name, rec in wanted.items():
        pub.publish(name, key, rec)
    pub.flush()
    for name, rec in wanted.items():
        got = list(tail(kafka_bootstrap, name, TailOptions(key=key, since_ms=since, until_end=True)))
        assert [d.record for d in got] == [rec], name
        line = readable(got[0])
        assert f"key={key}" in line and type(rec).__name__ in line and f"{name}[{got[0].message.partition}]@" in line

    info = show(kafka_bootstrap, "signals")
    assert len(info.partitions) == 12 and sum(p.records for p in info.partitions) >= 1
    assert [s[2] for s in info.schemas] == ["Signal"] and info.config["cleanup.policy"] == "delete"
    fills = show(kafka_bootstrap, "fills")
    assert [s[2] for s in fills.schemas] == ["Fill", "OrderStatus"]


def test_show_gives_each_groups_lag_and_tail_reads_from_the_beginning(kafka_bootstrap: str) -> None:
    """A group that committed two records short of a partition's end shows a lag of two there; `--from-beginning`
    reads a key's records from the partition's start, the oldest first."""
    assert not ensure_topics(kafka_bootstrap).problems
    run = uuid.uuid4().hex[:10]
    key = f"tail-{run}"
    rec = records_per_topic(run)["alerts"]
    pub = Publisher(kafka_bootstrap, service="test")
    for i in range(3):
        pub.publish("alerts", key, replace(rec, alert_id=f"a{i}-{run}"))  # type: ignore[type-var]
    pub.flush()
    got = list(tail(kafka_bootstrap, "alerts", TailOptions(from_beginning=True, key=key, until_end=True)))
    assert [d.record.alert_id for d in got] == [f"a{i}-{run}" for i in range(3)]
    part, last = got[-1].message.partition, got[-1].message.offset
    group = f"show-{run}"
    commit_offsets(kafka_bootstrap, group, [TopicPartition("alerts", part, last - 1)])  # two behind the end
    info = show(kafka_bootstrap, "alerts")
    mine = [g for g in info.groups if g.group == group]
    end = next(p.high for p in info.partitions if p.partition == part)
    assert len(mine) == 1 and mine[0].committed == {part: last - 1} and mine[0].lag == {part: end - (last - 1)}
    assert end - (last - 1) >= 2  # the two records after the committed offset (more if others wrote since)
    printed = CliRunner().invoke(app, ["topics", "show", "alerts"], env={"KAFKA_BOOTSTRAP": kafka_bootstrap})
    assert printed.exit_code == 0 and group in printed.stdout, printed.stdout


def test_cli_shows_garbage_with_its_offset_between_good_records(kafka_bootstrap: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert not ensure_topics(kafka_bootstrap).problems
    run = uuid.uuid4().hex[:10]
    key = f"tail-{run}"
    since = int(time.time() * 1000) - 1_000
    recs = records_per_topic(run)
    pub = Publisher(kafka_bootstrap, service="test")
    pub.publish("alerts", key, recs["alerts"])
    pub.flush()
    where: list[tuple[int, int]] = []
    p = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random"})
    p.produce("alerts", key=key.encode(), value=b"not avro at all",  # made-up garbage: the point of the test
              on_delivery=lambda err, msg: where.append((msg.partition(), msg.offset())))
    p.flush(30)
    pub.publish("alerts", key, replace(recs["alerts"], alert_id=f"a2-{run}"))  # type: ignore[type-var]
    pub.flush()
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    cli = CliRunner()
    base = ["topics", "tail", "alerts", "--key", key, "--since", str(since), "--until-end"]
    text = cli.invoke(app, base)
    assert text.exit_code == 0, text.output
    lines = text.stdout.strip().splitlines()
    part, offset = where[0]
    assert len(lines) == 3, text.stdout
    assert "Alert " in lines[0] and "Alert " in lines[2]
    assert f"alerts[{part}]@{offset} key={key} UNDECODABLE" in lines[1] and "magic byte" in lines[1]
    js = cli.invoke(app, [*base, "--json"])
    rows = [json.loads(x) for x in js.stdout.strip().splitlines()]
    assert [r.get("undecodable", False) for r in rows] == [False, True, False]
    assert rows[1]["offset"] == offset and rows[0]["value"]["alert_id"] == f"a-{run}"
    show_out = cli.invoke(app, ["topics", "show", "alerts"])
    assert show_out.exit_code == 0 and "arbees.Alert" in show_out.stdout and "end offset" in show_out.stdout
