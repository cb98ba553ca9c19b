"""`<topic>-value` subjects on a registry that follows Confluent's documented REST contract, as Kafka UI reads them."""

from __future__ import annotations

import io
import json
import struct

import httpx
from fastavro import parse_schema, schemaless_reader

from schemas.codec import Codec
from schemas.registry import ConfluentRegistry
from schemas.subjects import COMPATIBILITY, register_all, register_topic_subjects
from schemas.topics import TOPICS
from tests.unit.schemas.confluent_contract import ContractServer
from tests.unit.sink.samples import every_type


def test_every_topic_has_its_value_subject_with_the_contract_rule() -> None:
    with ContractServer() as srv:
        done = register_all(srv.url)
        reg = srv.registry
        for t in TOPICS:
            subject = f"{t.name}-value"
            assert subject in reg.subjects, subject
            assert reg.config[subject] == COMPATIBILITY
        fills = next(r for r in done if r.subject == "fills-value")
        assert fills.references == ("arbees.Fill", "arbees.OrderStatus")
        assert json.loads(reg.by_id[fills.schema_id]["schema"]) == ["arbees.Fill", "arbees.OrderStatus"]
        signals = next(r for r in done if r.subject == "signals-value")
        assert signals.schema_id == next(r.schema_id for r in done if r.subject == "arbees.Signal")  # same content, same id
        versions = {s: list(v) for s, v in reg.subjects.items()}
        with httpx.Client(base_url=srv.url) as client:
            register_topic_subjects(client)  # again: nothing new
        assert reg.subjects == versions


def test_kafka_ui_path_decodes_what_the_codec_wrote() -> None:
    """Kafka UI: the topic's subject exists, so it reads the frame's schema id, fetches it and decodes the body."""
    with ContractServer() as srv:
        register_all(srv.url)
        codec = Codec(ConfluentRegistry(srv.url))
        by_topic = {t.name: t for t in TOPICS}
        with httpx.Client(base_url=srv.url) as ui:
            subjects = ui.get("/subjects").json()
            for rec in every_type("ui"):
                topic = next(t for t in by_topic.values() if type(rec) in t.value_types)
                assert f"{topic.name}-value" in subjects
                frame = codec.encode(rec)
                magic, schema_id = struct.unpack(">bI", frame[:5])
                fetched = ui.get(f"/schemas/ids/{schema_id}").json()
                body = schemaless_reader(io.BytesIO(frame[5:]), parse_schema(json.loads(fetched["schema"])))
                assert magic == 0 and body[next(iter(body))] == getattr(rec, next(iter(body)))


def test_a_request_off_the_contract_is_refused() -> None:
    """The double refuses what the documented API refuses (made-up bad requests)."""
    with ContractServer() as srv, httpx.Client(base_url=srv.url) as client:
        assert client.put("/config/x-value", json={"compatibility": "FULLY"}).json()["error_code"] == 42203
        assert client.post("/subjects/x-value/versions", json={"schema": "{\"type\": \"nope\"}"}).json()["error_code"] == 42201
        bad_ref = {"schema": "[\"arbees.Fill\"]", "references": [{"name": "arbees.Fill", "subject": "arbees.Fill", "version": 1}]}
        assert client.post("/subjects/fills-value/versions", json=bad_ref).status_code == 422


def test_cli_registers_on_the_given_registry() -> None:
    from typer.testing import CliRunner

    from ops.cli import app

    with ContractServer() as srv:
        out = CliRunner().invoke(app, ["topics", "register", "--url", srv.url])
        assert out.exit_code == 0, out.output
        assert f"and {len(TOPICS)} topic subjects" in out.output
        assert {f"{t.name}-value" for t in TOPICS} <= set(srv.registry.subjects)
