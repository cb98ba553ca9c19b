"""Polymarket connector errors, split by what the caller must do about them.

`TransientError` → retry later; `BadPayload` → dead-letter the input and go on;
`ResyncRequired` → drop the local book and fetch a fresh snapshot; the rest are
fatal for the call that raised them (configuration or venue refusal).
"""

from __future__ import annotations


class PolymarketError(Exception):
    """Root of every error this package raises."""


class TransientError(PolymarketError):
    """Network trouble or a 5xx/429: the same call may succeed later, not before `retry_after_s` (the venue's Retry-After)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class BadPayload(PolymarketError):
    """A venue payload that does not have the recorded/documented shape: dead-letter it."""


class UnknownMessageType(BadPayload):
    """A websocket message whose `event_type` we do not handle."""


class LegacyPriceChange(BadPayload):
    """A flat pre-2025-09-15 `price_change`; refused because it cannot be verified (see book.py)."""


class MissingFeeInfo(BadPayload):
    """A market whose fee parameters are absent: we never assume a zero fee."""


class NotBinary(BadPayload):
    """A market that does not have exactly two outcomes and two CLOB tokens."""


class ResyncRequired(PolymarketError):
    """The local book can no longer be trusted; a fresh snapshot is needed."""

    def __init__(self, asset_id: str, reason: str) -> None:
        super().__init__(f"book {asset_id[:12]}… needs a resync: {reason}")
        self.asset_id = asset_id
        self.reason = reason


class BookNotReady(PolymarketError):
    """A book was read before a snapshot made it trustworthy."""


class CredentialsMissing(PolymarketError):
    """Trading was asked for without the environment variables it needs (names only, never values)."""


class VenueRejected(PolymarketError):
    """The CLOB answered but refused the request (4xx or success=false)."""


class TradeStateError(PolymarketError):
    """A trade status transition that the venue's lifecycle does not allow."""
