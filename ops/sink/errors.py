"""Errors of the sink, split by what the runner does with them.

Bad input (`UnstorableRecord`) is dead-lettered and the sink keeps going; fatal
errors (`BankrollConflict`, `OffsetFence`) roll the batch back and stop the sink,
because carrying on would overwrite money or race another sink.
"""

from __future__ import annotations


class SinkError(Exception):
    """Root of every error the sink raises."""


class UnstorableRecord(SinkError):
    """A decoded record that cannot become a row (no table, a value PostgreSQL refuses)."""


class SinkFatal(SinkError):
    """The batch was rolled back and the sink must stop: an operator has to look."""


class BankrollConflict(SinkFatal):
    """The stored bankroll moved while the sink held it locked: something else writes `bankroll`.

    Entries the ledger rule refuses (stale, gap, duplicate) are not conflicts: they are
    normal under optimistic versioning and are kept in `ledger_entries`, unbooked.
    """

    def __init__(self, account: str, entry_id: str, detail: str) -> None:
        super().__init__(f"bankroll conflict for account {account!r} at ledger entry {entry_id!r}: {detail}")
        self.account = account
        self.entry_id = entry_id


class OffsetFence(SinkFatal):
    """The stored offset moved under us: another sink with the same consumer name is writing."""
