"""The one configuration file: shard thresholds, sizing, risk limits, paper engine and exit rules.

Live workers and both backtest engines build their `ShardConfig` and `TradingConfig`
from this file (`arbees.toml` at the repository root, or the file named by
ARBEES_CONFIG), so a backtest trades with exactly the settings the live run uses.
Keys are the dataclass field names; money fields take a `_micros` suffix and an
integer of micro-dollars, contract fields a number of contracts, enum sets a list
of symbols, and `false` switches an optional exit rule off. A key the code does not
know is an error, not a silent default: a typo must not trade with the default.
A missing section or key keeps the built-in default (the shipped file lists them all).
"""

from __future__ import annotations

import collections.abc
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from streams.shard.config import ShardConfig
from streams.trading.config import TradingConfig
from streams.trading.units import Contracts, Micros

#: ARBEES_CONFIG: path of the configuration file; default `arbees.toml` at the repository root.
CONFIG_ENV = "ARBEES_CONFIG"
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "arbees.toml"


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or names a setting the code does not have."""


@dataclass(frozen=True)
class ArbeesConfig:
    """Everything the file configures, and where it came from (empty: the built-in defaults)."""

    shard: ShardConfig = field(default_factory=ShardConfig)
    trading: TradingConfig = field(default_factory=TradingConfig)
    source: str = ""


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The file a process reads: ARBEES_CONFIG when set, else the repository's `arbees.toml`."""
    e = os.environ if env is None else env
    given = e.get(CONFIG_ENV, "").strip()
    return Path(given).expanduser().resolve() if given else DEFAULT_PATH


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> ArbeesConfig:
    """Read the configuration (`path`, else ARBEES_CONFIG, else the default file).

    A file that was named (argument or ARBEES_CONFIG) must exist; the default file may be
    absent (an installed package without the repository), and then the built-in defaults apply.
    """
    named = path is not None or bool((os.environ if env is None else env).get(CONFIG_ENV, "").strip())
    where = Path(path).expanduser().resolve() if path is not None else config_path(env)
    if not where.exists():
        if named:
            raise ConfigError(f"configuration file {where} does not exist")
        return parse({}, env=env)
    try:
        doc = tomllib.loads(where.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file {where}: {exc}") from exc
    return parse(doc, source=str(where), env=env)


def parse(doc: Mapping[str, Any], source: str = "", env: Mapping[str, str] | None = None) -> ArbeesConfig:
    """Build the configuration from a parsed TOML document; the environment may scope the accounts."""
    _known(doc, {"shard", "trading"}, "")
    shard = _build(ShardConfig(), doc.get("shard", {}), "shard")
    trading = _build(TradingConfig(), doc.get("trading", {}), "trading").scoped(os.environ if env is None else env)
    return ArbeesConfig(shard=shard, trading=trading, source=source)


def _known(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{where or 'top level'}]: {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")


def _key(name: str, hint: Any) -> str:
    return f"{name}_micros" if hint is Micros else name


def _build(base: Any, table: Any, where: str) -> Any:
    """`base` (a frozen dataclass) with the values `table` gives, converted to the fields' types."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{where}] must be a table, got {table!r}")
    hints = typing.get_type_hints(type(base))
    keys = {_key(f.name, hints[f.name]): f.name for f in fields(base)}
    _known(table, set(keys), where)
    changes = {}
    for key, value in table.items():
        name = keys[key]
        changes[name] = _convert(getattr(base, name), hints[name], value, f"{where}.{key}")
    return replace(base, **changes)


def _convert(current: Any, hint: Any, value: Any, where: str) -> Any:
    try:
        return _value(current, hint, value, where)
    except ConfigError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{where} = {value!r}: {exc}") from exc


def _value(current: Any, hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Micros:
        return Micros(_typed(value, int, where))
    if hint is Contracts:
        return Contracts.of(float(_typed(value, (int, float), where)))
    if is_dataclass(current):
        return _build(current, value, where)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is False:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(current, inner, value, where)
    if origin in (frozenset, set, tuple):
        (item,) = args[:1]
        items = [_value(None, item, v, f"{where}[]") for v in _typed(value, list, where)]
        return frozenset(items) if origin is not tuple else tuple(items)
    if origin in (collections.abc.Mapping, dict):
        kt, vt = args
        return {_value(None, kt, k, where): _value(None, vt, v, f"{where}.{k}") for k, v in _typed(value, dict, where).items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(_typed(value, str, where).upper())
    if hint is float:
        return float(_typed(value, (int, float), where))
    if hint in (int, str, bool):
        return _typed(value, hint, where)
    raise ConfigError(f"{where}: settings of type {hint!r} cannot be read from a file")


def _typed(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where} = {value!r}: expected {kind}, got a boolean")
    if not isinstance(value, kind):
        raise ConfigError(f"{where} = {value!r}: expected {kind}")
    return value


