"""Frozen shard thresholds and filters; every age is in event time, never the wall clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.shard.equivalence import PairingPolicy

#: Statuses on which no signal is ever emitted: the outcome is known or trading is halted.
ALWAYS_BLOCKED: frozenset[EventStatus] = frozenset(
    {EventStatus.FINAL, EventStatus.SUSPENDED, EventStatus.POSTPONED, EventStatus.CANCELED}
)


@dataclass(frozen=True)
class ShardConfig:
    #: Minimum model edge (probability minus all-in cost per contract); the seed used 15%.
    min_edge: float = 0.15
    #: Minimum locked-in arbitrage profit per contract after both fees, micro-dollars.
    min_arb_profit_micros: int = 10_000
    #: Minimum contracts a signal must be able to fill before its edge is gone.
    min_size: float = 1.0
    #: A quote older than this (event time of the triggering record) is not executable.
    stale_quote_ms: int = 10_000
    #: A state older than this cannot price a model edge.
    stale_state_ms: int = 60_000
    #: Market types whose state holds until the next one replaces it, whatever its age: a release's forecast
    #: (re-priced when an observation or the release calendar changes) and a race's polling average (when a poll
    #: comes). Their states are hours to weeks old when a quote meets them; a 60 s limit would price none.
    ageless_types: frozenset[MarketType] = frozenset({MarketType.ECONOMICS, MarketType.POLITICS})
    #: Emit Probability only when some outcome moved by more than this.
    prob_epsilon: float = 0.005
    #: Markets without read venue rules (non-sports): settle times must agree within this to pair.
    settle_tolerance_ms: int = 0
    #: Two venues' stated scheduled starts of one game must agree within this to pair.
    start_tolerance_ms: int = 15 * 60_000
    #: Pair markets whose payouts differ only if the game is not played as scheduled (the reason says how).
    accept_void_difference: bool = True
    #: Also refuse signals during breaks (halftime etc.) when set.
    block_on_break: bool = False
    #: Statuses with no model-edge signals (arbitrage is allowed on live and scheduled events).
    blocked_statuses: frozenset[EventStatus] = field(default=ALWAYS_BLOCKED)

    @property
    def pairing(self) -> PairingPolicy:
        return PairingPolicy(self.start_tolerance_ms, self.settle_tolerance_ms, self.accept_void_difference)

    def fresh(self, state: EventState, now: int) -> bool:
        """Can `state` still price a model edge at event time `now`?"""
        return state.market_type in self.ageless_types or now - state.ts <= self.stale_state_ms

    def blocked(self, status: EventStatus) -> bool:
        return status in self.blocked_statuses or (self.block_on_break and status is EventStatus.BREAK)
