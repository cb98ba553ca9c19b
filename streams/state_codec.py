"""The one codec of processor state in changelog-backed tables: versioned, typed JSON, no pickle.

A table value is `{"v": <version>, "schema": <fingerprint>, "data": ...}`. The schema is
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


def to_plain(value: Any, tp: Any) -> Any:
    """`value` of type `tp` as JSON-able data."""
    if value is None:
        return None
    if (args := _union_args(tp)) is not None:
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return to_plain(value, options[0])
        for a in options:
            if _matches(value, a):
                return {"$t": _tag(a), "v": to_plain(value, a)}
        raise StateCodecError(f"{type(value).__name__} is none of {tp!r}")
    if tp in _PLAIN:
        return value
    if tp is bytes:  # packed depth ladders (schemas.depth): base64 text in the JSON
        return base64.b64encode(value).decode("ascii")
    origin = typing.get_origin(tp)
    if origin is dict:
        k, v = typing.get_args(tp)
        if k is str:
            return {key: to_plain(item, v) for key, item in value.items()}
        return [[to_plain(key, k), to_plain(item, v)] for key, item in value.items()]
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return [to_plain(x, args[0]) for x in value]
        return [to_plain(x, a) for x, a in zip(value, args, strict=True)]
    if origin in (list, frozenset, set):
        (item,) = typing.get_args(tp)
        items = [to_plain(x, item) for x in value]
        return items if origin is list else sorted(items, key=json.dumps)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return value.value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return {f.name: to_plain(getattr(value, f.name), hints[f.name]) for f in dataclasses.fields(tp) if f.init}
    raise StateCodecError(f"no state mapping for {tp!r}")


def from_plain(data: Any, tp: Any) -> Any:
    """The inverse of `to_plain`; any mismatch raises StateCodecError."""
    if data is None:
        if tp is type(None) or type(None) in (_union_args(tp) or ()):
            return None
        raise StateCodecError(f"null where {tp!r} is required")
    if (args := _union_args(tp)) is not None:
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return from_plain(data, options[0])
        if not isinstance(data, dict) or "$t" not in data:
            raise StateCodecError(f"untagged value for {tp!r}")
        for a in options:
            if _tag(a) == data["$t"]:
                return from_plain(data["v"], a)
        raise StateCodecError(f"tag {data['$t']!r} is none of {tp!r}")
    if tp in _PLAIN:
        if not _matches(data, tp):
            raise StateCodecError(f"{data!r} is not a {tp.__name__}")
        return float(data) if tp is float else data
    if tp is bytes:
        if not isinstance(data, str):
            raise StateCodecError(f"{data!r} is not base64 bytes")
        try:
            return base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise StateCodecError(f"{data!r} is not base64 bytes: {exc}") from exc
    origin = typing.get_origin(tp)
    if origin is dict:
        k, v = typing.get_args(tp)
        pairs = data.items() if k is str else data
        return {from_plain(key, k): from_plain(item, v) for key, item in pairs}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_plain(x, args[0]) for x in data)
        if len(data) != len(args):
            raise StateCodecError(f"{len(data)} items for {tp!r}")
        return tuple(from_plain(x, a) for x, a in zip(data, args))
    if origin in (list, frozenset, set):
        (item,) = typing.get_args(tp)
        return origin(from_plain(x, item) for x in data)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError as exc:
            raise StateCodecError(str(exc)) from exc
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise StateCodecError(f"{tp.__name__} needs an object, got {type(data).__name__}")
        hints = _hints(tp)
        known = {f.name: f for f in dataclasses.fields(tp) if f.init}
        unknown = set(data) - set(known)
        if unknown:
            raise StateCodecError(f"{tp.__name__} has no field {sorted(unknown)}")
        try:
            return tp(**{name: from_plain(value, hints[name]) for name, value in data.items()})
        except (TypeError, ValueError) as exc:
            if isinstance(exc, StateCodecError):
                raise
            raise StateCodecError(f"{tp.__name__}: {exc}") from exc
    raise StateCodecError(f"no state mapping for {tp!r}")


@dataclasses.dataclass(frozen=True)
class StateCodec(Generic[T]):
    """Encodes and decodes one state type at one version."""

    cls: type[T]
    version: int

    @property
    def schema(self) -> str:
        return fingerprint(self.cls)

    def encode(self, value: T) -> bytes:
        if not isinstance(value, self.cls):
            raise StateCodecError(f"expected {self.cls.__name__}, got {type(value).__name__}")
        doc = {"v": self.version, "schema": self.schema, "data": to_plain(value, self.cls)}
        return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()

    def decode(self, blob: bytes) -> T:
        try:
            doc = json.loads(blob)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateCodecError(f"{self.cls.__name__} value is not state JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("v") != self.version or doc.get("schema") != self.schema:
            got = (doc.get("v"), doc.get("schema")) if isinstance(doc, dict) else None
            raise StateCodecError(f"{self.cls.__name__}: written as {got}, this reader is {(self.version, self.schema)}")
        return typing.cast(T, from_plain(doc["data"], self.cls))
