"""Compact table value for a shard: its inputs as contract records; arrays are rebuilt on load.

A snapshot is a length-prefixed sequence of Confluent-framed Avro records: the last
Probability emitted (if any), the latest EventState (as a ShardInput, with the venue
prior the shard filled in, if any), per market in book order the input that last carried
its listing and then its latest quote (the router sends a listing once per change), and the pregame venue price kept for a game without a line
(a Probability of model `venue-pregame` whose `inputs_digest` names the market). Loading replays them
through the same code paths the processor uses, so a recovered shard prices exactly
like the one that wrote it (the model is pure, so re-running it gives the same output).
"""

from __future__ import annotations

import struct
from dataclasses import replace

from schemas.codec import default_codec
from schemas.records import Probability, ShardInput
from streams.shard.equivalence import PairingPolicy
from streams.shard.processor import ModelLookup
from streams.shard.prior import PregamePrice
from streams.shard.state import ShardState, entry_from
from streams.probability.base import ModelError

_LEN = struct.Struct(">I")


class SnapshotError(ValueError):
    """A table value that is not a shard snapshot."""


def dump(state: ShardState) -> bytes:
    codec = default_codec()
    recs: list[object] = []
    if state.emitted is not None:
        recs.append(
            Probability(prob_id="", event_id=state.event_id, ts=0, outcomes=state.emitted, model=state.model, version=state.version)
        )
    if state.state is not None:
        recs.append(ShardInput(input_id="", event_id=state.event_id, ts=state.state.ts, state=state.state))
    for e in state.books.entries:
        recs.append(ShardInput(input_id="", event_id=state.event_id, ts=0, quote=e.quote, link=e.link, listing=e.listing))
    if state.pregame is not None:
        recs.append(pregame_record(state.event_id, state.pregame))
    out = bytearray()
    for rec in recs:
        body = codec.encode(rec)
        out += _LEN.pack(len(body)) + body
    return bytes(out)


def load(event_id: str, blob: bytes, lookup: ModelLookup, policy: PairingPolicy) -> ShardState:
    codec = default_codec()
    st = ShardState(event_id=event_id)
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
        elif isinstance(rec, ShardInput) and rec.quote is not None:
            link, listing = rec.link, rec.listing
            m = st.books.index(f"{rec.quote.venue.value}:{rec.quote.market_id}")
            if m is not None:  # a market's latest quote follows the record that carried its listing
                link, listing = link or st.books.links[m], listing or st.books.listings[m]
            entry = entry_from(link, listing, rec.quote)
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
        codec = default_codec()
        if state.state is not None:
            raw.set_state(state, None)
        for key, e in zip(state.books.keys, state.books.entries):
            rec = ShardInput(input_id="", event_id=state.event_id, ts=0, quote=e.quote, link=e.link, listing=e.listing)
            raw.quotes[key] = raw.listed[key] = framed(codec.encode(rec))
        return raw

    def set_quote(self, key: str, raw: bytes, has_listing: bool) -> None:
        """Keep the bytes of a market's latest quote input; one that carried the listing is kept apart too,
        since the router sends a listing once per change and later quotes of the market come without it."""
        self.quotes[key] = raw
        if has_listing:
            self.listed[key] = raw

    def _market(self, key: str) -> list[bytes]:
        listed, latest = self.listed.get(key, b""), self.quotes[key]
        return [latest] if listed in (b"", latest) else [listed, latest]

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
