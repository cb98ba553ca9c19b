"""Deterministic ids for every trading record, so a replay or a crash retry reproduces them.

Effectively-once rests on these (DESIGN.md, correctness rules): an order id comes
from its signal and leg, a fill id from its order and the book level it took, a
ledger entry id from the economic fact it books. Re-emitting after a crash then
writes the same ids again, which every consumer deduplicates.
"""

from __future__ import annotations

import hashlib


def stable_id(*parts: object) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def order_id(account: str, signal_id: str, leg: int) -> str:
    """Our order id and the venue's client order id: one per (account, signal, leg)."""
    return f"o-{stable_id(account, signal_id, leg)[:24]}"


def unwind_order_id(filled_order_id: str) -> str:
    return f"u-{stable_id('unwind', filled_order_id)[:24]}"


def paper_fill_id(oid: str, level: int) -> str:
    return f"{oid}:f{level}"


def group_id(signal_id: str, legs: int) -> str:
    """An arbitrage episode: the legs' common id, which also says how many legs to wait for."""
    return f"g-{signal_id}/{legs}"


def legs_in_group(gid: str) -> int:
    try:
        return int(gid.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"group id {gid!r} does not carry its leg count (made by ids.group_id)") from None


def position_id(account: str, venue: str, market_id: str, side: str) -> str:
    return f"{account}:{venue}:{market_id}:{side}"


def fill_key(fill_id: str, reversed_: bool) -> str:
    """A fill's identity for dedupe and its ledger entries: a reversal (a venue trade that FAILED)
    carries the id of the fill it undoes, so it is told apart by this suffix."""
    return f"{fill_id}:reversed" if reversed_ else fill_id
