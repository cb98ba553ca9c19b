"""The bankroll ledger: balance by optimistic version, and what each entry means.

Every `LedgerEntry` carries `version = previous + 1`. The `ledger` topic is keyed
by account, so one partition totally orders an account's entries, and every
reader applies the same rule to that order: an entry is accepted only if its
version is exactly one past the last accepted one. Two writers that both built on
version N cannot both land: the first in the log wins, the second is refused as
stale and its writer rebuilds it on the new tip (same `entry_id`, new version).
An entry whose id was accepted before is refused as a duplicate whatever its
version (a writer that lost its state in a crash may rebuild a booked entry on a
newer tip), so nothing is ever booked twice.

Balance = deposits + realized P&L net of fees. Fees are booked when paid (a
`fee` entry per fill) and the trade's P&L when it is realized (`realized` at a
close or a settlement); cost of open positions is not a loss and is not booked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from schemas.records import LedgerEntry
from streams.trading.units import Micros

#: Accepted (version, entry_id) pairs remembered to refuse a replayed entry. Replays after a crash
#: reach back only to the last committed offset, far fewer entries than this.
RECENT_VERSIONS = 512


class EntryKind(str, Enum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    FEE = "fee"
    REALIZED = "realized"


#: Entries that are trading results (count toward the daily loss); the rest move capital.
PNL_KINDS = frozenset({EntryKind.FEE, EntryKind.REALIZED})


def kind_of(entry: LedgerEntry) -> EntryKind:
    """The kind is the reason's first word (`realized: settled YES at $1`)."""
    head = entry.reason.split(":", 1)[0].strip()
    try:
        return EntryKind(head)
    except ValueError:
        raise LedgerError(f"ledger entry {entry.entry_id} has unknown reason {entry.reason!r}") from None


class LedgerError(ValueError):
    """An entry no reader can interpret."""


class Verdict(str, Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # this very entry was accepted before
    STALE = "stale"  # built on a version another entry already took
    GAP = "gap"  # skips versions: a writer ahead of the log


@dataclass(frozen=True)
class LedgerState:
    account: str = ""
    version: int = 0
    balance: Micros = Micros(0)
    last_ts: int = 0
    recent: tuple[tuple[int, str], ...] = ()  # accepted (version, entry_id), newest last

    def accepted_id(self, version: int) -> str | None:
        for v, eid in reversed(self.recent):
            if v == version:
                return eid
        return None


def apply(state: LedgerState, entry: LedgerEntry) -> tuple[LedgerState, Verdict]:
    """The one rule every reader applies (pure): accept only `version == state.version + 1`."""
    if any(eid == entry.entry_id for _, eid in state.recent):
        return state, Verdict.DUPLICATE  # booked before (possibly at another version): never twice
    if entry.version <= state.version:
        return state, Verdict.STALE
    if entry.version > state.version + 1:
        return state, Verdict.GAP
    kind_of(entry)  # refuse unknown reasons loudly
    if state.balance.value + entry.delta_micros != entry.balance_micros:
        return state, Verdict.STALE  # right version, built on another history
    recent = (*state.recent, (entry.version, entry.entry_id))[-RECENT_VERSIONS:]
    new = replace(
        state,
        account=entry.account,
        version=entry.version,
        balance=Micros(entry.balance_micros),
        last_ts=max(state.last_ts, entry.ts),
        recent=recent,
    )
    return new, Verdict.ACCEPTED


def build_entry(
    tip_version: int, tip_balance: Micros, *, entry_id: str, account: str, ts: int, delta: Micros, kind: EntryKind, note: str, ref: str
) -> LedgerEntry:
    """An entry on top of (tip_version, tip_balance)."""
    return LedgerEntry(
        entry_id=entry_id,
        account=account,
        ts=ts,
        delta_micros=delta.value,
        balance_micros=tip_balance.value + delta.value,
        version=tip_version + 1,
        reason=f"{kind.value}: {note}" if note else kind.value,
        ref=ref,
    )


def rebase(entry: LedgerEntry, tip_version: int, tip_balance: Micros) -> LedgerEntry:
    """The same economic entry rebuilt on a newer tip (the optimistic retry)."""
    return replace(entry, version=tip_version + 1, balance_micros=tip_balance.value + entry.delta_micros)
