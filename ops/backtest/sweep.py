"""Parameter sweeps: the same input under several settings, one run (and run id) per variant, in parallel.

`--sweep min_edge=0.05,0.10 kelly=0.25,0.5` is the cross product of the values. Each
variant is the base settings file with its overrides applied, written out as a settings
file of its own (kept beside the variant's report), so a variant runs exactly as a
worker started with that file would (`BacktestConfig.config_file`). Short names:
`min_edge` (shard.min_edge) and `kelly` (trading.sizing.kelly_fraction); any other key
is a dotted path (`trading.risk.max_event_exposure_micros`) or a key name that occurs
once in the shipped arbees.toml.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.config_file import DEFAULT_PATH, config_path

from ops.backtest.records import BacktestError

ALIASES = {"min_edge": "shard.min_edge", "kelly": "trading.sizing.kelly_fraction"}


@dataclass(frozen=True)
class Variant:
    """One point of the sweep: its overrides (dotted key -> value), in the order they were given."""

    overrides: tuple[tuple[str, Any], ...]

    @property
    def params(self) -> dict[str, Any]:
        return {short_name(k): v for k, v in self.overrides}


def short_name(key: str) -> str:
    return next((alias for alias, full in ALIASES.items() if full == key), key)


def _keys(doc: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in doc.items():
        path = f"{prefix}{k}"
        out += _keys(v, path + ".") if isinstance(v, dict) else [path]
    return out


def resolve_key(name: str, known: Sequence[str]) -> str:
    if name in ALIASES:
        return ALIASES[name]
    if name in known:
        return name
    hits = [k for k in known if k.rsplit(".", 1)[-1] == name]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise BacktestError(f"sweep key {name!r} is ambiguous: {', '.join(hits)}")
    raise BacktestError(f"sweep key {name!r} is not a setting (see arbees.toml)")


def parse_value(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def parse_sweep(specs: Sequence[str]) -> list[Variant]:
    """`key=v1,v2` specs into the cross product of variants, first key slowest."""
    if not specs:
        raise BacktestError("--sweep needs at least one key=value[,value...]")
    known = _keys(tomllib.loads(DEFAULT_PATH.read_text())) if DEFAULT_PATH.exists() else []
    axes: list[list[tuple[str, Any]]] = []
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not values.strip():
            raise BacktestError(f"sweep spec {spec!r} is not key=value[,value...]")
        key = resolve_key(name.strip(), known)
        axes.append([(key, parse_value(v)) for v in values.split(",") if v.strip()])
    return [Variant(tuple(combo)) for combo in itertools.product(*axes)]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise BacktestError(f"cannot write {v!r} to a settings file")


def to_toml(doc: Mapping[str, Any]) -> str:
    """The settings document as TOML (tables of scalars and lists: all arbees.toml holds)."""
    lines: list[str] = []

    def table(path: str, body: Mapping[str, Any]) -> None:
        scalars = [(k, v) for k, v in body.items() if not isinstance(v, dict)]
        if path:
            lines.append(f"[{path}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars)
        if scalars or path:
            lines.append("")
        for k, v in body.items():
            if isinstance(v, dict):
                table(f"{path}.{k}" if path else k, v)

    table("", doc)
    return "\n".join(lines)


def variant_settings(base_file: Path | None, variant: Variant) -> str:
    """The base settings file with the variant's overrides, as TOML text."""
    source = base_file or config_path()
    doc: dict[str, Any] = tomllib.loads(source.read_text()) if source.exists() else {}
    for key, value in variant.overrides:
        *tables, leaf = key.split(".")
        node = doc
        for t in tables:
            node = node.setdefault(t, {})
        node[leaf] = value
    return f"# sweep variant of {source.name}: {json.dumps(variant.params, sort_keys=True)}\n" + to_toml(doc)


Progress = Callable[[int, int], None]
