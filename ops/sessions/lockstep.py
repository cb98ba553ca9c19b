"""Lockstep replay: publish a session no faster than the workers can keep its event-time order.

Faust merges the topics an agent reads in arrival order, not event time (ops/backtest/compare.py).
The in-process engine is strict event time: after each input, its whole cascade (shard, sizing,
execution, positions) completes before the next input. A replay matches it record for record
when, after each payload, it waits until the workers have written what the engine had written
by then. `Lockstep` knows that from an engine run of the same session; `Progress` counts what
the workers wrote (distinct ids, the session's event and the run's account only).

Each engine output is traced to the shard input that caused it (a probability's state, a
signal's trigger, an order's signal or exit quote, a fill's order), so a burst of frames at
one instant is waited on frame by frame only where one of them trades. Within one stream (one
market's frames, in order on one partition) nothing else is waited for; where the stream
changes, the shard inputs too, so the next stream's records cannot overtake. After every
payload the trading inbox must hold its shard inputs: two agents write that inbox (inputs and
signals), and a signal must not overtake the input it came from.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops.backtest.records import BacktestResult
from ops.sessions.replay import Collect, Payload, ReplayClock, ReplayStats, SessionConnectors, load_payloads, replay_session
from schemas.records import (
    Fill, LedgerEntry, MarketLink, Order, OrderStatus, PositionEvent, Probability, RiskEvent, ShardInput, Signal,
)

INBOX = "inbox"  # the worker's `<app id>-trading-inbox`: shard inputs and signals, per account, as trading reads them
TOPICS = (INBOX, "markets.links", "shard.inputs", "model.probabilities", "signals", "orders", "fills", "positions", "ledger", "risk.state")


#: Records of the session's event, and of the run's account, with the field that identifies each.
EVENT_IDS: tuple[tuple[type, str], ...] = (
    (MarketLink, "link_id"), (ShardInput, "input_id"), (Probability, "prob_id"), (Signal, "signal_id"))
ACCOUNT_IDS: tuple[tuple[type, str], ...] = (
    (Order, "order_id"), (Fill, "fill_id"), (OrderStatus, "status_id"), (PositionEvent, "position_event_id"),
    (LedgerEntry, "entry_id"), (RiskEvent, "risk_id"))


class Progress:
    """Distinct records the workers wrote per topic; pass `keep` to `ops.demo.LogReader`."""

    def __init__(self, event_id: str, account: str) -> None:
        self.event_id, self.account = event_id, account
        self.ids: dict[str, set[str]] = {t: set() for t in TOPICS}

    def keep(self, seen: Any) -> bool:
        ident = self._identity(seen.record)
        topic = INBOX if seen.topic.endswith("-trading-inbox") else seen.topic
        if ident is not None and topic in self.ids and (topic != INBOX or isinstance(seen.record, ShardInput)):
            self.ids[topic].add(ident)
        return True

    def _identity(self, r: Any) -> str | None:
        for cls, attr in EVENT_IDS:
            if isinstance(r, cls):
                return str(getattr(r, attr)) if getattr(r, "event_id") == self.event_id else None
        for cls, attr in ACCOUNT_IDS:
            if isinstance(r, cls):
                return str(getattr(r, attr)) if getattr(r, "account") == self.account else None
        return None

    def count(self, topic: str) -> int:
        return len(self.ids[topic])

    def counts(self) -> dict[str, int]:
        return {t: len(v) for t, v in self.ids.items()}


class Lockstep:
    """Per payload of the session, how many records of each topic the engine had written once it was in."""

    def __init__(self, want: BacktestResult, payloads: list[Payload], event_id: str, latency_ms: int) -> None:
        inputs = [i for i in want.shard_inputs if i.event_id == event_id]
        index = {i.input_id: k for k, i in enumerate(inputs)}
        times = [i.ts for i in inputs]

        def by_ts(ts: int) -> int:
            return bisect.bisect_right(times, ts) - 1

        signal_at = {s.signal_id: index.get(s.trigger, by_ts(s.ts)) for s in want.signals if s.event_id == event_id}
        exit_at: dict[tuple[str, int], int] = {}
        for e in want.positions:
            _, sep, quote_id = e.position_event_id.partition(f":{e.status.value}:")
            if sep and f"quote:{quote_id}" in index:
                exit_at[(e.position_id, e.ts)] = index[f"quote:{quote_id}"]
        order_at: dict[str, int] = {}
        filled_at: dict[str, int] = {}  # a paper order fills on the first market data past its time + latency
        for o in want.orders:
            exits = [k for (pid, ts), k in exit_at.items() if ts == o.ts and pid in o.reason]
            order_at[o.order_id] = signal_at.get(o.signal_id, exits[0] if exits else by_ts(o.ts))
            filled_at[o.order_id] = max(order_at[o.order_id], by_ts(o.ts + latency_ms) + 1)

        def position(e: PositionEvent) -> int:
            oid = next((part for part in e.position_event_id.split(":") if part.startswith("o-")), "")
            return filled_at.get(oid, exit_at.get((e.position_id, e.ts), by_ts(e.ts)))

        def ledger(e: LedgerEntry) -> int:
            return -1 if e.version == 1 else filled_at.get(e.ref.split(":", 1)[0], by_ts(e.ts))

        self.causes: dict[str, list[int]] = {k: sorted(v) for k, v in {
            "model.probabilities": [index.get(f"state:{p.state_id}", by_ts(p.ts)) for p in want.probabilities
                                    if p.event_id == event_id],
            "signals": list(signal_at.values()),
            "orders": list(order_at.values()),
            "fills": [filled_at.get(f.order_id, by_ts(f.ts)) for f in want.fills],
            "positions": [position(e) for e in want.positions],
            "ledger": [ledger(e) for e in want.ledger],
            "risk.state": [signal_at.get(e.ref, by_ts(e.ts)) for e in want.risk],
        }.items()}
        self.link_times = sorted(lk.ts for lk in want.links if lk.event_id == event_id)  # a link has its cause's time
        self.upto: list[int] = []  # the last shard input caused by payloads 0..k
        sink = Collect()
        connectors = SessionConnectors(sink)
        last = -1
        for p in payloads:
            n = len(sink.records)
            connectors.on_payload(p)
            for rec in sink.records[n:]:
                v = rec.record
                key = (f"quote:{v.quote_id}" if rec.topic == "markets.quotes" else f"state:{v.state_id}"
                       if rec.topic == "events.state" else f"listing:{v.listing_id}:{v.ts}"
                       if rec.topic == "markets.catalog" else "")
                last = max(last, index.get(key, -1))
            self.upto.append(last)
        self.payloads = payloads

    def after(self, k: int) -> dict[str, int]:
        """Records per topic due once payload `k` is in."""
        upto = self.upto[k]
        return {"shard.inputs": upto + 1, INBOX: upto + 1, "markets.links": bisect.bisect_right(self.link_times, self.payloads[k].at),
                **{t: bisect.bisect_right(c, upto) for t, c in self.causes.items()}}

    def barrier(self, wait: Callable[[dict[str, int]], bool],
                listing_settle_s: float = 1.0) -> Callable[[Payload, Payload | None], None]:
        """A `replay_session` barrier: `wait(targets)` must return once the workers wrote `targets` (False: timed out).

        Discovery writes nothing when it files a listing, so a listing payload is given
        `listing_settle_s` to be read before the next payload (a state read first would
        link the market at the listing's time, not the state's).
        """
        seen = [0]
        waited: dict[str, int] = {}

        def caught_up(p: Payload, nxt: Payload | None) -> None:
            targets = self.after(seen[0])
            seen[0] += 1
            if p.endpoint == "markets":
                time.sleep(listing_settle_s)
            if nxt is not None and nxt.stream == p.stream:
                targets.pop("shard.inputs")
            if not any(n > waited.get(t, 0) for t, n in targets.items()):
                return
            if not wait(targets):
                raise LockstepTimeout(p, targets)
            waited.update(targets)

        return caught_up


class LockstepTimeout(RuntimeError):
    """The workers did not write what the engine had by a payload's time."""

    def __init__(self, payload: Payload, targets: dict[str, int]) -> None:
        super().__init__(f"after the payload at {payload.at} ({payload.source} {payload.endpoint}) the workers had not "
                         f"written {targets}")
        self.payload, self.targets = payload, targets


def replay_in_lockstep(session: Path, bootstrap: str, want: BacktestResult, reader: Any, progress: Progress, inbox: str, *,
                       latency_ms: int, service: str, timeout_s: float, alive: Callable[[], bool] = lambda: True,
                       tick: Callable[[], None] = lambda: None, strict: bool = True) -> ReplayStats:
    """Play `session` onto the topics, after each payload waiting until the workers wrote what `want` had by then.

    `reader` (an `ops.demo.LogReader` keeping through `progress.keep`) reads the outputs from
    before the first payload; `inbox` is the trading worker's `<app id>-trading-inbox`, read
    from its start. The workers may be one process (`arbees demo`) or one per agent group
    (`arbees run --replay`): only what they wrote counts. `alive()` false ends a wait early.
    A wait past `timeout_s` raises `LockstepTimeout`; not `strict`, it is printed and the rest plays unpaced.
    """
    from ops.demo import LogReader, log_ends

    inbox_reader = LogReader(bootstrap, {inbox: dict.fromkeys(log_ends(bootstrap, [inbox])[inbox], 0)},
                             keep=progress.keep, topics=(inbox,))
    step = Lockstep(want, load_payloads(session), progress.event_id, latency_ms)

    lost: list[dict[str, int]] = []

    def wait(targets: dict[str, int]) -> bool:
        def done(_r: Any) -> bool:
            inbox_reader.poll(0.002)
            return all(progress.count(t) >= n for t, n in targets.items()) or not alive()

        if lost:
            return True
        ok = bool(reader.read_until(done, timeout_s) and alive())
        tick()
        if not ok and not strict:
            lost.append(targets)
            print(f"lockstep: the workers had not written {targets} after {timeout_s:.0f}s; the rest plays unpaced", flush=True)
            return True
        return ok

    try:
        return replay_session(session, bootstrap, clock=ReplayClock(min_gap_s=0.0), service=service,
                              barrier=step.barrier(wait))
    finally:
        inbox_reader.close()
