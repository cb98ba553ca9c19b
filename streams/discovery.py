"""Discovery: link venue market listings to the events they are about.

A pure processor, `step(state, record) -> (state, outputs)`, over the merged
`markets.catalog` (MarketListing) and `events.state` (EventState) streams:

- open events sit in an index per market type, league and day (the global
  view every worker needs); finished or canceled events leave it a grace
  period (event time) after they end;
- a listing is matched against the events of its scope only, so a link never
  crosses leagues or days; a match becomes a MarketLink (deterministic
  link_id, ts = the triggering record's ts); an ambiguous match is not linked
  and raises one WARNING Alert; a listing whose event has not arrived waits
  in `pending` and is retried when an event lands in its buckets;
- time is the records' event time (the state's watermark, advanced by the
  expiry sweeps), never the clock;
- a score or clock tick of a known event changes nothing: the same state comes
  back, and the stage writes nothing to its changelog.

The state is a plain dataclass, kept in its table by the declared state codec
(streams/topology.py, `discovery-scopes`). Since links never cross leagues, an
agent may keep one state per `state_key(record)` instead of one global state.
`step` never mutates the state it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Union

from schemas.enums import EventStatus, MarketType, Severity
from schemas.records import Alert, EventState, MarketLink, MarketListing
from streams.matching import (
    Ambiguous,
    EntityMatcher,
    IndexKey,
    Match,
    MatcherRegistry,
    NoMatch,
    UnsupportedMarketType,
    default_registry,
)

SERVICE = "discovery"
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
#: Event states that mean the event is over; it leaves the index after the grace period.
ENDED = frozenset({EventStatus.FINAL, EventStatus.CANCELED})

Record = Union[MarketListing, EventState]
Output = Union[MarketLink, Alert]


@dataclass(frozen=True)
class DiscoveryConfig:
    #: How long an ended event stays linkable (late listings, settlement updates), in event time.
    ended_grace_ms: int = 12 * _HOUR_MS
    #: How long after its last possible game day an unlinked listing waits before it is given up
    #: (never before the listing's own close time).
    pending_grace_ms: int = 2 * _DAY_MS
    #: How long an alert's dedupe key is remembered (the same problem is reported once).
    alert_memory_ms: int = 7 * _DAY_MS
    #: Expiry sweeps run at most this often in event time (they scan the whole state).
    sweep_every_ms: int = 60_000


@dataclass(frozen=True)
class PendingListing:
    listing: MarketListing
    keys: tuple[str, ...]  # encoded IndexKeys of its scope
    expires_ts: int


@dataclass(frozen=True)
class LinkedListing:
    link: MarketLink
    fingerprint: str  # the listing fields matching read; a change triggers a re-match


@dataclass(frozen=True)
class DiscoveryState:
    """Everything discovery remembers. Treat as immutable: `step` returns a new one."""

    # The latest event time as of the last expiry sweep: advanced by sweeps only, so a record that changes
    # nothing (a score tick of a known game) leaves the state as it was and the stage writes nothing.
    watermark: int = 0
    events: dict[str, EventState] = field(default_factory=dict)
    event_keys: dict[str, str] = field(default_factory=dict)  # event id -> encoded IndexKey
    index: dict[str, tuple[str, ...]] = field(default_factory=dict)  # encoded IndexKey -> event ids
    ended_at: dict[str, int] = field(default_factory=dict)  # event id -> ts it was first seen ended
    pending: dict[str, PendingListing] = field(default_factory=dict)  # listing id -> waiting listing
    pending_index: dict[str, tuple[str, ...]] = field(default_factory=dict)  # encoded IndexKey -> listing ids
    linked: dict[str, LinkedListing] = field(default_factory=dict)  # listing id -> its link
    alerted: dict[str, int] = field(default_factory=dict)  # dedupe key -> forget after this ts
    last_expiry: int = 0  # watermark of the last expiry sweep


def link_id(listing_id: str, event_id: str, yes_role: str) -> str:
    """Same listing, event and YES role -> same id, so a replay re-emits the identical link."""
    return f"{listing_id}->{event_id}:{yes_role}"


def _fingerprint(listing: MarketListing) -> str:
    parts = (
        listing.market_type.value,
        listing.league or "",
        listing.market_id,
        listing.group_id,
        listing.series or "",
        listing.title,
        listing.subtitle,
        listing.yes_outcome,
        listing.rules,
        str(listing.close_ts),
        str(listing.settle_ts),
    )
    return "\x1f".join(parts)


#: EventState fields that tick during a game and that no matcher reads (streams/matching).
_TICKING = frozenset({"state_id", "ts", "score_a", "score_b", "clock_seconds", "possession", "down", "distance", "yard_line"})
_MATCHED = tuple(f.name for f in fields(EventState) if f.name not in _TICKING)


def _matched_on(event: EventState) -> tuple[Any, ...]:
    """The event's fields but its ticking ones: compared to tell a change discovery must keep from a tick."""
    return tuple(getattr(event, name) for name in _MATCHED)


def _day_end_ms(day: date) -> int:
    """End of `day` at the latest time zone in use (UTC-12), so no local calendar is cut short."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1, hours=12)
    return int(start.timestamp() * 1000)


def _some(ids: tuple[str, ...], shown: int = 5) -> str:
    """The first few ids, and how many more: an alert stays one readable line."""
    more = len(ids) - shown
    return ", ".join(ids[:shown]) + (f" and {more} more" if more > 0 else "")


def _add(index: dict[str, tuple[str, ...]], key: str, item: str) -> None:
    current = index.get(key, ())
    if item not in current:
        index[key] = tuple(sorted((*current, item)))


def _remove(index: dict[str, tuple[str, ...]], key: str, item: str) -> None:
    current = index.get(key, ())
    if item in current:
        rest = tuple(x for x in current if x != item)
        if rest:
            index[key] = rest
        else:
            del index[key]


class _Work:
    """Copy-on-write view of a state for one step: dicts are copied the first time they change."""

    def __init__(self, state: DiscoveryState) -> None:
        self.base = state
        self.changes: dict[str, Any] = {}
        self.outputs: list[Output] = []

    def get(self, name: str) -> Any:
        return self.changes[name] if name in self.changes else getattr(self.base, name)

    def edit(self, name: str) -> Any:
        if name not in self.changes:
            self.changes[name] = dict(getattr(self.base, name))
        return self.changes[name]

    def alert(self, ts: int, dedupe_key: str, severity: Severity, message: str, memory_ms: int) -> None:
        if dedupe_key in self.get("alerted"):
            return
        self.edit("alerted")[dedupe_key] = ts + memory_ms
        self.outputs.append(Alert(f"{SERVICE}:{dedupe_key}@{ts}", dedupe_key, severity, ts, SERVICE, message))

    def result(self) -> DiscoveryState:
        return replace(self.base, **self.changes) if self.changes else self.base


class DiscoveryProcessor:
    """`step` with its matchers and configuration bound."""

    def __init__(self, registry: MatcherRegistry | None = None, config: DiscoveryConfig | None = None) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.config = config if config is not None else DiscoveryConfig()

    def state_key(self, record: Record) -> str:
        """Market type and league of a record: states kept per this key never need each other."""
        if not self.registry.supports(record.market_type):
            return f"{record.market_type.value}|?"
        matcher = self.registry.get(record.market_type)
        if isinstance(record, EventState):
            key = matcher.index_key(record)
            return f"{record.market_type.value}|{key.league if key else '?'}"
        scope = matcher.scope(record)
        return f"{record.market_type.value}|{'?' if isinstance(scope, NoMatch) else scope.league}"

    def step(self, state: DiscoveryState, record: Record) -> tuple[DiscoveryState, list[Output]]:
        work = _Work(state)
        if isinstance(record, EventState):
            self._on_event(work, record)
        elif isinstance(record, MarketListing):
            self._on_listing(work, record, record.ts)
        else:
            raise TypeError(f"discovery takes MarketListing or EventState, not {type(record).__name__}")
        self._expire(work, record.ts)
        return work.result(), work.outputs

    # ------------------------------------------------------------------ events

    def _matcher(self, work: _Work, market_type: MarketType, ts: int) -> EntityMatcher | None:
        try:
            return self.registry.get(market_type)
        except UnsupportedMarketType as exc:
            work.alert(ts, f"unsupported:{market_type.value}", Severity.WARNING, str(exc), self.config.alert_memory_ms)
            return None

    def _on_event(self, work: _Work, event: EventState) -> None:
        matcher = self._matcher(work, event.market_type, event.ts)
        if matcher is None:
            return
        key = matcher.index_key(event)
        old = work.get("events").get(event.event_id)
        old_key = work.get("event_keys").get(event.event_id)
        encoded = key.encode() if key is not None else None
        if encoded is None:
            if old is not None:
                self._drop_event(work, event.event_id)
            return
        if old is None or _matched_on(old) != _matched_on(event):
            work.edit("events")[event.event_id] = event  # a score or clock tick changes nothing matching reads
        if old_key != encoded:
            if old_key is not None:
                _remove(work.edit("index"), old_key, event.event_id)
            _add(work.edit("index"), encoded, event.event_id)
            work.edit("event_keys")[event.event_id] = encoded
        if event.status in ENDED:
            if event.event_id not in work.get("ended_at"):
                work.edit("ended_at")[event.event_id] = event.ts
        elif event.event_id in work.get("ended_at"):
            del work.edit("ended_at")[event.event_id]  # a correction reopened it
        changed = old is None or old_key != encoded or (old.entity_a, old.entity_b, old.entity_a_abbr, old.entity_b_abbr) != (
            event.entity_a,
            event.entity_b,
            event.entity_a_abbr,
            event.entity_b_abbr,
        )
        if changed:
            for listing_id in work.get("pending_index").get(encoded, ()):
                pending = work.get("pending").get(listing_id)
                if pending is not None:
                    self._on_listing(work, pending.listing, event.ts)

    def _drop_event(self, work: _Work, event_id: str) -> None:
        key = work.get("event_keys").get(event_id)
        if key is not None:
            _remove(work.edit("index"), key, event_id)
            del work.edit("event_keys")[event_id]
        work.edit("events").pop(event_id, None)
        if event_id in work.get("ended_at"):
            del work.edit("ended_at")[event_id]
        for listing_id in [k for k, v in work.get("linked").items() if v.link.event_id == event_id]:
            del work.edit("linked")[listing_id]

    # ---------------------------------------------------------------- listings

    def _on_listing(self, work: _Work, listing: MarketListing, ts: int) -> None:
        """Match a listing; `ts` is the triggering record's time (the listing's own, or the event that woke it)."""
        lid = listing.listing_id
        fingerprint = _fingerprint(listing)
        linked = work.get("linked").get(lid)
        if linked is not None and linked.fingerprint == fingerprint:
            return
        matcher = self._matcher(work, listing.market_type, ts)
        if matcher is None:
            return
        scope = matcher.scope(listing)
        if isinstance(scope, NoMatch):
            self._unpend(work, lid)
            work.alert(ts, f"unmatchable:{lid}", Severity.INFO, scope.reason, self.config.alert_memory_ms)
            return
        keys = tuple(k.encode() for k in scope.keys())
        candidates = [work.get("events")[eid] for k in keys for eid in work.get("index").get(k, ())]
        result = matcher.match(listing, candidates)
        if isinstance(result, Match):
            self._unpend(work, lid)
            link = MarketLink(
                link_id=link_id(lid, result.event_id, result.yes_role),
                venue=listing.venue,
                market_id=listing.market_id,
                event_id=result.event_id,
                ts=ts,
                yes_role=result.yes_role,
                yes_entity=result.yes_entity,
                confidence=result.confidence,
                method=result.method,
                league=result.league,
            )
            work.edit("linked")[lid] = LinkedListing(link, fingerprint)
            if linked is None or linked.link.link_id != link.link_id:
                work.outputs.append(link)
            return
        if isinstance(result, Ambiguous):
            # One alert per listing while it stays ambiguous: keyed by the candidates, every event landing in the
            # listing's day re-alerted it with a longer key (1,000 like games: 27 MB of keys, an alert storm)
            work.alert(ts, f"ambiguous:{lid}", Severity.WARNING, f"not linked: {result.reason} ({_some(result.event_ids)})",
                       self.config.alert_memory_ms)
        elif not result.retryable:
            self._unpend(work, lid)
            work.alert(ts, f"unmatchable:{lid}", Severity.INFO, result.reason, self.config.alert_memory_ms)
            return
        # Wait past the game day, and at least while the venue keeps the market open (Kalshi: two weeks).
        expires = max(_day_end_ms(scope.last_day) + self.config.pending_grace_ms, listing.close_ts or 0)
        self._pend(work, listing, keys, expires)

    def _pend(self, work: _Work, listing: MarketListing, keys: tuple[str, ...], expires_ts: int) -> None:
        lid = listing.listing_id
        old = work.get("pending").get(lid)
        if old is not None and old.keys != keys:
            for k in old.keys:
                _remove(work.edit("pending_index"), k, lid)
        work.edit("pending")[lid] = PendingListing(listing, keys, expires_ts)
        for k in keys:
            if lid not in work.get("pending_index").get(k, ()):
                _add(work.edit("pending_index"), k, lid)

    def _unpend(self, work: _Work, lid: str) -> None:
        old = work.get("pending").get(lid)
        if old is None:
            return
        for k in old.keys:
            _remove(work.edit("pending_index"), k, lid)
        del work.edit("pending")[lid]

    # ------------------------------------------------------------------ expiry

    def _expire(self, work: _Work, ts: int) -> None:
        now = max(work.get("watermark"), ts)
        if now - work.get("last_expiry") < self.config.sweep_every_ms:
            return
        work.changes["watermark"] = work.changes["last_expiry"] = now
        grace = self.config.ended_grace_ms
        for event_id in [e for e, t in work.get("ended_at").items() if t + grace <= now]:
            self._drop_event(work, event_id)
        for lid in [k for k, p in work.get("pending").items() if p.expires_ts <= now]:
            listing = work.get("pending")[lid].listing
            self._unpend(work, lid)
            work.alert(
                ts,
                f"no-event:{lid}",
                Severity.INFO,
                f"{lid} ({listing.title!r}) never found its event; given up",
                self.config.alert_memory_ms,
            )
        expired = [k for k, until in work.get("alerted").items() if until <= now]
        for k in expired:
            del work.edit("alerted")[k]


_DEFAULT: DiscoveryProcessor | None = None


def step(state: DiscoveryState, record: Record) -> tuple[DiscoveryState, list[Output]]:
    """`DiscoveryProcessor().step` with the default matchers and configuration."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = DiscoveryProcessor()
    return _DEFAULT.step(state, record)
