"""Errors of entity matching, under one root so callers can tell them from bugs."""

from __future__ import annotations


class MatchingError(Exception):
    """Root of entity-matching errors."""


class UnsupportedMarketType(MatchingError):
    """No matcher exists for this market type yet: the listing cannot be linked, and we say so."""


class AliasTableError(MatchingError):
    """The alias data file is missing or malformed: matching must not run on an empty table."""
