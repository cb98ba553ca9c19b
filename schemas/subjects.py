"""Topic subjects (`<topic>-value`) on a Confluent-compatible schema registry, so Kafka UI decodes every topic.

The codec registers each record type under its record name (`arbees.<Record>`,
RecordNameStrategy: one topic may carry several types). Kafka UI picks its
schema-registry deserializer for a topic only when the subject `<topic>-value`
exists (TopicNameStrategy), then decodes each message by the schema id in its
frame. So every topic also gets `<topic>-value`: the record's own schema where
the topic carries one type (the registry gives identical content the same id),
and where it carries several (`fills`) a union of references to the record
subjects, Confluent's documented form for several event types in one topic.
Compatibility is the contract's evolution rule (schemas/README.md: new fields
with defaults, never a type change or a removal without default, checked both
ways against every version): FULL_TRANSITIVE.

REST calls, as documented by Confluent (docs.confluent.io, Schema Registry API reference):
PUT /config/{subject}, POST /subjects/{subject}/versions, POST /subjects/{subject} (look-up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from schemas.avro import schema_of
from schemas.codec import subject_of
from schemas.errors import RegistryError
from schemas.registry import canonical
from schemas.topics import TOPICS, TopicSpec

COMPATIBILITY = "FULL_TRANSITIVE"
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def topic_subject(topic: str) -> str:
    return f"{topic}-value"


@dataclass(frozen=True)
class Registered:
    subject: str
    schema_id: int
    version: int
    references: tuple[str, ...] = ()  # record subjects a union refers to


def _call(client: httpx.Client, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        resp = client.request(method, path, content=json.dumps(body), headers={"Content-Type": CONTENT_TYPE,
                                                                             "Accept": CONTENT_TYPE})
    except httpx.HTTPError as exc:
        raise RegistryError(f"{method} {path}: {exc}") from exc
    if resp.status_code >= 300:
        raise RegistryError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:300]}")
    return dict(resp.json())


def _register(client: httpx.Client, subject: str, body: dict[str, Any]) -> Registered:
    _call(client, "PUT", f"/config/{subject}", {"compatibility": COMPATIBILITY})
    schema_id = int(_call(client, "POST", f"/subjects/{subject}/versions", body)["id"])
    found = _call(client, "POST", f"/subjects/{subject}", body)  # the version number the registry gave it
    refs = tuple(r["subject"] for r in body.get("references", ()))
    return Registered(subject, schema_id, int(found["version"]), refs)


def register_topic_subjects(client: httpx.Client, topics: tuple[TopicSpec, ...] = TOPICS) -> list[Registered]:
    """Register every record type under `arbees.<Record>` and every topic under `<topic>-value`, idempotently."""
    records: dict[type, Registered] = {}
    for spec in topics:
        for cls in spec.value_types:
            if cls not in records:
                records[cls] = _register(client, subject_of(cls),
                                         {"schemaType": "AVRO", "schema": canonical(schema_of(cls))})
    out = list(records.values())
    for spec in topics:
        if len(spec.value_types) == 1:
            body: dict[str, Any] = {"schemaType": "AVRO", "schema": canonical(schema_of(spec.value_types[0]))}
        else:
            refs = [records[cls] for cls in spec.value_types]
            body = {"schemaType": "AVRO", "schema": json.dumps([r.subject for r in refs]),
                    "references": [{"name": r.subject, "subject": r.subject, "version": r.version} for r in refs]}
        out.append(_register(client, topic_subject(spec.name), body))
    return out


def register_all(url: str, timeout: float = 10.0) -> list[Registered]:
    with httpx.Client(base_url=url.rstrip("/"), timeout=timeout) as client:
        return register_topic_subjects(client)
