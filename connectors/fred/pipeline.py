"""From one raw FRED answer to records on topics: raw first, then observation and release states.

Shared by the live poller and replay. An observation already published with the
same value is not republished (every poll returns the whole series); a revised
value is. A "." is counted as missing, never published as a number. An answer
that cannot be read goes to `deadletter` with the JSON path at fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.fred.errors import BadPayload
from connectors.fred.normalize import observation_state, observations, parse_body, release_dates, release_states
from connectors.publisher import Sink
from schemas.records import EventState, RawFeed

RAW_TOPIC = "raw.fred"
STATE_TOPIC = "events.state"


@dataclass(frozen=True)
class Outcome:
    raw_id: str
    states: tuple[EventState, ...] = ()
    missing: tuple[str, ...] = ()  # periods FRED marked "."
    dead_letters: int = 0


class FredPipeline:
    def __init__(self, sink: Sink, *, publish_raw: bool = True) -> None:
        self.sink = sink
        self.publish_raw = publish_raw
        self._seen: dict[str, float] = {}

    def on_raw(self, raw: RawFeed) -> Outcome:
        key = f"{raw.source}:{raw.endpoint}"
        if self.publish_raw:
            self.sink.publish(RAW_TOPIC, key, raw)
        if raw.status != 200:
            return Outcome(raw.raw_id)
        try:
            payload = parse_body(raw.body)
            if raw.endpoint == "series_observations":
                series_id = raw.params.get("series_id", "")
                if not series_id:
                    raise BadPayload("params.series_id", "missing")
                obs = observations(payload, series_id)
                missing = tuple(o.period for o in obs if o.value is None)
                states = [observation_state(o, raw.fetched_at) for o in obs if o.value is not None]
            elif raw.endpoint in ("release_dates", "releases_dates"):
                missing = ()
                states = [s for rid, day in release_dates(payload) for s in release_states(rid, day, raw.fetched_at)]
            else:
                raise BadPayload("endpoint", f"unknown FRED endpoint {raw.endpoint!r}")
        except BadPayload as exc:
            self.sink.dead_letter(RAW_TOPIC, raw.body.encode(), BadPayload(f"{raw.raw_id}#{exc.where}", exc.detail), ts=raw.fetched_at, key=key)
            return Outcome(raw.raw_id, dead_letters=1)
        published = []
        for s in states:
            fingerprint = (s.features.get("value"), s.status.value, s.start_ts)
            if self._seen.get(s.event_id) == fingerprint:  # type: ignore[comparison-overlap]
                continue
            self._seen[s.event_id] = fingerprint  # type: ignore[assignment]
            self.sink.publish(STATE_TOPIC, s.event_id, s)
            published.append(s)
        return Outcome(raw.raw_id, tuple(published), missing)
