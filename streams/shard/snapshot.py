"""Compact table value for a shard: its inputs as contract records; arrays are rebuilt on load.

A snapshot is a length-prefixed sequence of Confluent-framed Avro records: the last
Probability emitted (if any), the latest EventState (as a ShardInput, with the venue
prior the shard filled in, if any), per market in book order a record of its link and listing
(the listing as the shard keeps it, `state.kept_listing`; the router sends a listing once per
change) and then its latest quote input, and the pregame venue price kept for a game without a line
(a Probability of model `venue-pregame` whose `inputs_digest` names the market). Loading replays them
through the same code paths the processor uses, so a recovered shard prices exactly
like the one that wrote it (the model is pure, so re-running it gives the same output).
"""

from __future__ import annotations

import struct
from dataclasses import replace

from schemas.codec import default_codec
from schemas.records import MarketLink, MarketListing, Probability, ShardInput
from streams.shard.equivalence import PairingPolicy
from streams.shard.processor import ModelLookup
from streams.shard.prior import PregamePrice
from streams.shard.state import ShardState, entry_from, kept_listing
from streams.probability.base import ModelError

_LEN = struct.Struct(">I")


class SnapshotError(ValueError):
    """A table value that is not a shard snapshot."""


def dump(state: ShardState) -> bytes:
    """The snapshot of a state, as the shard stage writes it (`RawSnapshot`, encoding every record)."""
    return RawSnapshot.of(state).blob(state)


def load(event_id: str, blob: bytes, lookup: ModelLookup, policy: PairingPolicy) -> ShardState:
    codec = default_codec()
    st = ShardState(event_id=event_id)
    carried: dict[str, tuple[MarketLink, MarketListing | None]] = {}
    pos = 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            raise SnapshotError(f"truncated snapshot for {event_id}")
        (n,) = _LEN.unpack_from(blob, pos)
        rec = codec.decode(blob[pos + 4 : pos + 4 + n])
        pos += 4 + n
        if isinstance(rec, Probability) and rec.model == PREGAME_MODEL:
            st = replace(st, pregame=PregamePrice(rec.inputs_digest, float(rec.outcomes["a"]), rec.ts))
        elif isinstance(rec, Probability):
            st = replace(st, emitted=dict(rec.outcomes), model=rec.model, version=rec.version)
        elif isinstance(rec, ShardInput) and rec.state is not None:
            try:
                model = lookup(rec.state.market_type, rec.state.league)
                probs = {k: float(v) for k, v in sorted(model.probabilities(rec.state).items())}
                st = replace(st, state=rec.state, probs=probs, model=model.name, version=model.version)
            except ModelError as exc:
                st = replace(st, state=rec.state, probs=None, model_error=f"{type(exc).__name__}: {exc}")
        elif isinstance(rec, ShardInput) and rec.quote is None and rec.link is not None:
            carried[f"{rec.link.venue.value}:{rec.link.market_id}"] = (rec.link, rec.listing)
        elif isinstance(rec, ShardInput) and rec.quote is not None:
            key = f"{rec.quote.venue.value}:{rec.quote.market_id}"
            link, listing = rec.link, rec.listing
            m = st.books.index(key)
            # a market's latest quote follows the record that carried its link and listing (written before 2026-12-07
            # with a quote of its own, so possibly after a first quote that made the market known)
            kept = carried.pop(key, None) or ((st.books.links[m], st.books.listings[m]) if m is not None else (None, None))
            link, listing = link or kept[0], listing or kept[1]
            entry = entry_from(link, kept_listing(listing) if listing is not None else None, rec.quote)
            st = replace(st, books=st.books.upsert(entry, policy))
        else:
            raise SnapshotError(f"unexpected {type(rec).__name__} in snapshot of {event_id}")
    return st


PREGAME_MODEL = "venue-pregame"


def pregame_record(event_id: str, price: PregamePrice) -> Probability:
    """The kept pregame venue price as a record: P(a) from market `inputs_digest` at `ts`."""
    return Probability(prob_id="", event_id=event_id, ts=price.ts, outcomes={"a": price.p_a}, model=PREGAME_MODEL,
                       inputs_digest=price.market)


class RawSnapshot:
    """A shard's snapshot kept as the raw input records it was built from, so saving re-encodes nothing.

    The worker already holds each input's framed Avro bytes (the message value); the
    snapshot of an event is the same length-prefixed sequence `dump` writes, built by
    joining the bytes of the latest applied state and quote records. Only the emitted
    Probability is encoded, and only when it changes.
    """

    def __init__(self) -> None:
        self.prob: bytes = b""
        self.prob_of: object = None
        self.state: bytes = b""
        self.state_of: object = None
        #: per market: the latest input that carried its listing, and its latest quote input (often without one)
        self.listed: dict[str, bytes] = {}
        self.quotes: dict[str, bytes] = {}
        self.pregame: bytes = b""
        self.pregame_of: object = None

    @classmethod
    def of(cls, state: ShardState) -> "RawSnapshot":
        """From a state without raw bytes at hand (recovered from the table): encode once."""
        raw = cls()
        if state.state is not None:
            raw.set_state(state, None)
        raw.set_listed(state, None)
        codec = default_codec()
        for key, e in zip(state.books.keys, state.books.entries):
            raw.quotes[key] = framed(codec.encode(ShardInput(input_id="", event_id=state.event_id, ts=0, quote=e.quote,
                                                             link=e.link)))
        return raw

    def set_listed(self, state: ShardState, before: ShardState | None) -> None:
        """Keep a record of the link and listing of each market whose link or listing is new since `before`: the
        router sends a listing once per change, so the market's later quotes come without it. Made from the state,
        not from the input that carried them: that input may be followed in its batch by a later quote of the
        market, and only the latest quote's bytes are kept (snapshots lost a listing that way, and a restarted
        shard dropped the event's whole state as unreadable)."""
        known = {} if before is None else {k: (lk, ls) for k, lk, ls in
                                           zip(before.books.keys, before.books.links, before.books.listings)}
        codec = default_codec()
        for key, link, listing in zip(state.books.keys, state.books.links, state.books.listings):
            was = known.get(key)
            if was is None or was[0] != link or (was[1] is not listing and was[1] != listing):
                rec = ShardInput(input_id="", event_id=state.event_id, ts=0, link=link, listing=listing)
                self.listed[key] = framed(codec.encode(rec))

    def set_quote(self, key: str, raw: bytes) -> None:
        """Keep the framed bytes of a market's latest quote input (without a listing: `set_listed` keeps that)."""
        self.quotes[key] = raw

    def _market(self, key: str) -> list[bytes]:
        listed = self.listed.get(key)
        return [self.quotes[key]] if listed is None else [listed, self.quotes[key]]

    def blob(self, state: ShardState) -> bytes:
        if state.emitted is not None and state.emitted is not self.prob_of:
            prob = Probability(prob_id="", event_id=state.event_id, ts=0, outcomes=state.emitted, model=state.model, version=state.version)
            self.prob, self.prob_of = framed(default_codec().encode(prob)), state.emitted
        if state.pregame is not self.pregame_of:
            self.pregame_of = state.pregame
            self.pregame = b"" if state.pregame is None else framed(default_codec().encode(pregame_record(state.event_id, state.pregame)))
        return b"".join([self.prob, self.state, *(b for k in state.books.keys for b in self._market(k)), self.pregame])

    def set_state(self, state: ShardState, raw: bytes | None) -> None:
        """Keep the bytes of the state's input record, or encode the state when the shard changed it (a venue prior)."""
        if state.state is None or state.state is self.state_of:
            return
        self.state_of = state.state
        self.state = raw if raw is not None else framed(default_codec().encode(
            ShardInput(input_id="", event_id=state.event_id, ts=state.state.ts, state=state.state)))


def framed(body: bytes) -> bytes:
    return _LEN.pack(len(body)) + body
