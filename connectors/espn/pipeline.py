"""From one raw ESPN response to records on topics: raw first, then states and plays.

The same pipeline runs behind the live poller and behind replay, so a replay of
`raw.espn` (or of recorded files) yields the records the live connector wrote.
Bad input never stops it: a response that cannot be read at all, or one event
or play inside it, goes to `deadletter` with the reason, and the rest flows.

Unchanged states are not republished (a scheduled game looks the same for
hours); a play is republished only when ESPN corrects it.

The last pregame line of each event is also kept on the log: the scheduled
state that carries it goes to the compacted topic `events.pregame` (key: the
event id) whenever the line changes, and a restarted connector reads that
topic back (`recover`) before its first response, so live states keep their
prior across restarts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Protocol
from urllib.parse import urlsplit

import structlog

from connectors.espn.errors import BadPayload, EspnError
from connectors.espn.fields import reading
from connectors.espn.leagues import LEAGUES, League
from connectors.espn.normalize import content_digest, parse_body, scoreboard_states, state_key
from connectors.espn.pregame import PregameLine, carry, line_of
from connectors.espn.plays import summary
from schemas.enums import EventStatus
from schemas.records import EventState, Play, RawFeed

log = structlog.get_logger(__name__)

RAW_TOPIC = "raw.espn"
STATE_TOPIC = "events.state"
PLAYS_TOPIC = "events.plays"
PREGAME_TOPIC = "events.pregame"

_BY_API_PATH = {lg.api_path: lg for lg in LEAGUES.values()}
_BY_CDN_PATH = {lg.path: lg for lg in LEAGUES.values() if lg.sport != "soccer"}


class Sink(Protocol):
    """What the pipeline needs from `connectors.publisher.Publisher`."""

    def publish(self, topic: str, key: str, record: Any) -> None: ...

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What one raw response produced; `states` holds every state read (lines filled in), published or not."""

    raw_id: str
    states: tuple[EventState, ...] = ()
    published_states: int = 0
    plays: tuple[Play, ...] = ()
    published_plays: int = 0
    dead_letters: int = 0


def raw_key(raw: RawFeed) -> str:
    return f"{raw.source}:{raw.endpoint}"


def league_of(raw: RawFeed) -> League:
    """The league a response belongs to, from its URL (site API or the CDN game package)."""
    path = urlsplit(raw.url).path.strip("/").split("/")
    if "sports" in path:
        i = path.index("sports")
        lg = _BY_API_PATH.get("/".join(path[i + 1 : i + 3]))
        if lg is not None:
            return lg
    if len(path) >= 2 and path[0] == "core" and path[1] in _BY_CDN_PATH:
        return _BY_CDN_PATH[path[1]]
    raise BadPayload("url", f"no followed league in {raw.url!r}")


def _play_digest(play: Play) -> str:
    return hashlib.sha1(json.dumps(dataclasses.asdict(play), sort_keys=True, default=str).encode()).hexdigest()[:16]


class EspnPipeline:
    def __init__(self, sink: Sink, *, publish_raw: bool = True) -> None:
        self.sink = sink
        self.publish_raw = publish_raw
        self._state_digest: dict[str, str] = {}
        self._play_digest: dict[str, str] = {}
        self._lines: dict[str, PregameLine] = {}

    def recover(self, pregame_states: Iterable[EventState]) -> int:
        """Remember the lines of states read back from `events.pregame`; returns how many events got one."""
        for state in pregame_states:
            line = line_of(state)
            if not line.empty:
                self._lines[state.event_id] = line
        return len(self._lines)

    def on_raw(self, raw: RawFeed) -> Outcome:
        if self.publish_raw:
            self.sink.publish(RAW_TOPIC, raw_key(raw), raw)
        if raw.status != 200 or raw.endpoint == "teams":
            return Outcome(raw.raw_id)  # kept on raw.espn; nothing to normalize
        try:
            with reading("response"):
                lg = league_of(raw)
                payload = parse_body(raw.body)
                if raw.endpoint == "scoreboard":
                    sb = scoreboard_states(lg, payload, raw.fetched_at)
                    states, plays, rejected = sb.states, (), sb.rejected
                elif raw.endpoint == "summary":
                    sm = summary(lg, payload, raw.fetched_at)
                    states, plays, rejected = (sm.state,), sm.plays, sm.rejected
                else:
                    raise BadPayload("endpoint", f"unknown ESPN endpoint {raw.endpoint!r}")
        except EspnError as exc:
            self._dead(raw, raw.body.encode(), exc)
            return Outcome(raw.raw_id, dead_letters=1)
        for r in rejected:
            self._dead(raw, r.value, r.error)
        states = tuple(self._with_line(s) for s in states)
        n_states = sum(self._emit_state(s) for s in states)
        n_plays = sum(self._emit_play(p) for p in plays)
        return Outcome(raw.raw_id, states, n_states, tuple(plays), n_plays, len(rejected))

    def _dead(self, raw: RawFeed, value: bytes, exc: EspnError) -> None:
        where = getattr(exc, "where", "response")
        detail = getattr(exc, "detail", str(exc))
        error = BadPayload(f"{raw.raw_id}#{where}", detail) if isinstance(exc, BadPayload) else exc
        self.sink.dead_letter(RAW_TOPIC, value, error, ts=raw.fetched_at, key=raw_key(raw))

    def _with_line(self, state: EventState) -> EventState:
        """A scheduled state's line is remembered (and kept on the log); later states get it filled in."""
        if state.status is EventStatus.SCHEDULED:
            line = line_of(state)
            if not line.empty and self._lines.get(state.event_id) != line:
                self._lines[state.event_id] = line
                self.sink.publish(PREGAME_TOPIC, state.event_id, state)
            return state
        carried = carry(state, self._lines.get(state.event_id))
        return state if carried is state else dataclasses.replace(carried, state_id=state_key(carried))

    def _emit_state(self, state: EventState) -> bool:
        digest = content_digest(state)
        if self._state_digest.get(state.event_id) == digest:
            return False
        self._state_digest[state.event_id] = digest
        self.sink.publish(STATE_TOPIC, state.event_id, state)
        return True

    def _emit_play(self, play: Play) -> bool:
        digest = _play_digest(play)
        if self._play_digest.get(play.play_id) == digest:
            return False
        self._play_digest[play.play_id] = digest
        self.sink.publish(PLAYS_TOPIC, play.event_id, play)
        return True
