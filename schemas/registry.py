"""Schema ids: a Confluent-compatible registry when configured, else the local file.

Subjects follow Confluent's RecordNameStrategy (`arbees.<Record>`), so one topic
may carry several record types (as `fills` does) and any Confluent-aware tool
can resolve an id to its schema.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from schemas.errors import RegistryError

REGISTRY_FILE = Path(__file__).with_name("registry.json")


def canonical(schema: dict[str, Any]) -> str:
    """The full schema as stable JSON: unlike Avro's Parsing Canonical Form it keeps
    defaults, docs and logical types, which readers need for resolution."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def schema_fingerprint(schema: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(schema).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RegisteredSchema:
    schema_id: int
    subject: str
    schema: dict[str, Any]


class SchemaRegistry(Protocol):
    def id_for(self, subject: str, schema: dict[str, Any]) -> int: ...

    def schema_for(self, schema_id: int) -> RegisteredSchema: ...


class LocalRegistry:
    """The registry committed in the repository: every schema version ever released, by id."""

    def __init__(self, path: Path = REGISTRY_FILE) -> None:
        self.path = path
        self._by_id: dict[int, RegisteredSchema] = {}
        self._by_fp: dict[tuple[str, str], int] = {}
        if path.exists():
            data = json.loads(path.read_text())
            for entry in data["schemas"]:
                schema = json.loads(entry["schema"])
                reg = RegisteredSchema(int(entry["id"]), entry["subject"], schema)
                self._by_id[reg.schema_id] = reg
                self._by_fp[(reg.subject, schema_fingerprint(schema))] = reg.schema_id

    def id_for(self, subject: str, schema: dict[str, Any]) -> int:
        try:
            return self._by_fp[(subject, schema_fingerprint(schema))]
        except KeyError:
            raise RegistryError(
                f"{subject}: this schema version is not in {self.path.name}; run `python -m schemas.generate`"
            ) from None

    def schema_for(self, schema_id: int) -> RegisteredSchema:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise RegistryError(f"schema id {schema_id} is not in {self.path.name}") from None

    def add(self, subject: str, schema: dict[str, Any]) -> tuple[int, bool]:
        """Register a schema version; returns (id, created)."""
        key = (subject, schema_fingerprint(schema))
        if key in self._by_fp:
            return self._by_fp[key], False
        new_id = max(self._by_id, default=0) + 1
        self._by_id[new_id] = RegisteredSchema(new_id, subject, schema)
        self._by_fp[key] = new_id
        return new_id, True

    def save(self) -> None:
        entries = [
            {"id": r.schema_id, "subject": r.subject, "schema": canonical(r.schema)}
            for r in sorted(self._by_id.values(), key=lambda r: r.schema_id)
        ]
        self.path.write_text(json.dumps({"schemas": entries}, indent=1) + "\n")

    def all(self) -> list[RegisteredSchema]:
        return sorted(self._by_id.values(), key=lambda r: r.schema_id)


class ConfluentRegistry:
    """A Confluent-compatible schema registry over HTTP (Confluent, Karapace, Redpanda)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, RegisteredSchema] = {}

    def id_for(self, subject: str, schema: dict[str, Any]) -> int:
        key = (subject, schema_fingerprint(schema))
        if key not in self._ids:
            body = {"schemaType": "AVRO", "schema": canonical(schema)}
            try:
                resp = self._client.post(f"/subjects/{subject}/versions", json=body)
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise RegistryError(f"registering {subject} failed: {exc}") from exc
            self._ids[key] = int(resp.json()["id"])
            self._schemas[self._ids[key]] = RegisteredSchema(self._ids[key], subject, schema)
        return self._ids[key]

    def schema_for(self, schema_id: int) -> RegisteredSchema:
        if schema_id not in self._schemas:
            try:
                resp = self._client.get(f"/schemas/ids/{schema_id}")
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise RegistryError(f"schema id {schema_id}: {exc}") from exc
            schema = json.loads(resp.json()["schema"])
            subject = f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".")
            self._schemas[schema_id] = RegisteredSchema(schema_id, subject, schema)
        return self._schemas[schema_id]


def default_registry() -> SchemaRegistry:
    url = os.environ.get("SCHEMA_REGISTRY_URL")
    return ConfluentRegistry(url) if url else LocalRegistry()
