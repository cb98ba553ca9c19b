"""Errors of the Kalshi connector, split by what the caller must do about them.

Transient errors are retried after a pause; fatal errors stop the caller because
retrying cannot help; bad input is dead-lettered and the connector keeps going;
a book that can no longer be trusted is resynced, never published.
"""

from __future__ import annotations


class KalshiError(Exception):
    """Root of every error raised by `connectors.kalshi`."""


class TransientKalshiError(KalshiError):
    """Timeout, connection reset, 429 or 5xx: worth another attempt after a pause."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class FatalKalshiError(KalshiError):
    """A request that can never succeed as written (4xx other than 429, bad configuration)."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class CredentialsMissing(FatalKalshiError):
    """Signed calls were asked for but the key id or key file is not configured."""


class BadPayload(KalshiError):
    """A payload that does not fit the documented shape; goes to `deadletter`.

    `where` names the JSON path of the offending value so the dead letter says
    exactly what was wrong without anyone re-reading the payload.
    """

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail


class FixedPointError(BadPayload):
    """A `*_dollars` / `*_fp` string that is not an exact fixed-point number in range."""


class OffTickPrice(KalshiError):
    """A price that is not on the market's tick grid (an order we must not send)."""


class BookInconsistent(KalshiError):
    """A delta that cannot apply to the book we hold: the book must be resynced."""
