"""Hypothesis strategies that build any contract record from its type hints."""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from typing import Any

from hypothesis import strategies as st

from schemas import depth

LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TS = st.integers(min_value=0, max_value=4_102_444_800_000)  # up to 2100, ms
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
TEXT = st.text(max_size=20)


def strategy_for(tp: Any, logical: str | None = None) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return st.none() | strategy_for(inner, logical)
    if tp is int:
        return TS if logical else LONG
    if tp is float:
        return FLOATS
    if tp is str:
        return TEXT
    if tp is bool:
        return st.booleans()
    if tp is bytes:
        return st.binary(max_size=40)
    if origin is list:
        return st.lists(strategy_for(typing.get_args(tp)[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(TEXT, strategy_for(typing.get_args(tp)[1]), max_size=3)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(list(tp))
    if dataclasses.is_dataclass(tp):
        return records(tp)
    raise TypeError(tp)


#: A packed depth ladder (schemas.depth): well-formed pairs of int64, or any bytes (malformed ones included).
PACKED = st.lists(st.tuples(LONG, LONG), max_size=4).map(lambda lv: depth.pack([p for p, _ in lv], [c for _, c in lv]))


def records(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: strategy_for(hints[f.name], f.metadata.get("logical")) for f in dataclasses.fields(cls)}
    for name in fields:
        if name.endswith("_depth") and hints[name] is bytes:
            fields[name] = PACKED | fields[name]
    return st.builds(cls, **fields)
