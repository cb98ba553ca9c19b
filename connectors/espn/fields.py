"""Typed readers for ESPN's JSON: every failure names its JSON path.

ESPN mixes strings and numbers for the same field ("score": "3" on the
scoreboard, `homeScore: 3` in plays) and omits keys rather than sending null,
so each reader says precisely which shapes it accepts and raises `BadPayload`
for anything else instead of guessing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from connectors.espn.errors import BadPayload
from schemas.records import LONG

_MISSING = object()


#: What reading a value of an unexpected shape raises (`x.get` on a string, `int("x" * 5000)`, ...).
SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError)


@contextmanager
def reading(where: str) -> Iterator[None]:
    """A shape the typed readers did not anticipate still becomes `BadPayload` at `where`, never a crash."""
    try:
        yield
    except BadPayload:
        raise
    except SHAPE_ERRORS as exc:
        raise BadPayload(where, f"unreadable: {type(exc).__name__}: {exc}"[:500]) from exc


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayload(where, f"expected an object, got {type(value).__name__}")
    return value


def arr(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadPayload(where, f"expected a list, got {type(value).__name__}")
    return value


def req(d: dict[str, Any], key: str, where: str) -> Any:
    value = d.get(key, _MISSING)
    if value is _MISSING or value is None:
        raise BadPayload(f"{where}.{key}", "missing")
    return value


def text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadPayload(where, f"expected a string, got {value!r}")
    return str(value)


def integer(value: Any, where: str) -> int:
    """An int from an int, an integral float or a decimal string ("3", "3.0"), within a 64-bit integer."""
    if isinstance(value, bool):
        raise BadPayload(where, f"expected an integer, got {value!r}")
    n: int | None = None
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    elif isinstance(value, str):
        s = value.strip()
        if re.fullmatch(r"-?\d+(\.0+)?", s):
            n = int(s.split(".")[0])
    if n is None:
        raise BadPayload(where, f"expected an integer, got {value!r}")
    if n not in LONG:
        raise BadPayload(where, f"{value!r} is outside a 64-bit integer")
    return n


def number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise BadPayload(where, f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise BadPayload(where, f"expected a number, got {value!r}") from None
    else:
        raise BadPayload(where, f"expected a number, got {value!r}")
    if not math.isfinite(out):
        raise BadPayload(where, f"expected a finite number, got {value!r}")
    return out


def iso_ms(value: Any, where: str) -> int:
    """Epoch ms from ESPN's ISO times ("2025-12-07T18:00Z", "2026-06-11T00:43:40Z")."""
    if not isinstance(value, str):
        raise BadPayload(where, f"expected an ISO time, got {value!r}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadPayload(where, f"not an ISO time: {value!r}") from None
    if dt.tzinfo is None:
        raise BadPayload(where, f"time without a zone: {value!r}")
    return int(round(dt.timestamp() * 1000))


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+(?:\.\d+)?)$")


def display_clock_seconds(value: Any, where: str) -> float:
    """Seconds from a countdown display clock: "11:42" → 702, "45.9" → 45.9 (under a minute)."""
    if not isinstance(value, str):
        raise BadPayload(where, f"expected a clock like '11:42', got {value!r}")
    m = _CLOCK.match(value.strip())
    if not m:
        raise BadPayload(where, f"unreadable clock {value!r}")
    minutes = int(m.group(1)) if m.group(1) else 0
    return minutes * 60 + float(m.group(2))


def american_odds(value: Any, where: str) -> float:
    """American odds as a float from "-198", "+164", 114 or "EVEN" (= +100)."""
    if isinstance(value, str) and value.strip().upper() == "EVEN":
        return 100.0
    out = number(value, where)
    if -100.0 < out < 100.0:
        raise BadPayload(where, f"American odds must be <= -100 or >= +100, got {value!r}")
    return out
