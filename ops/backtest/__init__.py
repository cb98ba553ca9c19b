"""Backtests: the agents' processors replayed in-process (fast) or through a real Faust worker (Kafka)."""
