"""A throwaway PostgreSQL cluster from the machine's own server binaries.

`cluster.py` finds (or installs) the binaries, initialises a cluster in the stack
state folder, starts it on its own loopback port and stops it again.
"""
