"""From one raw polling-source answer to records: raw first (`raw.polls`), then one state per new or revised poll.

Bad rows are dead-lettered one by one with the row and the reason; an answer that
cannot be read at all is dead-lettered whole. The HTTP side is `connectors.rest.Getter`
(`client()`), the same polite GET as CoinGecko and FRED.
"""

from __future__ import annotations

import httpx

from connectors.polls.normalize import SOURCE, BadPoll, poll_states
from connectors.polls.source import PollSource
from connectors.publisher import Sink
from connectors.rest import Fetched, Getter, TransientHttpError
from schemas.records import EventState, RawFeed

RAW_TOPIC = "raw.polls"
STATE_TOPIC = "events.state"


class TransientPollError(TransientHttpError):
    """The polling source timed out or answered 429/5xx."""


class FatalPollError(Exception):
    """The polling source refused the request (4xx) or its URL is not HTTPS."""


def client(http: httpx.AsyncClient, **kwargs: object) -> Getter:
    return Getter(http, SOURCE, TransientPollError, FatalPollError, **kwargs)  # type: ignore[arg-type]


async def fetch(getter: Getter, src: PollSource) -> Fetched:
    return await getter.get(src.race, src.url, {})


class PollsPipeline:
    def __init__(self, sink: Sink, source: PollSource, *, publish_raw: bool = True) -> None:
        self.sink, self.source, self.publish_raw = sink, source, publish_raw
        self._seen: dict[str, dict[str, float]] = {}

    def on_raw(self, raw: RawFeed) -> tuple[list[EventState], int]:
        """The states published and how many rows (or whole answers) were dead-lettered."""
        key = f"{raw.source}:{raw.endpoint}"
        if self.publish_raw:
            self.sink.publish(RAW_TOPIC, key, raw)
        if raw.status != 200:
            return [], 0
        try:
            states, rejected = poll_states(self.source, raw.body, raw.fetched_at)
        except BadPoll as exc:
            self.sink.dead_letter(RAW_TOPIC, raw.body.encode(), BadPoll(f"{raw.raw_id}#{exc.where}", exc.detail), ts=raw.fetched_at, key=key)
            return [], 1
        for r in rejected:
            self.sink.dead_letter(RAW_TOPIC, r.value, BadPoll(f"{raw.raw_id}#{r.error.where}", r.error.detail), ts=raw.fetched_at, key=key)
        published = []
        for s in states:
            if self._seen.get(s.event_id) == s.features:
                continue
            self._seen[s.event_id] = dict(s.features)
            self.sink.publish(STATE_TOPIC, s.event_id, s)
            published.append(s)
        return published, len(rejected)
