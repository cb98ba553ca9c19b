"""`python -m connectors.polls replay-files a.json ...` publishes recorded RawFeed JSON files; `live` fetches the
source's URL every `--every` seconds. The source is a TOML file (`--source`, else ARBEES_POLLS_SOURCE; its keys in
`connectors.polls.source.source_from_file`), else the built-in FiveThirtyEight 2016 national polls."""

from __future__ import annotations

import argparse
import asyncio
import os

import httpx

from connectors.polls.pipeline import PollsPipeline, client, fetch
from connectors.polls.source import FTE_2016_NATIONAL, SourceError, source_from_file
from connectors.publisher import Publisher
from connectors.lifecycle import poll_every, run_until_stopped
from connectors.rest import replay_files


async def _live(publisher: Publisher, pipeline: PollsPipeline, every_s: float) -> None:
    """Fetch the source every `every_s` until SIGINT/SIGTERM; a 429/5xx waits for the next round."""
    http = httpx.AsyncClient(timeout=30.0, follow_redirects=False)
    getter = client(http, observer=lambda f: pipeline.on_raw(f.raw_feed()))

    async def once() -> None:
        await fetch(getter, pipeline.source)

    await run_until_stopped(publisher, lambda stop: poll_every(stop, every_s, once, "polls"), http.aclose)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m connectors.polls")
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--source", default=os.environ.get("ARBEES_POLLS_SOURCE") or None,
                    help="a TOML file naming the polling source (default: FiveThirtyEight's 2016 national polls)")
    sub = ap.add_subparsers(dest="mode", required=True)
    live = sub.add_parser("live")
    live.add_argument("--every", type=float, default=3600.0)
    files = sub.add_parser("replay-files")
    files.add_argument("paths", nargs="+")
    args = ap.parse_args()
    try:
        source = source_from_file(args.source) if args.source else FTE_2016_NATIONAL
    except SourceError as exc:
        ap.error(str(exc))
    publisher = Publisher(args.bootstrap, service="polls-connector")
    pipeline = PollsPipeline(publisher, source)
    try:
        if args.mode == "live":
            asyncio.run(_live(publisher, pipeline, args.every))
        else:
            replay_files(args.paths, pipeline.on_raw)
    finally:
        publisher.flush()
    return 0


raise SystemExit(main())
