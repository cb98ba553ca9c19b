"""ESPN connector: client, adaptive poller, normalizer to EventState/Play, replay.

Modules: `leagues` (what is followed and where), `client` (HTTP with rate
limiting and retries), `normalize`/`plays` (pure payload → records),
`pipeline` (raw → topics, dead-lettering), `poller` (schedule + async shell),
`replay` (recorded files or `raw.espn` instead of the network), `errors`.
"""
