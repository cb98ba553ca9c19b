"""Derivation scripts: fit model parameters from the real data in data/ and write params/*.json."""
