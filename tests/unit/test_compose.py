"""docker-compose.yml is valid Compose and wires every service a user needs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from streams.app import AGENT_MODULES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
WORKER_ENV = {"KAFKA_BOOTSTRAP", "DATABASE_URL", "SCHEMA_REGISTRY_URL", "ARBEES_MODE", "ARBEES_APP_ID", "ARBEES_AGENTS"}


def test_validates_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests/fixtures/compose/compose_spec.json").read_text())
    doc = {k: v for k, v in COMPOSE.items() if not k.startswith("x-") and k != "name"}
    jsonschema.validate(doc, schema)


def test_infrastructure_services_and_pinned_images() -> None:
    assert SERVICES["kafka"]["image"] == "apache/kafka:4.0.1"
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert SERVICES["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert "kafbat/kafka-ui" in SERVICES["kafka-ui"]["image"]
    assert SERVICES["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:9092"
    for svc in SERVICES.values():
        if "image" in svc and "build" not in svc:
            assert ":" in svc["image"] and not svc["image"].endswith(":latest"), svc["image"]


def test_init_job_creates_topics_and_migrates_before_any_worker() -> None:
    init = SERVICES["init"]
    assert "arbees topics create" in " ".join(init["entrypoint"]) and "arbees db migrate" in " ".join(init["entrypoint"])
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert init["depends_on"]["timescaledb"]["condition"] == "service_healthy"


def test_every_agent_runs_in_exactly_one_worker_service_with_the_env_it_needs() -> None:
    workers = {name: svc for name, svc in SERVICES.items() if "ARBEES_AGENTS" in svc.get("environment", {})}
    covered: list[str] = []
    app_ids = set()
    for name, svc in workers.items():
        env = svc["environment"]
        assert WORKER_ENV <= set(env), f"{name} lacks {WORKER_ENV - set(env)}"
        assert env["ARBEES_MODE"] == "paper"
        assert env["KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert svc["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert svc["build"] == "."
        app_ids.add(env["ARBEES_APP_ID"])
        covered += [a.strip() for a in env["ARBEES_AGENTS"].split(",")]
    assert len(app_ids) == len(workers), "each agent group needs its own consumer group"
    assert sorted(covered) == sorted(m.rsplit(".", 1)[-1] for m in AGENT_MODULES)


@pytest.mark.parametrize("path", ["Dockerfile", ".dockerignore"])
def test_image_build_files_exist(path: str) -> None:
    text = (ROOT / path).read_text()
    if path == "Dockerfile":
        assert "pip install ." in text and "USER arbees" in text


def test_connectors_and_sink_run_as_services() -> None:
    entry = {name: " ".join(svc.get("entrypoint", [])) for name, svc in SERVICES.items()}
    assert entry["sink"] == "python -m ops.sink"
    assert entry["espn"].startswith("python -m connectors.espn live")
    # the venues' feeds start as `arbees run` plans them (ops.run.feed): the same series and tags everywhere
    assert entry["kalshi"] == "python -m ops.run.feed kalshi" and entry["polymarket"] == "python -m ops.run.feed polymarket"
    assert entry["coingecko"].startswith("python -m connectors.coingecko live")
    assert entry["fred"].startswith("python -m connectors.fred live")
    assert entry["polls"].startswith("python -m connectors.polls live")
    for name in ("sink", "espn", "kalshi", "polymarket", "coingecko", "fred", "polls"):
        assert "ARBEES_AGENTS" not in SERVICES[name]["environment"]
        assert SERVICES[name]["environment"]["ARBEES_MODE"] == "paper"
