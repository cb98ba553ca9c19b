"""Errors of the contract layer. Both are bad-input errors: callers dead-letter them."""

from __future__ import annotations


class ContractError(Exception):
    """Root of every error raised by `schemas`."""


class SchemaViolation(ContractError):
    """A record does not fit its schema; names the record type and the field."""

    def __init__(self, record_type: str, field: str, detail: str) -> None:
        super().__init__(f"{record_type}.{field}: {detail}")
        self.record_type = record_type
        self.field = field
        self.detail = detail


class DecodeError(ContractError):
    """Bytes that are not a framed Arbees record (bad magic byte, unknown id, garbage)."""


class RegistryError(ContractError):
    """The schema registry could not be read or did not answer."""
