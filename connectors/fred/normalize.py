"""FRED answers -> EventStates, pure; the receive time is an argument.

- One state per observation with a value: `fred:<indicator>:<period>` (period = the
  observation date, the first day of the month/quarter/week), FINAL (published),
  `features.value`. FRED's "." (no value for that period, e.g. a release skipped in
  a shutdown) yields no state: the period is missing, not zero.
- One state per release date: `fred:<indicator>:release:<date>`, start_ts the release
  moment (FRED's date at the publisher's hour, US Eastern), SCHEDULED while ahead of
  the receive time, FINAL after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fred.errors import BadPayload
from connectors.fred.series import SERIES, Series
from schemas.enums import EventStatus, MarketType
from schemas.records import EventState

SOURCE = "fred"
ET = ZoneInfo("America/New_York")
MISSING = "."


@dataclass(frozen=True)
class Observation:
    series_id: str
    period: str  # YYYY-MM-DD
    value: float | None  # None: FRED's "." (no value published for the period)
    vintage: str  # realtime_start: the first day this value was FRED's


def parse_body(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadPayload("body", f"not JSON: {exc}") from exc


def _date(text: Any, where: str) -> str:
    try:
        return date.fromisoformat(str(text)).isoformat()
    except ValueError:
        raise BadPayload(where, f"expected YYYY-MM-DD, got {text!r}") from None


def observations(payload: Any, series_id: str) -> list[Observation]:
    if not isinstance(payload, dict) or not isinstance(payload.get("observations"), list):
        raise BadPayload("observations", "expected a list")
    out = []
    for i, o in enumerate(payload["observations"]):
        where = f"observations[{i}]"
        if not isinstance(o, dict):
            raise BadPayload(where, "expected an object")
        raw = o.get("value")
        if raw == MISSING:
            value = None
        else:
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise BadPayload(f"{where}.value", f"expected a number or '.', got {raw!r}") from None
        out.append(Observation(series_id, _date(o.get("date"), f"{where}.date"), value, _date(o.get("realtime_start"), f"{where}.realtime_start")))
    return out


def release_dates(payload: Any) -> list[tuple[int, str]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("release_dates"), list):
        raise BadPayload("release_dates", "expected a list")
    out = []
    for i, r in enumerate(payload["release_dates"]):
        if not isinstance(r, dict) or not isinstance(r.get("release_id"), int):
            raise BadPayload(f"release_dates[{i}].release_id", "expected an integer")
        out.append((r["release_id"], _date(r.get("date"), f"release_dates[{i}].date")))
    return out


def _series(series_id: str) -> Series:
    return SERIES.get(series_id) or Series(series_id, series_id.lower(), 0, (8, 30), "level", 0.0)


def _ms(day: str, hour: int = 0, minute: int = 0, tz: Any = timezone.utc) -> int:
    d = date.fromisoformat(day)
    return int(datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz).timestamp() * 1000)


def observation_state(o: Observation, ts: int) -> EventState:
    s = _series(o.series_id)
    assert o.value is not None
    return EventState(
        state_id=f"{SOURCE}:{o.series_id}:{o.period}:{o.vintage}", event_id=f"fred:{s.indicator}:{o.period}", ts=ts,
        source=SOURCE, market_type=MarketType.ECONOMICS, league=s.indicator, name=f"{o.series_id} {o.period}",
        status=EventStatus.FINAL, start_ts=_ms(o.period), entity_a=o.series_id, features={"value": o.value},
    )


def release_states(release_id: int, day: str, ts: int) -> list[EventState]:
    """One state per followed series published in that release."""
    out = []
    for s in SERIES.values():
        if s.release_id != release_id:
            continue
        at = _ms(day, *s.release_hour_et, tz=ET)
        out.append(EventState(
            state_id=f"{SOURCE}:release:{release_id}:{day}:{s.series_id}", event_id=f"fred:{s.indicator}:release:{day}", ts=ts,
            source=SOURCE, market_type=MarketType.ECONOMICS, league=s.indicator, name=f"{s.series_id} release {day}",
            status=EventStatus.SCHEDULED if at > ts else EventStatus.FINAL, start_ts=at, entity_a=s.series_id,
            features={"release_id": float(release_id)},
        ))
    return out
