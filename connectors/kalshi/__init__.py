"""Kalshi: Trade API v2 discovery, websocket order books, normalizers and the trading client.

Modules: `auth` (request signing), `fixedpoint` (exact prices, counts, tick grids),
`messages` (typed websocket frames), `book` (local books with sequence checks),
`normalize` (MarketListing / Quote), `rest`, `ws`, `feed` (publishing),
`portfolio` + `trading` (live orders; never built in paper mode), `simulator`.
`service` + `runner` (the long-running connector: `python -m connectors.kalshi`).
Nothing here opens a connection at import time.
"""
