"""The co-partitioning keys, defined once: market, event and account.

Every topic, table and processor that keys by one of these calls the function here
(streams/topology.py declares which stage keys by which), so two spellings of one key
cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from schemas.enums import Venue


def market_key(venue: Venue, market_id: str) -> str:
    """A market on `markets.*` topics and in every per-market table: `VENUE:market_id`."""
    return f"{venue.value}:{market_id}"


def account_market_key(account: str, market: str) -> str:
    """One account's row of a per-market trading table (execution's books, sizing's and positions' tops and links):
    `<account>|<market_key>`, on the account's partition."""
    return f"{account}|{market}"


def event_key(record: Any) -> str:
    """Event-scoped topics (`shard.inputs`, `signals`, `model.probabilities`) key by the event id."""
    return str(record.event_id)


def account_key(record: Any) -> str:
    """Account-scoped topics (`orders`, `fills`, `positions`, `ledger`, `risk.state`) key by the account."""
    return str(record.account)
