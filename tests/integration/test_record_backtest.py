"""`arbees record` then `arbees backtest --input` reproduces the backtest run on the topics, record for record.

The recorded real session (data/sessions/nba-2026-finals-g3) is produced onto the registry input topics of
the real broker; its event-time range is backtested straight off the topics, recorded into a file, and the
file backtested. Both runs store themselves in PostgreSQL under their own run ids. Other tests publish the
same session onto these shared topics: the range may hold their copies too, and both runs see the same ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from connectors.publisher import make_producer
from ops import db
from ops.backtest.cli import backtest_app
from ops.backtest.recording import read_recording
from ops.backtest.source import read_inputs
from ops.sessions.replay import load_session
from ops.sink.store import conninfo
from ops.topics import ensure_topics
from schemas.codec import default_codec

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SESSION = Path(__file__).resolve().parents[2] / "data" / "sessions" / "nba-2026-finals-g3"


def _cli(*args: str) -> str:
    result = CliRunner().invoke(backtest_app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_record_then_backtest_input_reproduces_the_run_on_the_topics(kafka_bootstrap: str, database_url: str,
                                                                      tmp_path: Path) -> None:
    assert not ensure_topics(kafka_bootstrap).problems
    db.migrate(database_url)
    records = load_session(SESSION)
    producer, codec = make_producer(kafka_bootstrap), default_codec()
    for r in records:
        producer.produce(r.topic, key=r.key.encode(), value=codec.encode(r.value))
    assert producer.flush(60) == 0
    start, end = str(min(r.ts for r in records)), str(max(r.ts for r in records) + 1)
    common = ("--from", start, "--to", end, "--bootstrap", kafka_bootstrap)

    _cli("backtest", *common, "--report", str(tmp_path / "topics"), "--database-url", database_url)
    _cli("record", *common, "--out", str(tmp_path / "range.avro"))
    _cli("backtest", "--input", str(tmp_path / "range.avro"), "--report", str(tmp_path / "file"),
         "--database-url", database_url)

    # the file holds the topics' records, coordinates included
    recording = read_recording(tmp_path / "range.avro")
    from_file = recording.inputs().records
    on_topics = read_inputs(kafka_bootstrap, int(start), int(end)).records
    assert len(from_file) >= len(records)
    assert sorted((r.topic, r.partition, r.offset, codec.encode(r.value)) for r in from_file) == sorted(
        (r.topic, r.partition, r.offset, codec.encode(r.value)) for r in on_topics)

    # and the two runs are one run: same outputs byte for byte, same report, different run ids
    topics_run, file_run = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("topics", "file"))
    ids = topics_run["run"]["run_id"], file_run["run"]["run_id"]
    assert ids[0] != ids[1]
    assert topics_run["run"]["digest"] == file_run["run"]["digest"]
    assert topics_run["run"]["inputs"] == file_run["run"]["inputs"] == len(from_file)
    assert topics_run["figures"] == file_run["figures"] and topics_run["trades"] == file_run["trades"]
    assert topics_run["figures"]["orders"] > 0 and topics_run["figures"]["fills"] > 0

    with psycopg.connect(conninfo(database_url)) as conn:
        runs = dict(conn.execute("SELECT run_id, digest FROM backtest_runs WHERE run_id = ANY(%s)", (list(ids),)).fetchall())
        assert runs == {ids[0]: topics_run["run"]["digest"], ids[1]: topics_run["run"]["digest"]}
        outputs = [conn.execute("SELECT topic, seq, value FROM backtest_outputs WHERE run_id = %s ORDER BY topic, seq",
                                (i,)).fetchall() for i in ids]
        assert outputs[0] == outputs[1] and any(t == "fills" for t, _, _ in outputs[0])
        trades = conn.execute("SELECT count(*), sum(net_pnl_micros) FROM backtest_trades WHERE run_id = %s",
                              (ids[1],)).fetchone()
        assert trades == (len(file_run["trades"]), sum(t["net_pnl_micros"] for t in file_run["trades"]))
        assert trades[0] > 0
