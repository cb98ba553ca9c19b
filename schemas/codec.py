"""Confluent wire framing over fastavro: magic byte 0, 4-byte big-endian schema id, Avro body.

Decoding resolves the writer's schema by id and reads it into the current
dataclass (Avro schema resolution), so records written by an older version of
a schema still decode.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import validate

from schemas.avro import field_converters, from_avro_fn, plain_schema, schema_of, to_avro_fn
from schemas import legacy_depth
from schemas.errors import DecodeError, RegistryError, SchemaViolation
from schemas.records import RECORD_TYPES
from schemas.registry import SchemaRegistry, default_registry

MAGIC = 0
_HEADER = struct.Struct(">bI")


def subject_of(cls: type) -> str:
    return f"arbees.{cls.__name__}"


class Codec:
    """Encodes record dataclasses to framed Avro and back."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry or default_registry()
        self._writers: dict[type, tuple[bytes, Any, Any]] = {}
        self._readers: dict[int, tuple[type, Any, Any, Any]] = {}
        self._by_subject = {subject_of(cls): cls for cls in RECORD_TYPES}

    def _writer(self, cls: type) -> tuple[bytes, Any, Any]:
        if cls not in self._writers:
            if cls not in RECORD_TYPES:
                raise SchemaViolation(cls.__name__, "-", "not a top-level Arbees record type")
            schema = schema_of(cls)
            schema_id = self.registry.id_for(subject_of(cls), schema)
            self._writers[cls] = (_HEADER.pack(MAGIC, schema_id), parse_schema(plain_schema(schema)), to_avro_fn(cls))
        return self._writers[cls]

    def schema_id(self, cls: type) -> int:
        return _HEADER.unpack(self._writer(cls)[0])[1]

    def encode(self, record: Any) -> bytes:
        header, parsed, convert = self._writer(type(record))
        buf = io.BytesIO()
        buf.write(header)
        try:
            data = convert(record)
            schemaless_writer(buf, parsed, data)
        except Exception as exc:  # fastavro raises assorted types; name the field for the caller
            raise _violation(type(record), record, parsed, exc) from exc
        return buf.getvalue()

    def _reader(self, schema_id: int) -> tuple[type, Any, Any, Any]:
        if schema_id not in self._readers:
            try:
                reg = self.registry.schema_for(schema_id)
            except RegistryError as exc:
                raise DecodeError(str(exc)) from exc
            cls = self._by_subject.get(reg.subject)
            if cls is None:
                raise DecodeError(f"schema id {schema_id} ({reg.subject}) is not an Arbees record type")
            current = schema_of(cls)
            writer = parse_schema(plain_schema(reg.schema))
            # schema resolution only when the writer used another version: it is the slow path
            reader = None if reg.schema == current else parse_schema(plain_schema(current))
            convert = from_avro_fn(cls)
            if legacy_depth.has_legacy_depth(reg.schema):  # per-level ladders of old quotes: packed on read
                reader = parse_schema(plain_schema(legacy_depth.reader_schema(current)))
                build = convert
                convert = lambda raw: build(legacy_depth.upgrade(raw))  # noqa: E731
            self._readers[schema_id] = (cls, writer, reader, convert)
        return self._readers[schema_id]

    def decode(self, data: bytes | None) -> Any:
        if not data or len(data) < _HEADER.size:
            raise DecodeError(f"{len(data or b'')} bytes: too short for a framed Avro record")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError(f"magic byte {magic}, expected {MAGIC}: not Confluent-framed Avro")
        cls, writer, reader, convert = self._reader(schema_id)
        try:
            raw = schemaless_reader(io.BytesIO(memoryview(data)[_HEADER.size :]), writer, reader)
            return convert(raw)
        except Exception as exc:
            raise DecodeError(f"{cls.__name__} (schema id {schema_id}): undecodable body: {exc}") from exc


def _violation(cls: type, record: Any, parsed: Any, exc: Exception) -> SchemaViolation:
    for name, conv in field_converters(cls):
        value = getattr(record, name, None)
        try:
            conv(value)
        except Exception as detail:
            return SchemaViolation(cls.__name__, name, f"{value!r} does not fit: {detail}")
    try:
        validate(to_avro_fn(cls)(record), parsed, raise_errors=True)
    except Exception as detail:  # ValidationError lists the failing field path
        text = str(detail)
        field = _field_in(text, cls) or "?"
        return SchemaViolation(cls.__name__, field, text)
    return SchemaViolation(cls.__name__, _field_in(str(exc), cls) or "?", str(exc))


def _field_in(text: str, cls: type) -> str | None:
    import dataclasses

    names = [f.name for f in dataclasses.fields(cls)]
    hits = [n for n in names if f".{n} " in text or f".{n}'" in text or f"{n} is" in text or f"field {n}" in text]
    return max(hits, key=len) if hits else None


_default: Codec | None = None


def default_codec() -> Codec:
    """The process-wide codec (registry chosen from SCHEMA_REGISTRY_URL)."""
    global _default
    if _default is None:
        _default = Codec()
    return _default
