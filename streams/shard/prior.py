"""The venue's own pregame price as the prior when no bookmaker line reached the event.

Every in-game model starts from a pregame prior (`p_pregame_a`). The ESPN
connector derives it from the bookmakers' line; some events have none. Then
the shard uses the mid of a linked venue market's book while the event was
still scheduled: the last pregame quote of the first market on entity a or b
that was quoted pregame (an anchor that hopped between markets would move the
excluded market with it), frozen at the first state after the start, and names it on the priced state:
`prior_from:venue:<venue>:<market_id>` = 1.

That market is then out of bounds for model edges: a model started from
market M's own price would find "edges" against M that are only its own
echo, so `excluded_market` tells the processor to price no model-edge signal
against M for any state carrying that prior. Other markets of the event may
be priced against it.

Pure: no clock, the quote's event time decides what is pregame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from schemas.enums import EventStatus
from schemas.records import EventState, MarketLink, Quote

#: Names shared with the ESPN connector's features (`connectors/espn/pregame.py`).
PRIOR = "p_pregame_a"
PRIOR_FROM = "prior_from:"
VENUE_PRIOR_FROM = PRIOR_FROM + "venue:"
#: A book wider than this (ask minus bid, micro-dollars) says too little to anchor a model.
MAX_SPREAD_MICROS = 100_000


@dataclass(frozen=True)
class PregamePrice:
    """P(entity a wins) read off one market's pregame book."""

    market: str  # venue:market_id
    p_a: float
    ts: int


def pregame_price(link: MarketLink, quote: Quote, state: EventState | None) -> PregamePrice | None:
    """The quote's mid as P(a), if the event is known to be scheduled and the quote is from before its start."""
    if state is None or state.status is not EventStatus.SCHEDULED or PRIOR in state.features:
        return None
    if state.start_ts is not None and quote.ts >= state.start_ts:
        return None
    bid = quote.yes_bid_micros
    if bid is None and quote.no_ask_micros is not None:
        bid = 1_000_000 - quote.no_ask_micros  # a YES bid is a NO ask seen from the other side
    ask = quote.yes_ask_micros
    if link.yes_role not in ("a", "b") or bid is None or ask is None:
        return None
    if not 0 < bid <= ask < 1_000_000 or ask - bid > MAX_SPREAD_MICROS:
        return None
    mid = (bid + ask) / 2_000_000
    return PregamePrice(f"{quote.venue.value}:{quote.market_id}", mid if link.yes_role == "a" else 1.0 - mid, quote.ts)


def with_prior(state: EventState, previous: EventState | None, price: PregamePrice | None) -> EventState:
    """The state with a venue prior filled in where it has none after the start.

    A prior once used is kept: later states take it from the previous priced
    state, so the anchor never drifts with in-game prices.
    """
    if state.status is EventStatus.SCHEDULED or PRIOR in state.features:
        return state
    if previous is not None and excluded_market(previous) is not None:
        market, p_a = excluded_market(previous), previous.features[PRIOR]
    elif price is not None:
        market, p_a = price.market, price.p_a
    else:
        return state
    features = {**state.features, PRIOR: p_a, VENUE_PRIOR_FROM + str(market): 1.0}
    return dataclasses.replace(state, features=features)


def excluded_market(state: EventState | None) -> str | None:
    """The market (venue:market_id) whose own price is this state's prior, if any."""
    if state is None or PRIOR not in state.features:
        return None
    for key in state.features:
        if key.startswith(VENUE_PRIOR_FROM):
            return key[len(VENUE_PRIOR_FROM):]
    return None
