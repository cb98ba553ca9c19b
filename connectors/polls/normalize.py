"""A polling source's answer -> one EventState per poll, pure (the receive time is an argument).

`polls:<race>:<poll id>`, market_type POLITICS, league = the race, entity a/b the
two candidates, start_ts the poll's end date, features: `pct_a`, `pct_b` (percent),
`sample_size` (0 when unpublished), `lv` (1 for likely voters), `election_ts`; the pollster is the
state's `name`, so house effects can be estimated downstream (streams/probability/polls.py).
A row that cannot be read is returned as rejected with the reason (dead-lettered).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from connectors.polls.source import PollSource
from connectors.rest import BadPayloadError
from schemas.enums import EventStatus, MarketType
from schemas.records import EventState

SOURCE = "polls"


class BadPoll(BadPayloadError):
    """A poll row or answer that does not fit the source's layout."""


@dataclass(frozen=True)
class Rejected:
    row: int
    value: bytes
    error: BadPoll


def _rows(body: str, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body)))
    if fmt == "json":
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            raise BadPoll("body", f"not JSON: {exc}") from exc
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise BadPoll("body", "expected a list of poll objects")
        return data
    raise BadPoll("format", f"unknown poll source format {fmt!r}")


def _day(text: str, where: str) -> str:
    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y"):
        try:
            return datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    raise BadPoll(where, f"unreadable date {text!r}")


def _pct(value: Any, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadPoll(where, f"expected a percentage, got {value!r}") from None
    if not 0.0 <= x <= 100.0:
        raise BadPoll(where, f"percentage out of range: {x}")
    return x


def _ms(day: str) -> int:
    d = date.fromisoformat(day)
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() * 1000)


def poll_states(src: PollSource, body: str, fetched_at: int) -> tuple[list[EventState], list[Rejected]]:
    states, rejected = [], []
    a, b = src.candidates
    for i, row in enumerate(_rows(body, src.format)):
        if src.filter_column and str(row.get(src.filter_column, "")) != src.filter_value:
            continue
        if str(row.get(src.geography, "")) != src.geography_value:
            continue
        try:
            pid = str(row.get(src.poll_id) or "").strip()
            pollster = str(row.get(src.pollster) or "").strip()
            if not pid or not pollster:
                raise BadPoll(f"rows[{i}]", "a poll needs its id and its pollster")
            end = _day(str(row.get(src.end_date, "")), f"rows[{i}].{src.end_date}")
            size_text = str(row.get(src.sample_size) or "").strip()
            size = float(size_text) if size_text else 0.0
            features = {
                "pct_a": _pct(row.get(a.column), f"rows[{i}].{a.column}"),
                "pct_b": _pct(row.get(b.column), f"rows[{i}].{b.column}"),
                "sample_size": size,
                "lv": 1.0 if str(row.get(src.population, "")).lower() == "lv" else 0.0,
                "election_ts": float(_ms(src.election_date)),
            }
        except (BadPoll, ValueError) as exc:
            err = exc if isinstance(exc, BadPoll) else BadPoll(f"rows[{i}]", str(exc))
            rejected.append(Rejected(i, json.dumps(row, sort_keys=True, default=str).encode(), err))
            continue
        states.append(EventState(
            state_id=f"{SOURCE}:{src.race}:{pid}:{fetched_at}", event_id=f"polls:{src.race}:{pid}", ts=_ms(end),
            source=SOURCE, market_type=MarketType.POLITICS, league=src.race, name=pollster, status=EventStatus.FINAL,
            start_ts=_ms(end), entity_a=a.name, entity_b=b.name, entity_a_abbr=a.party, entity_b_abbr=b.party,
            features=features,
        ))
    return states, rejected
