"""deploy/k8s/arbees.yaml is valid Kubernetes (v1.33 strict schemas) and deploys what deploy/README.md says (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from ops.run.parts import AGENT_GROUPS
from streams.replication import Replication

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "fixtures" / "k8s"
DOCS: list[dict[str, Any]] = [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "arbees.yaml").read_text()) if d]
SCHEMA_OF = {("apps/v1", "Deployment"): "deployment-apps-v1.json", ("batch/v1", "Job"): "job-batch-v1.json",
             ("v1", "ConfigMap"): "configmap-v1.json"}
REGISTRY = Registry().with_resource(
    "/api/_definitions.json", Resource.from_contents(json.loads((SCHEMAS / "_definitions.json").read_text())))


def validator(kind: tuple[str, str]) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / SCHEMA_OF[kind]).read_text())
    return jsonschema.Draft7Validator(schema, registry=REGISTRY)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    kind = (doc["apiVersion"], doc["kind"])
    assert kind in SCHEMA_OF, f"{kind}: only Deployments, a Job and a ConfigMap (no StatefulSet: state is in changelogs)"
    errors = [e.message for e in validator(kind).iter_errors(doc)]
    assert errors == []


def test_the_validation_refuses_a_broken_deployment() -> None:
    """Made-up breakage of a real document: the schema check is not a formality."""
    broken = json.loads(json.dumps(next(d for d in DOCS if d["kind"] == "Deployment")))
    broken["spec"]["replicas"] = "three"
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    broken["spec"]["template"]["spec"]["containres"] = []
    assert len(list(validator(("apps/v1", "Deployment")).iter_errors(broken))) >= 3


def env_of(doc: dict[str, Any]) -> dict[str, str]:
    c = doc["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def test_one_deployment_per_agent_group_each_its_own_consumer_group() -> None:
    deployments = {d["metadata"]["name"]: d for d in DOCS if d["kind"] == "Deployment"}
    agents = {env_of(d)["ARBEES_AGENTS"]: env_of(d)["ARBEES_APP_ID"] for d in deployments.values()
              if "ARBEES_AGENTS" in env_of(d)}
    assert {a for names in agents for a in names.split(",")} == set(AGENT_GROUPS)
    assert len(set(agents.values())) == len(agents)  # one consumer group per Deployment
    for d in deployments.values():
        c = d["spec"]["template"]["spec"]["containers"][0]
        if "ARBEES_AGENTS" in env_of(d):  # through the launcher: it reads the live topic generation
            assert c["command"][:3] == ["python", "-m", "streams.agents.worker"]
        spread = d["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
        assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert deployments["arbees-shard"]["spec"]["replicas"] > 1


def test_the_cluster_settings_replicate_three_times_with_two_in_sync() -> None:
    (cm,) = [d for d in DOCS if d["kind"] == "ConfigMap"]
    rep = Replication.from_env(cm["data"])
    assert rep.factor == 3 and rep.topic_config() == {"min.insync.replicas": "2"}
    assert cm["data"]["ARBEES_MODE"] == "paper" and "," in cm["data"]["KAFKA_BOOTSTRAP"]
    assert Replication.from_env({}).topic_config() == {}  # the local single node keeps the broker's default
