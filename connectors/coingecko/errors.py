"""Errors of the CoinGecko connector: transient (retry), fatal (stop), bad payload (dead-letter)."""

from __future__ import annotations


class CoinGeckoError(Exception):
    """Root of every error raised by `connectors.coingecko`."""


class TransientCoinGeckoError(CoinGeckoError):
    """Timeout, transport error, 429 or 5xx: worth another attempt after a pause."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class FatalCoinGeckoError(CoinGeckoError):
    """A request that cannot succeed as written (bad key, unknown coin, non-HTTPS URL)."""


class BadPayload(CoinGeckoError):
    """An answer that does not have the documented shape; `where` names the offending JSON path."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail
