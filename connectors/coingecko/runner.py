"""Wiring: `python -m connectors.coingecko live --coins bitcoin,ethereum` polls CoinGecko;
`python -m connectors.coingecko replay-files a.json ...` feeds recorded RawFeed JSON files instead.

Live: a week of hourly history per coin first (the volatility estimate's warm-up), then
/simple/price every `--every` seconds, history again every `--history-every` seconds.
COINGECKO_TIER picks public/demo/pro (the key comes from the tier's variable).
KAFKA_BOOTSTRAP names the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from connectors.coingecko.client import CoinGeckoClient, make_client
from connectors.coingecko.pipeline import CoinGeckoPipeline
from connectors.coingecko.tiers import tier_named
from connectors.lifecycle import poll_every, run_until_stopped
from connectors.publisher import Publisher
from connectors.rest import log_replayed, replay_files

SERVICE = "coingecko-connector"


async def poll(client: CoinGeckoClient, coins: Sequence[str], stop: asyncio.Event, every_s: float, history_every_s: float) -> None:
    """Fetch until `stop`; each answer reaches the pipeline through the client's observer."""
    loop = asyncio.get_running_loop()
    next_history = 0.0

    async def once() -> None:
        nonlocal next_history
        if loop.time() >= next_history:
            for coin in coins:
                await client.market_chart(coin, days=7)
            next_history = loop.time() + history_every_s
        await client.simple_price(coins)

    await poll_every(stop, every_s, once, "CoinGecko")


async def run_live(bootstrap: str, coins: Sequence[str], tier: str, every_s: float, history_every_s: float) -> None:
    publisher = Publisher(bootstrap, service=SERVICE)
    pipeline = CoinGeckoPipeline(publisher)
    client = make_client(tier_named(tier), observer=lambda f: pipeline.on_raw(f.raw_feed()))
    await run_until_stopped(publisher, lambda stop: poll(client, coins, stop, every_s, history_every_s),
                            client.http.aclose)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m connectors.coingecko", description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    sub = ap.add_subparsers(dest="mode", required=True)
    live = sub.add_parser("live", help="poll CoinGecko")
    live.add_argument("--coins", default="bitcoin,ethereum,solana,ripple,dogecoin")
    live.add_argument("--tier", default=os.environ.get("COINGECKO_TIER", "public"))
    live.add_argument("--every", type=float, default=60.0)
    live.add_argument("--history-every", type=float, default=6 * 3600.0)
    files = sub.add_parser("replay-files", help="publish recorded RawFeed JSON files (one record each)")
    files.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args(argv)
    if args.mode == "live":
        coins = [c.strip() for c in args.coins.split(",") if c.strip()]
        asyncio.run(run_live(args.bootstrap, coins, args.tier, args.every, args.history_every))
        return 0
    publisher = Publisher(args.bootstrap, service=SERVICE)
    pipeline = CoinGeckoPipeline(publisher)
    log_replayed(replay_files(args.paths, pipeline.on_raw))
    publisher.flush()
    return 0
