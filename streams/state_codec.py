"""The one codec of processor state in changelog-backed tables: versioned, typed JSON, no pickle.

A state that is itself a contract record (the router's latest link, listing and quote of a
market) is written as the contract writes it: Confluent-framed Avro, whose schema id names
the writer's schema version and whose reader resolves older versions (schemas/codec.py).

Any other state is `{"v": <version>, "schema": <fingerprint>, "data": ...}`. The schema is
the state dataclass itself: values are written and read field by field by its type
hints (dataclasses, enums, unit classes, tuples, dicts, optionals and tagged unions),
so a value never runs code on load and a reader of another shape fails loudly instead of
loading garbage. `version` is declared with the table in streams/topology.py; the
fingerprint (a hash of the type structure) is pinned per version by a unit test, so a
state shape cannot change without the version saying so. Why not the contract's Avro
generator (schemas/avro.py): state uses tuples, tagged unions and unit classes it does
not map, and state is internal, never a contract.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import types
import typing
from enum import Enum
from functools import lru_cache
from typing import Any, Generic, TypeVar

from schemas.avro import from_avro_fn, to_avro_fn
from schemas.codec import default_codec
from schemas.errors import DecodeError
from schemas.records import RECORD_TYPES

T = TypeVar("T")
_PLAIN = (str, int, float, bool)


class StateCodecError(ValueError):
    """A table value does not match the state type or version the reader expects."""


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return None


def describe(tp: Any, seen: frozenset[type] = frozenset()) -> str:
    """A canonical text of a type's structure (what the fingerprint hashes)."""
    if tp is type(None):
        return "null"
    if tp in _PLAIN or tp is bytes:
        return tp.__name__
    if (args := _union_args(tp)) is not None:
        return "union[" + ",".join(describe(a, seen) for a in args) + "]"
    origin = typing.get_origin(tp)
    if origin in (tuple, list, frozenset, set, dict):
        return f"{origin.__name__}[" + ",".join("..." if a is Ellipsis else describe(a, seen) for a in typing.get_args(tp)) + "]"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return f"enum {tp.__name__}(" + ",".join(str(m.value) for m in tp) + ")"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if tp in seen:
            return tp.__name__
        inner = seen | {tp}
        hints = _hints(tp)
        return f"{tp.__name__}{{" + ",".join(f"{f.name}:{describe(hints[f.name], inner)}" for f in dataclasses.fields(tp)) + "}"
    raise StateCodecError(f"no state mapping for {tp!r}")


@lru_cache(maxsize=None)
def fingerprint(cls: type) -> str:
    return hashlib.sha1(describe(cls).encode()).hexdigest()[:16]


def _tag(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else describe(tp)


def _matches(value: Any, tp: Any) -> bool:
    base = typing.get_origin(tp) or tp
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, base)


def to_plain(value: Any, tp: Any, avro_records: bool = False) -> Any:
    """`value` of type `tp` as JSON-able data (contract records as their Avro data with `avro_records`)."""
    return _encoder(tp, avro_records)(value)


Convert = typing.Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@lru_cache(maxsize=None)
def _encoder(tp: Any, avro: bool) -> Convert:
    """`to_plain` for one type, built once: the type's structure is read here, not per value."""
    if (args := _union_args(tp)) is not None:
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            one = _encoder(options[0], avro)
            return lambda v: None if v is None else one(v)
        tagged = [(a, _tag(a)) for a in options]

        def union(v: Any) -> Any:
            if v is None:
                return None
            for a, tag in tagged:
                if _matches(v, a):
                    return {"$t": tag, "v": _encoder(a, avro)(v)}
            raise StateCodecError(f"{type(v).__name__} is none of {tp!r}")
        return union
    if tp in _PLAIN or tp is type(None):
        return _identity
    if tp is bytes:  # packed depth ladders (schemas.depth): base64 text in the JSON
        return lambda b: None if b is None else base64.b64encode(b).decode("ascii")
    origin = typing.get_origin(tp)
    if origin is dict:
        k, v = typing.get_args(tp)
        ev = _encoder(v, avro)
        if k is str and ev is _identity:
            return lambda d: None if d is None else dict(d)
        if k is str:
            return lambda d: None if d is None else {key: ev(item) for key, item in d.items()}
        ek = _encoder(k, avro)
        return lambda d: None if d is None else [[ek(key), ev(item)] for key, item in d.items()]
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            e0 = _encoder(args[0], avro)
            if e0 is _identity:
                return lambda t: None if t is None else list(t)
            return lambda t: None if t is None else [e0(x) for x in t]
        each = [_encoder(a, avro) for a in args]
        return lambda t: None if t is None else [e(x) for x, e in zip(t, each, strict=True)]
    if origin in (list, frozenset, set):
        (item,) = typing.get_args(tp)
        ei = _encoder(item, avro)
        if origin is list and ei is _identity:
            return lambda xs: None if xs is None else list(xs)
        if origin is list:
            return lambda xs: None if xs is None else [ei(x) for x in xs]
        return lambda xs: None if xs is None else sorted((ei(x) for x in xs), key=json.dumps)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return lambda e: None if e is None else e.value
    if avro and tp in RECORD_TYPES:
        record = to_avro_fn(tp)
        return lambda r: None if r is None else record(r)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        names = tuple(f.name for f in dataclasses.fields(tp) if f.init)
        fields: list[tuple[str, Convert]] = []  # filled on first use: a dataclass may contain itself

        def obj(value: Any) -> Any:
            if value is None:
                return None
            if not fields:
                hints = _hints(tp)
                fields.extend((n, _encoder(hints[n], avro)) for n in names)
            return {n: e(getattr(value, n)) for n, e in fields}
        return obj
    raise StateCodecError(f"no state mapping for {tp!r}")


def from_plain(data: Any, tp: Any, avro_records: bool = False) -> Any:
    """The inverse of `to_plain`; any mismatch raises StateCodecError."""
    return _decoder(tp, avro_records)(data)


def _null(tp: Any) -> Any:
    raise StateCodecError(f"null where {tp!r} is required")


@lru_cache(maxsize=None)
def _decoder(tp: Any, avro: bool) -> Convert:
    """`from_plain` for one type, built once."""
    if tp is type(None):
        return lambda d: None if d is None else _fail(f"{d!r} where null is required")
    if (args := _union_args(tp)) is not None:
        options = [a for a in args if a is not type(None)]
        nullable = type(None) in args
        if len(options) == 1:
            one = _decoder(options[0], avro)
            return lambda d: (None if nullable else _null(tp)) if d is None else one(d)
        by_tag = {_tag(a): a for a in options}

        def union(d: Any) -> Any:
            if d is None:
                return None if nullable else _null(tp)
            if not isinstance(d, dict) or "$t" not in d:
                raise StateCodecError(f"untagged value for {tp!r}")
            a = by_tag.get(d["$t"])
            if a is None:
                raise StateCodecError(f"tag {d['$t']!r} is none of {tp!r}")
            return _decoder(a, avro)(d["v"])
        return union
    if tp in _PLAIN:
        def plain(d: Any) -> Any:
            if d is None:
                _null(tp)
            if not _matches(d, tp):
                raise StateCodecError(f"{d!r} is not a {tp.__name__}")
            return float(d) if tp is float else d
        return plain
    if tp is bytes:
        def packed(d: Any) -> Any:
            if not isinstance(d, str):
                raise StateCodecError(f"{d!r} is not base64 bytes")
            try:
                return base64.b64decode(d, validate=True)
            except ValueError as exc:
                raise StateCodecError(f"{d!r} is not base64 bytes: {exc}") from exc
        return packed
    origin = typing.get_origin(tp)
    if origin is dict:
        k, v = typing.get_args(tp)
        dk, dv = _decoder(k, avro), _decoder(v, avro)
        if k is str:
            return lambda d: _null(tp) if d is None else {dk(key): dv(item) for key, item in d.items()}
        return lambda d: _null(tp) if d is None else {dk(key): dv(item) for key, item in d}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            d0 = _decoder(args[0], avro)
            return lambda d: _null(tp) if d is None else tuple(d0(x) for x in d)
        each = [_decoder(a, avro) for a in args]

        def fixed(d: Any) -> Any:
            if d is None:
                _null(tp)
            if len(d) != len(each):
                raise StateCodecError(f"{len(d)} items for {tp!r}")
            return tuple(e(x) for x, e in zip(d, each))
        return fixed
    if origin in (list, frozenset, set):
        (item,) = typing.get_args(tp)
        di = _decoder(item, avro)
        return lambda d: _null(tp) if d is None else origin(di(x) for x in d)
    if isinstance(tp, type) and issubclass(tp, Enum):
        def enum(d: Any) -> Any:
            if d is None:
                _null(tp)
            try:
                return tp(d)
            except ValueError as exc:
                raise StateCodecError(str(exc)) from exc
        return enum
    if avro and tp in RECORD_TYPES:
        record = from_avro_fn(tp)

        def contract(d: Any) -> Any:
            if d is None:
                _null(tp)
            try:
                return record(d)
            except (KeyError, TypeError, ValueError) as exc:
                raise StateCodecError(f"{tp.__name__}: {exc}") from exc
        return contract
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        known = frozenset(f.name for f in dataclasses.fields(tp) if f.init)
        fields: dict[str, Convert] = {}  # filled on first use: a dataclass may contain itself

        def obj(d: Any) -> Any:
            if d is None:
                _null(tp)
            if not isinstance(d, dict):
                raise StateCodecError(f"{tp.__name__} needs an object, got {type(d).__name__}")
            if not fields:
                hints = _hints(tp)
                fields.update((n, _decoder(hints[n], avro)) for n in known)
            unknown = d.keys() - known
            if unknown:
                raise StateCodecError(f"{tp.__name__} has no field {sorted(unknown)}")
            try:
                return tp(**{name: fields[name](value) for name, value in d.items()})
            except (TypeError, ValueError) as exc:
                if isinstance(exc, StateCodecError):
                    raise
                raise StateCodecError(f"{tp.__name__}: {exc}") from exc
        return obj
    raise StateCodecError(f"no state mapping for {tp!r}")


def _fail(why: str) -> Any:
    raise StateCodecError(why)


@dataclasses.dataclass(frozen=True)
class StateCodec(Generic[T]):
    """Encodes and decodes one state type at one version."""

    cls: type[T]
    version: int
    avro_records: bool = False

    @property
    def schema(self) -> str:
        if self.cls in RECORD_TYPES:
            return f"avro:{self.cls.__name__}"
        return fingerprint(self.cls) + ("+avro" if self.avro_records else "")

    def encode(self, value: T) -> bytes:
        if not isinstance(value, self.cls):
            raise StateCodecError(f"expected {self.cls.__name__}, got {type(value).__name__}")
        if self.cls in RECORD_TYPES:
            return default_codec().encode(value)
        doc = {"v": self.version, "schema": self.schema, "data": to_plain(value, self.cls, self.avro_records)}
        return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()

    def decode(self, blob: bytes) -> T:
        if self.cls in RECORD_TYPES:
            try:
                value = default_codec().decode(blob)
            except DecodeError as exc:
                raise StateCodecError(f"{self.cls.__name__} value is not its contract record: {exc}") from exc
            if not isinstance(value, self.cls):
                raise StateCodecError(f"expected {self.cls.__name__}, got {type(value).__name__}")
            return value
        try:
            doc = json.loads(blob)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateCodecError(f"{self.cls.__name__} value is not state JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("v") != self.version or doc.get("schema") != self.schema:
            got = (doc.get("v"), doc.get("schema")) if isinstance(doc, dict) else None
            raise StateCodecError(f"{self.cls.__name__}: written as {got}, this reader is {(self.version, self.schema)}")
        return typing.cast(T, from_plain(doc["data"], self.cls, self.avro_records))
