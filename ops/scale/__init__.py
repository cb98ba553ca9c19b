"""Growing a running system: topic generations (`arbees scale`), membership and rebalance budget."""
