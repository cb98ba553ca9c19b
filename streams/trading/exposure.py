"""Exposure of one account: what it holds and reserves, summed along each risk limit's axis.

Sizing checks every leg of every signal against the event, market, venue and total
limits and against the cash left. Rescanning every holding and working order for
each leg made sizing most of the in-process backtest's time (issue 13), so the sums
are kept in step with the holdings and working orders instead: they change only on
a fill, an order, a terminal status or a settled position, while a signal only
reads them. The sums are plain integer micro-dollars inside; `Micros` at the edges.
They are derived, never persisted: the sizing processor keeps them beside its
state (streams/trading/memo.py) and takes them afresh for a state it has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from schemas.enums import Action
from streams.trading import risk
from streams.trading.units import Contracts, Micros


@dataclass(frozen=True)
class Holding:
    """Open contracts of one position and their cost (fees are in the ledger)."""

    event_id: str
    venue: str
    market: str
    qty: Contracts = Contracts(0)
    cost: Micros = Micros(0)

    @property
    def exposure(self) -> int:
        return self.cost.value


@dataclass(frozen=True)
class Working:
    """An order sent and not yet terminal: its unfilled part reserves exposure."""

    pos: str
    event_id: str
    venue: str
    market: str
    action: Action
    remaining: Contracts
    limit: Micros

    @property
    def reserved(self) -> Micros:
        return self.remaining.cost(self.limit) if self.action is Action.BUY else Micros(0)

    @property
    def exposure(self) -> int:
        return self.reserved.value


def _bump(sums: dict[str, int], key: str, delta: int) -> None:
    left = sums.get(key, 0) + delta
    if left:
        sums[key] = left
    else:
        sums.pop(key, None)


@dataclass(frozen=True)
class Exposures:
    """Sums of open cost (holdings) and reserved cost (working orders) per event, market and venue."""

    event: Mapping[str, int] = field(default_factory=dict)
    market: Mapping[str, int] = field(default_factory=dict)
    venue: Mapping[str, int] = field(default_factory=dict)
    open_cost: int = 0
    reserved: int = 0

    @classmethod
    def scan(cls, holdings: Mapping[str, Holding], working: Mapping[str, Working]) -> Exposures:
        """The sums by one pass over every holding and working order."""
        return cls().moved((), (*holdings.values(), *working.values()))

    def moved(self, gone: Iterable[Holding | Working], came: Iterable[Holding | Working]) -> Exposures:
        """The sums after the entries `gone` were replaced by `came`."""
        event, market, venue = dict(self.event), dict(self.market), dict(self.venue)
        open_cost, reserved = self.open_cost, self.reserved
        for sign, items in ((-1, gone), (1, came)):
            for item in items:
                cost = sign * item.exposure
                if not cost:
                    continue
                _bump(event, item.event_id, cost)
                _bump(market, f"{item.venue}:{item.market}", cost)
                _bump(venue, item.venue, cost)
                if isinstance(item, Holding):
                    open_cost += cost
                else:
                    reserved += cost
        return Exposures(event, market, venue, open_cost, reserved)

    @property
    def total(self) -> int:
        return self.open_cost + self.reserved

    def of_leg(self, event_id: str, market_key: str, venue: str) -> risk.Exposure:
        """Exposure along each limit's axis for a leg in `market_key` of `event_id` at `venue`."""
        return risk.Exposure(Micros(self.event.get(event_id, 0)), Micros(self.market.get(market_key, 0)),
                             Micros(self.venue.get(venue, 0)), Micros(self.total))
