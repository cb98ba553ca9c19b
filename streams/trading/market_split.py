"""An account state's per-market parts, kept per market in tables of their own.

Sizing keeps a top of book per market and positions a top and a link per market. Held inside
the account's state, every quote rewrote the whole account: at 3,000 markets one sizing value
was 0.74 MB and one positions value 1.08 MB, each about 24 ms to encode, written at every
checkpoint (the load run's trading group fell behind for good, issue 16). Split, a quote
writes the one market's small value, and the account's state is written only when something
in it changed.

The processors stay pure and unchanged: before a record, the stage loads into the state the
markets the record reads (each processor's `markets`), and after it stores the entries that
changed in their tables and the rest of the state, with those parts empty, in the account's.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, TypeVar

from streams.keys import account_market_key

S = TypeVar("S")


@dataclass(frozen=True)
class Split:
    """A dict field of an account state (market key → value) kept in `table` under "<account>|<market key>"."""

    field: str
    table: str


def load(state: S, splits: Iterable[Split], tables: Callable[[str], MutableMapping[str, Any]], account: str,
         markets: Iterable[str]) -> S:
    """`state` with each split field holding the entries of `markets` only.

    A state written before the split holds every market in the field itself: those entries move to
    the table once (what the table already has is newer) and the field is emptied when stored.
    """
    wanted = tuple(markets)
    parts: dict[str, dict[str, Any]] = {}
    for split in splits:
        table = tables(split.table)
        inline: dict[str, Any] = getattr(state, split.field)
        for market, value in inline.items():
            if account_market_key(account, market) not in table:
                table[account_market_key(account, market)] = value
        parts[split.field] = {m: v for m in wanted if (v := table.get(account_market_key(account, m))) is not None}
    return replace(state, **parts)  # type: ignore[type-var]


def store(stored: S, loaded: S, after: S, splits: Iterable[Split],
          tables: Callable[[str], MutableMapping[str, Any]], account: str) -> S | None:
    """Write the split entries `after` changed (against `loaded`) to their tables; return the account's state to
    store (split fields empty), or None when the stored one still holds (a quote that only moved a top)."""
    names = {split.field for split in splits}
    for split in splits:
        before: dict[str, Any] = getattr(loaded, split.field)
        now: dict[str, Any] = getattr(after, split.field)
        if before.keys() - now.keys():
            raise ValueError(f"{split.field}: a processor dropped a market ({sorted(before.keys() - now.keys())})")
        table = tables(split.table)
        for market, value in now.items():
            old = before.get(market)
            if old is not value and old != value:  # equal: another stage sharing the table wrote it already
                table[account_market_key(account, market)] = value
    unchanged = all(getattr(after, f.name) is getattr(loaded, f.name)
                    for f in fields(after) if f.name not in names)  # type: ignore[arg-type]
    if unchanged and not any(getattr(stored, name) for name in names):
        return None
    return replace(after, **{name: {} for name in names})  # type: ignore[type-var]
