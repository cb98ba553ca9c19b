"""Wiring: `python -m connectors.fred live --series CPIAUCSL,UNRATE` polls FRED (key in FRED_API_KEY);
`python -m connectors.fred replay-files a.json ...` publishes recorded RawFeed JSON files instead.

Live: each series' observations and its release's calendar every `--every` seconds
(FRED updates at most a few times a day). KAFKA_BOOTSTRAP names the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from connectors.fred.client import FredClient, make_client
from connectors.fred.pipeline import FredPipeline
from connectors.fred.series import SERIES
from connectors.lifecycle import poll_every, run_until_stopped
from connectors.publisher import Publisher
from connectors.rest import log_replayed, replay_files

SERVICE = "fred-connector"


async def poll(client: FredClient, series: Sequence[str], stop: asyncio.Event, every_s: float) -> None:
    """Each release's calendar, then each series' observations, every `every_s` until `stop`."""
    async def once() -> None:
        for release_id in sorted({SERIES[s].release_id for s in series if s in SERIES}):
            await client.release_dates(release_id)
        for s in series:
            await client.observations(s)

    await poll_every(stop, every_s, once, "FRED")


async def run_live(bootstrap: str, series: Sequence[str], every_s: float) -> None:
    publisher = Publisher(bootstrap, service=SERVICE)
    pipeline = FredPipeline(publisher)
    client = make_client(observer=lambda f: pipeline.on_raw(f.raw_feed()))
    await run_until_stopped(publisher, lambda stop: poll(client, series, stop, every_s), client.http.aclose)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m connectors.fred", description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    sub = ap.add_subparsers(dest="mode", required=True)
    live = sub.add_parser("live", help="poll FRED")
    live.add_argument("--series", default=",".join(SERIES))
    live.add_argument("--every", type=float, default=1800.0)
    files = sub.add_parser("replay-files", help="publish recorded RawFeed JSON files (one record each)")
    files.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args(argv)
    if args.mode == "live":
        asyncio.run(run_live(args.bootstrap, [s.strip() for s in args.series.split(",") if s.strip()], args.every))
        return 0
    publisher = Publisher(args.bootstrap, service=SERVICE)
    pipeline = FredPipeline(publisher)
    log_replayed(replay_files(args.paths, pipeline.on_raw))
    publisher.flush()
    return 0
