"""Errors of the FRED connector: transient (retry), fatal (stop), bad payload (dead-letter)."""

from __future__ import annotations


class FredError(Exception):
    """Root of every error raised by `connectors.fred`."""


class TransientFredError(FredError):
    """Timeout, transport error, 429 or 5xx: worth another attempt after a pause."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class FatalFredError(FredError):
    """A request that cannot succeed as written (no key, bad series id)."""


class BadPayload(FredError):
    """An answer that does not have the documented shape; `where` names the offending JSON path."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail
