"""Errors of the ESPN connector, split by what the caller must do about them.

Transient errors are retried (and, once retries are spent, the poll is skipped
and tried again on the next tick); fatal errors stop the connector because
retrying cannot help; bad input is dead-lettered and the connector keeps going.
"""

from __future__ import annotations


class EspnError(Exception):
    """Root of every error raised by `connectors.espn`."""


class TransientEspnError(EspnError):
    """Timeout, 429 or 5xx: worth another attempt after a pause."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class FatalEspnError(EspnError):
    """A request that can never succeed as written (non-HTTPS URL, 4xx other than 429)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnknownLeague(FatalEspnError):
    """A league key outside the table in `leagues.py`."""


class BadPayload(EspnError):
    """A response that does not fit the shape the normalizer needs; goes to `deadletter`.

    `where` names the JSON path of the offending value so the dead letter says
    exactly what was wrong without anyone re-reading the payload.
    """

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail
