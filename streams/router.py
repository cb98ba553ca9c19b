"""Routing: re-key linked market data by event id so each event's shard sees it all.

Quotes, links and listings arrive keyed by `venue:market_id` (co-partitioned);
the router keeps, per market, the latest link, listing and quote, and emits a
ShardInput keyed by the linked event id once a quote has both. A quote of an
unlinked market is kept (not dropped): it goes out the moment its link lands.
A listing that changes (a market closing, its result, new fees) goes out again
with the latest book, so the shard stops signalling on a market that is not open
and positions settle at the venue's result; one re-discovered unchanged does not.
The listing travels once per change, not with every quote: a quote goes out with
its link only, unless it is the record that completes the market's route (its
listing has not been sent yet). Consumers keep the last listing per market.
Pure: no clock, no I/O; ids derive from the records so replays match.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from schemas.records import EventState, MarketLink, MarketListing, Quote, ShardInput


@dataclass(frozen=True)
class MarketRoute:
    """What the router knows about one venue market."""

    link: MarketLink | None = None
    listing: MarketListing | None = None
    quote: Quote | None = None


Routed = tuple[str, ShardInput]  # (event id key, value)


def _emit(route: MarketRoute, input_id: str, ts: int, *, listing: bool = True) -> list[Routed]:
    if route.link is None or route.listing is None or route.quote is None:
        return []
    value = ShardInput(
        input_id=input_id,
        event_id=route.link.event_id,
        ts=ts,
        quote=route.quote,
        link=route.link,
        listing=route.listing if listing else None,
    )
    return [(route.link.event_id, value)]


def step(route: MarketRoute, record: Quote | MarketLink | MarketListing) -> tuple[MarketRoute, list[Routed]]:
    """Fold one market record into the route; return what the shard must see now."""
    if isinstance(record, Quote):
        # With link, listing and an earlier quote all known, whichever record completed the route
        # went out with the listing, and so did every listing change since: this quote needs none.
        sent = route.quote is not None and route.link is not None and route.listing is not None
        route = replace(route, quote=record)
        return route, _emit(route, f"quote:{record.quote_id}", record.ts, listing=not sent)
    if isinstance(record, MarketLink):
        previous = route.link
        route = replace(route, link=record)
        if previous is not None and previous.event_id == record.event_id and previous.yes_role == record.yes_role:
            return route, []
        # a new or re-pointed link: hand the event its latest book at the link's time
        return route, _emit(route, f"link:{record.link_id}", record.ts)
    if isinstance(record, MarketListing):
        previous = route.listing
        if previous is not None and record.ts < previous.ts:
            return route, []  # an older copy (a replayed page): the newer listing stands
        route = replace(route, listing=record)
        if previous is not None and replace(previous, ts=record.ts) == record:
            return route, []  # re-discovered unchanged: nothing the shard or positions need
        # new, or changed (status, result, fees, times): shard and positions must see it with the book
        return route, _emit(route, f"listing:{record.listing_id}:{record.ts}", record.ts)
    raise TypeError(f"the router does not take {type(record).__name__}")


def route_state(state: EventState) -> Routed:
    """Event states go straight to their shard, keyed by event id."""
    return state.event_id, ShardInput(input_id=f"state:{state.state_id}", event_id=state.event_id, ts=state.ts, state=state)
