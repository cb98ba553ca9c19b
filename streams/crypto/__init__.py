"""Crypto price targets: which price a market asks about, and by which index it settles."""
