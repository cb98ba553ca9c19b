"""Errors of the FRED connector: transient (retry), fatal (stop), bad payload (dead-letter)."""

from __future__ import annotations

from connectors.rest import BadPayloadError, TransientHttpError


class FredError(Exception):
    """Root of every error raised by `connectors.fred`."""


class TransientFredError(FredError, TransientHttpError):
    """Timeout, transport error, 429 or 5xx: worth another attempt after a pause."""


class FatalFredError(FredError):
    """A request that cannot succeed as written (bad key, unknown id, non-HTTPS URL)."""


class BadPayload(FredError, BadPayloadError):
    """An answer that does not have the documented shape: dead-lettered with `where` it went wrong."""
