"""Schema evolution: every schema stays readable by and of every earlier version of itself.

Rules (schemas/README.md): new fields need defaults; no type changes; enum
symbols are only added and every enum has a fallback default. Checked here with
fastavro schema resolution in both directions against (1) every version in the
local registry and (2) the last committed version of each `.avsc` file.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.avro import schema_of, to_avro_fn
from schemas.codec import subject_of
from schemas.generate import AVSC_DIR, render
from schemas.records import RECORD_TYPES
from schemas.registry import LocalRegistry, schema_fingerprint
from tests.unit.schemas.strategies import records

REPO = Path(__file__).resolve().parents[3]


def _resolves(writer: dict, reader: dict, datum: dict) -> None:
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(writer), datum)
    buf.seek(0)
    schemaless_reader(buf, parse_schema(writer), parse_schema(reader))


def _sample(schema: dict) -> dict:
    """A datum valid under `schema`: every field's default, or a minimal value."""
    out = {}
    for f in schema["fields"]:
        if "default" in f:
            value = f["default"]
            out[f["name"]] = value.encode("latin-1") if f["type"] == "bytes" else value
            continue
        t = f["type"]
        t = t["type"] if isinstance(t, dict) and t.get("type") != "enum" else t
        if isinstance(t, dict) and t.get("type") == "enum":
            out[f["name"]] = t["symbols"][0]
        else:
            out[f["name"]] = {"string": "x", "long": 1, "int": 1, "double": 1.0, "boolean": True, "bytes": b"x"}[t]
    return out


def test_generated_files_match_the_dataclasses() -> None:
    registry = LocalRegistry()
    for cls in RECORD_TYPES:
        path = AVSC_DIR / f"{cls.__name__}.avsc"
        assert path.exists(), f"{path.name} missing: run python -m schemas.generate"
        assert path.read_text() == render(cls), f"{path.name} is stale: run python -m schemas.generate"
        registry.id_for(subject_of(cls), schema_of(cls))  # raises when the version is unregistered


def test_every_field_added_after_the_first_version_has_a_default() -> None:
    registry = LocalRegistry()
    for cls in RECORD_TYPES:
        versions = [r for r in registry.all() if r.subject == subject_of(cls)]
        first = {f["name"] for f in versions[0].schema["fields"]}
        for f in schema_of(cls)["fields"]:
            if f["name"] not in first:
                assert "default" in f, f"{cls.__name__}.{f['name']} was added without a default"


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
def test_current_schema_resolves_both_ways_with_every_registered_version(cls: type) -> None:
    current = schema_of(cls)
    for old in [r for r in LocalRegistry().all() if r.subject == subject_of(cls)]:
        _resolves(old.schema, current, _sample(old.schema))  # old data, new reader
        _resolves(current, old.schema, _sample(current))  # new data, old reader


@functools.cache
def _committed_text(rel: Path) -> str | None:
    """HEAD's text of a schema file, read once per run (the property test asks for each type on every example)."""
    proc = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        assert "exists on disk, but not in" in proc.stderr or "does not exist" in proc.stderr, proc.stderr
        return None  # a new record type: nothing to be compatible with
    return proc.stdout


def _committed(path: Path) -> dict | None:
    text = _committed_text(path.relative_to(REPO))
    return None if text is None else json.loads(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_current_schema_resolves_both_ways_with_last_committed_version(data: st.DataObject) -> None:
    for cls in RECORD_TYPES:
        previous = _committed(AVSC_DIR / f"{cls.__name__}.avsc")
        if previous is None:
            continue
        current = schema_of(cls)
        record = data.draw(records(cls))
        _resolves(current, previous, to_avro_fn(cls)(record))
        if schema_fingerprint(previous) == schema_fingerprint(current):
            _resolves(previous, current, to_avro_fn(cls)(record))
        else:
            _resolves(previous, current, _sample(previous))


def test_a_type_change_is_caught() -> None:
    """The check above is not vacuous: a changed field type fails resolution."""
    from schemas.records import LedgerEntry

    current = schema_of(LedgerEntry)
    broken = json.loads(json.dumps(current))
    for f in broken["fields"]:
        if f["name"] == "delta_micros":
            f["type"] = "string"
    with pytest.raises(Exception):
        _resolves(current, broken, _sample(current))
