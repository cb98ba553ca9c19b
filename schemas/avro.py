"""Dataclass <-> Avro: schema generation and record conversion.

The dataclasses in `schemas.records` are the source; this module derives their
Avro schemas and turns instances into the plain values fastavro writes (and
back), so no caller ever handles the dicts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime, timezone
from enum import Enum
from functools import lru_cache
from typing import Any, Callable

NAMESPACE = "arbees"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_PRIMITIVES: dict[type, str] = {
    int: "long",
    float: "double",
    str: "string",
    bool: "boolean",
    bytes: "bytes",
}

#: Enum symbol an older reader falls back to when it meets a symbol it does not know.
_ENUM_FALLBACKS = ("UNKNOWN", "OTHER")


def _optional_inner(tp: Any) -> Any | None:
    """Return X for `X | None`, else None."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_schema(tp: Any, logical: str | None, named: set[str]) -> Any:
    inner = _optional_inner(tp)
    if inner is not None:
        return ["null", _type_schema(inner, logical, named)]
    if tp in _PRIMITIVES:
        base = _PRIMITIVES[tp]
        if logical:
            return {"type": base, "logicalType": logical}
        return base
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": _type_schema(item, None, named)}
    if origin is dict:
        key, value = typing.get_args(tp)
        if key is not str:
            raise TypeError(f"Avro maps need string keys, got {key!r}")
        return {"type": "map", "values": _type_schema(value, None, named)}
    if isinstance(tp, type) and issubclass(tp, Enum):
        full = f"{NAMESPACE}.{tp.__name__}"
        if full in named:
            return full
        named.add(full)
        symbols = [m.value for m in tp]
        schema: dict[str, Any] = {"type": "enum", "name": tp.__name__, "namespace": NAMESPACE, "symbols": symbols}
        fallback = next((s for s in _ENUM_FALLBACKS if s in symbols), None)
        if fallback:
            schema["default"] = fallback
        return schema
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _record_schema(tp, named)
    raise TypeError(f"no Avro mapping for {tp!r}")


def _default_value(f: dataclasses.Field[Any]) -> tuple[bool, Any]:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return False, None
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return True, value


def _record_schema(cls: type, named: set[str]) -> Any:
    full = f"{NAMESPACE}.{cls.__name__}"
    if full in named:
        return full
    named.add(full)
    hints = _hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        entry: dict[str, Any] = {"name": f.name, "type": _type_schema(hints[f.name], f.metadata.get("logical"), named)}
        has_default, value = _default_value(f)
        if has_default:
            if isinstance(entry["type"], list) and value is not None:
                # Avro: a union's default must match its first branch.
                entry["type"] = [b for b in entry["type"] if b != "null"] + ["null"]
            entry["default"] = value
        fields.append(entry)
    schema: dict[str, Any] = {"type": "record", "name": cls.__name__, "namespace": NAMESPACE, "fields": fields}
    if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
        schema["doc"] = " ".join(cls.__doc__.split())
    return schema


@lru_cache(maxsize=None)
def schema_of(cls: type) -> dict[str, Any]:
    """The Avro schema (a JSON-able dict) of a record dataclass, nested types inline."""
    return _record_schema(cls, set())


# ------------------------------------------------------------------ conversion


def _ms(value: Any) -> int:
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MS
    return int(value)


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=timezone.utc) - _EPOCH


Converter = Callable[[Any], Any]


def _identity(v: Any) -> Any:
    return v


def _to_converter(tp: Any) -> Converter:
    inner = _optional_inner(tp)
    if inner is not None:
        conv = _to_converter(inner)
        return lambda v: None if v is None else conv(v)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return lambda v: v.value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return to_avro_fn(tp)
    origin = typing.get_origin(tp)
    if origin is list:
        conv = _to_converter(typing.get_args(tp)[0])
        if conv is _identity:
            return list
        return lambda v: [conv(x) for x in v]
    if origin is dict:
        conv = _to_converter(typing.get_args(tp)[1])
        if conv is _identity:
            return dict
        return lambda v: {k: conv(x) for k, x in v.items()}
    return _identity


def _from_converter(tp: Any, logical: str | None) -> Converter:
    inner = _optional_inner(tp)
    if inner is not None:
        conv = _from_converter(inner, logical)
        return lambda v: None if v is None else conv(v)
    if logical == "timestamp-millis":
        return _ms
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_avro_fn(tp)
    origin = typing.get_origin(tp)
    if origin is list:
        conv = _from_converter(typing.get_args(tp)[0], None)
        return lambda v: [conv(x) for x in v]
    if origin is dict:
        conv = _from_converter(typing.get_args(tp)[1], None)
        return lambda v: {k: conv(x) for k, x in v.items()}
    if tp is float:
        return float
    if tp is bytes:
        return _bytes
    return _identity


def _bytes(v: Any) -> bytes:
    """A bytes field's value: fastavro hands a resolved default over as the schema's JSON string."""
    return v if v.__class__ is bytes else str(v).encode("latin-1")


@lru_cache(maxsize=None)
def field_converters(cls: type) -> tuple[tuple[str, Converter], ...]:
    """Per-field converters to Avro values, in field order."""
    hints = _hints(cls)
    return tuple((f.name, _to_converter(hints[f.name])) for f in dataclasses.fields(cls))


# Hot path: converters are generated as straight-line code per record type, since
# a generic per-field loop of closures cost more than fastavro's own decoding.


def _to_expr(tp: Any, src: str, ns: dict[str, Any]) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return f"(None if {src} is None else {_to_expr(inner, src, ns)})"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return f"{src}.value"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        name = f"_to_{tp.__name__}"
        ns[name] = to_avro_fn(tp)
        return f"{name}({src})"
    origin = typing.get_origin(tp)
    if origin is list:
        item = _to_expr(typing.get_args(tp)[0], "x", ns)
        return f"list({src})" if item == "x" else f"[{item} for x in {src}]"
    if origin is dict:
        item = _to_expr(typing.get_args(tp)[1], "x", ns)
        return f"dict({src})" if item == "x" else f"{{k: {item} for k, x in {src}.items()}}"
    return src


def _from_expr(tp: Any, src: str, ns: dict[str, Any]) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return f"(None if {src} is None else {_from_expr(inner, src, ns)})"
    if isinstance(tp, type) and issubclass(tp, Enum):
        name = f"_enum_{tp.__name__}"
        ns[name] = {m.value: m for m in tp}
        return f"{name}[{src}]"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        name = f"_from_{tp.__name__}"
        ns[name] = from_avro_fn(tp)
        return f"{name}({src})"
    origin = typing.get_origin(tp)
    if origin is list:
        item = _from_expr(typing.get_args(tp)[0], "x", ns)
        return src if item == "x" else f"[{item} for x in {src}]"
    if origin is dict:
        item = _from_expr(typing.get_args(tp)[1], "x", ns)
        return src if item == "x" else f"{{k: {item} for k, x in {src}.items()}}"
    if tp is bytes:
        ns["_bytes"] = _bytes
        return f"({src} if {src}.__class__ is bytes else _bytes({src}))"
    return src  # timestamps are read without their logical type: see `plain_schema`


def _compile(name: str, body: str, ns: dict[str, Any]) -> Converter:
    exec(compile(body, f"<schemas.avro:{name}>", "exec"), ns)  # noqa: S102 - generated from our own type hints
    fn: Converter = ns[name]
    return fn


@lru_cache(maxsize=None)
def to_avro_fn(cls: type) -> Converter:
    """A function turning an instance of `cls` into the dict fastavro writes."""
    hints = _hints(cls)
    ns: dict[str, Any] = {}
    items = ", ".join(f"{f.name!r}: {_to_expr(hints[f.name], f'o.{f.name}', ns)}" for f in dataclasses.fields(cls))
    return _compile("convert", f"def convert(o):\n    return {{{items}}}\n", ns)


@lru_cache(maxsize=None)
def from_avro_fn(cls: type) -> Converter:
    """A function building an instance of `cls` from the dict fastavro read (logical types off)."""
    hints = _hints(cls)
    ns: dict[str, Any] = {"_cls": cls}
    args = ", ".join(f"{f.name}={_from_expr(hints[f.name], f'd[{f.name!r}]', ns)}" for f in dataclasses.fields(cls))
    return _compile("convert", f"def convert(d):\n    return _cls({args})\n", ns)


def plain_schema(schema: Any) -> Any:
    """The schema without logical types: the same bytes on the wire, but fastavro hands
    timestamps over as the epoch milliseconds our records hold instead of datetimes."""
    if isinstance(schema, dict):
        return {k: plain_schema(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [plain_schema(v) for v in schema]
    return schema
