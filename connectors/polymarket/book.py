"""A correct local order book for one CLOB token, or none at all.

Polymarket's market channel has no sequence numbers, so ordering is checked on
the messages' millisecond timestamps, and every `price_change` entry carries the
venue's best bid/ask after the change, which we compare with our own book: a
missed or misordered update shows up as a mismatch. Any doubt (an update older
than what was applied, a price off the tick grid, a crossed book, a best-price
mismatch, a tick change from a tick we do not hold) drops the levels and raises
`ResyncRequired`; the caller fetches a REST snapshot. Until then the book is not
readable, so nobody can quote from a wrong book.

Legacy flat `price_change` messages (before 2025-09-15) are refused upstream
(`LegacyPriceChange`) and the caller resyncs the token, because the flat form
has no best bid/ask to verify against.

While a resync is pending, updates are buffered; when the snapshot lands, the
ones newer than its timestamp are replayed and the rest are covered by it.
Likewise, websocket updates still in flight when a REST snapshot was taken
(timestamp <= the snapshot's) are already in it and are dropped, not applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from connectors.polymarket.errors import BookNotReady, ResyncRequired
from connectors.polymarket.messages import (
    BestBidAskMsg,
    BookMsg,
    BookSide,
    LastTradeMsg,
    PriceChange,
    TickSizeChangeMsg,
)


class BookState(str, Enum):
    EMPTY = "EMPTY"  # no snapshot yet
    READY = "READY"
    RESYNCING = "RESYNCING"  # levels dropped, waiting for a snapshot


@dataclass(frozen=True)
class BookView:
    """A read-only copy of a ready book: bids best (highest) first, asks best (lowest) first."""

    asset_id: str
    ts: int
    seq: int
    tick_micros: int
    bids: tuple[tuple[int, Decimal], ...]
    asks: tuple[tuple[int, Decimal], ...]


class LocalBook:
    """The book of one token, driven by snapshots and changes."""

    def __init__(self, asset_id: str, market: str, tick_micros: int | None = None) -> None:
        self.asset_id = asset_id
        self.market = market
        self.tick_micros = tick_micros
        self.state = BookState.EMPTY
        self.ts = 0
        self.seq = 0
        self.resyncs = 0
        self.last_trade_micros: int | None = None
        self.last_failure = ""
        self.rest_ts = -1  # timestamp of the last REST snapshot: updates up to it are already in it
        self.covered = 0  # updates dropped because a REST snapshot already contained them
        self._bids: dict[int, Decimal] = {}
        self._asks: dict[int, Decimal] = {}
        self._pending: list[tuple[int, PriceChange]] = []

    # ---------------------------------------------------------------- reading

    @property
    def ready(self) -> bool:
        return self.state is BookState.READY

    def best_bid(self) -> int | None:
        return max(self._bids) if self._bids else None

    def best_ask(self) -> int | None:
        return min(self._asks) if self._asks else None

    def view(self) -> BookView:
        if not self.ready or self.tick_micros is None:
            raise BookNotReady(f"book {self.asset_id[:12]}… is {self.state.value}")
        return BookView(
            asset_id=self.asset_id,
            ts=self.ts,
            seq=self.seq,
            tick_micros=self.tick_micros,
            bids=tuple(sorted(self._bids.items(), reverse=True)),
            asks=tuple(sorted(self._asks.items())),
        )

    # ---------------------------------------------------------------- writing

    def fail(self, reason: str) -> ResyncRequired:
        """Drop the levels and say why; the caller raises the returned error."""
        self.state = BookState.RESYNCING
        self._bids.clear()
        self._asks.clear()
        self.resyncs += 1
        self.last_failure = reason
        return ResyncRequired(self.asset_id, reason)

    def _check_grid(self, price: int, tick: int) -> bool:
        return 0 < price < 1_000_000 and price % tick == 0

    def apply_snapshot(self, msg: BookMsg, *, from_rest: bool) -> None:
        """Replace the levels; a REST snapshot also replays buffered newer changes."""
        if msg.asset_id != self.asset_id:
            raise ValueError(f"snapshot for {msg.asset_id} applied to book {self.asset_id}")
        if self.ready and msg.ts < self.ts:
            raise self.fail(f"snapshot at {msg.ts} is older than applied state at {self.ts}")
        tick = msg.tick_micros or self.tick_micros
        if tick is None:
            raise self.fail("snapshot has no tick size and none is known")
        for side in (msg.bids, msg.asks):
            for lv in side:
                if not self._check_grid(lv.price_micros, tick):
                    raise self.fail(f"snapshot level {lv.price_micros} is off the {tick} tick grid")
        bids = {lv.price_micros: lv.size for lv in msg.bids if lv.size > 0}
        asks = {lv.price_micros: lv.size for lv in msg.asks if lv.size > 0}
        if bids and asks and max(bids) >= min(asks):
            raise self.fail(f"snapshot is crossed: bid {max(bids)} >= ask {min(asks)}")
        self.tick_micros = tick
        self._bids, self._asks = bids, asks
        self.ts = msg.ts
        self.seq += 1
        if msg.last_trade_micros is not None:
            self.last_trade_micros = msg.last_trade_micros
        self.state = BookState.READY
        pending, self._pending = self._pending, []
        if from_rest:
            self.rest_ts = msg.ts
            for ts, change in pending:
                if ts > msg.ts:  # older ones are already in the snapshot
                    self.apply_change(change, ts)

    def apply_change(self, change: PriceChange, ts: int) -> bool:
        """Set one level; True if applied, False if buffered for a pending resync."""
        if self.state is not BookState.READY:
            self._pending.append((ts, change))
            return False
        if ts <= self.rest_ts:
            self.covered += 1
            return False
        if ts < self.ts:
            raise self.fail(f"update at {ts} arrived after state at {self.ts} (out of order)")
        assert self.tick_micros is not None
        if not self._check_grid(change.price_micros, self.tick_micros):
            raise self.fail(f"price {change.price_micros} is off the {self.tick_micros} tick grid")
        levels = self._bids if change.side is BookSide.BID else self._asks
        if change.size > 0:
            levels[change.price_micros] = change.size
        else:
            levels.pop(change.price_micros, None)
        self.ts = ts
        self.seq += 1
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise self.fail(f"book crossed after update: bid {bid} >= ask {ask}")
        self._verify_best(change.best_bid_micros, change.best_ask_micros, "price_change")
        return True

    def _verify_best(self, venue_bid: int | None, venue_ask: int | None, source: str) -> None:
        if venue_bid != self.best_bid() or venue_ask != self.best_ask():
            raise self.fail(
                f"{source} says best {venue_bid}/{venue_ask}, local book has {self.best_bid()}/{self.best_ask()}"
            )

    def apply_best_bid_ask(self, msg: BestBidAskMsg) -> None:
        """Check the book against the venue's top of book; an older message checks nothing."""
        if self.ready and msg.ts >= self.ts:
            self._verify_best(msg.best_bid_micros, msg.best_ask_micros, "best_bid_ask")

    def apply_tick_size(self, msg: TickSizeChangeMsg) -> None:
        """Apply a tick change live and re-validate every resting level against it."""
        if not self.ready:
            self.tick_micros = msg.new_tick_micros
            return
        if msg.ts <= self.rest_ts:
            self.covered += 1  # the REST snapshot already carried the tick in force
            return
        if msg.ts < self.ts:
            raise self.fail(f"tick_size_change at {msg.ts} arrived after state at {self.ts}")
        if msg.old_tick_micros != self.tick_micros:
            raise self.fail(f"tick change from {msg.old_tick_micros} but book holds {self.tick_micros}")
        self.tick_micros = msg.new_tick_micros
        self.ts = msg.ts
        self.seq += 1
        for price in (*self._bids, *self._asks):
            if not self._check_grid(price, msg.new_tick_micros):
                raise self.fail(f"level {price} is off the new {msg.new_tick_micros} tick grid")

    def apply_last_trade(self, msg: LastTradeMsg) -> None:
        if self.tick_micros is not None and not self._check_grid(msg.price_micros, self.tick_micros):
            raise self.fail(f"trade at {msg.price_micros} is off the {self.tick_micros} tick grid")
        self.last_trade_micros = msg.price_micros
