"""What every running part reports about itself: heartbeats on `health` and Prometheus metrics.

Shared by connectors, agents, the sink and the supervisor, so it imports none of them.
"""
