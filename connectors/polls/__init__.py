"""Polls: a polling source read over HTTP (CSV or JSON), normalized to one record per poll."""
