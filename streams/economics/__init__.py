"""Economic release targets: which published figure a market asks about, and its forecast."""
