"""Backtest inputs rebuilt from `raw.*` records: what the services said, through the connectors' own normalizers.

A recording of `raw.*` only (`arbees record --topics 'raw.*'`) holds every payload as the
outside service sent it (RawFeed: source, endpoint, url, params, body, fetch time). Fed in
fetch-time order (ties: topic, partition, offset) to the same normalizers a session replay
uses (ops/sessions/replay.py `SessionConnectors`: ESPN, Kalshi REST and websocket,
Polymarket Gamma and market channel), they give the `events.state`, `markets.catalog` and
`markets.quotes` records the connectors published, at the partition their key takes and
offsets in order. A raw record no connector here reads, or that does not decode, becomes a
dead letter with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.codec import Codec
from schemas.deadletters import dead_letter
from schemas.errors import DecodeError
from schemas.records import DeadLetter, RawFeed

from ops.backtest.records import INPUT_TOPICS, as_inputs, replay_order
from ops.backtest.source import RawMessage, ReadInput


def inputs_from_raw(messages: Iterable[RawMessage], codec: Codec, start_ms: int | None = None,
                    end_ms: int | None = None) -> ReadInput:
    """The backtest inputs the connectors make of the raw records (event time in [start_ms, end_ms))."""
    from ops.sessions.replay import Collect, Payload, SessionConnectors

    out = ReadInput()
    feeds: list[tuple[tuple[int, str, int, int], RawMessage, RawFeed]] = []
    for m in messages:
        if not m.topic.startswith("raw."):
            continue
        try:
            feed = codec.decode(m.value)
        except DecodeError as exc:
            out.dead.append(_dead(m, exc))
            continue
        if not isinstance(feed, RawFeed):
            out.dead.append(_dead(m, f"{m.topic} carries RawFeed, got {type(feed).__name__}"))
            continue
        feeds.append(((feed.fetched_at or feed.ts, m.topic, m.partition, m.offset), m, feed))
    sink = Collect(service="backtest")
    connectors = SessionConnectors(sink)
    for _, m, feed in sorted(feeds, key=lambda f: f[0]):
        payload = Payload(feed.fetched_at or feed.ts, feed.source, feed.endpoint, feed.url, feed.body, dict(feed.params))
        try:
            connectors.on_payload(payload)
        except ValueError as exc:  # no connector here reads this source/endpoint
            out.dead.append(_dead(m, exc))
    out.dead += [p.record for p in sink.records if p.topic == "deadletter" and isinstance(p.record, DeadLetter)]
    made = [(p.topic, p.record) for p in sink.records if p.topic in INPUT_TOPICS]
    out.records = [r for r in replay_order(as_inputs(made))  # type: ignore[arg-type]
                   if (start_ms is None or r.ts >= start_ms) and (end_ms is None or r.ts < end_ms)]
    return out


def _dead(m: RawMessage, error: BaseException | str) -> DeadLetter:
    return dead_letter(topic=m.topic, value=m.value or b"", error=error, service="backtest", ts=m.timestamp,
                       partition=m.partition, offset=m.offset, key=m.key)
