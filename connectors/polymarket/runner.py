"""Wiring and CLI: `python -m connectors.polymarket live|simulate`.

`live` discovers the active events of the configured Gamma tags and streams the
CLOB market channel for their markets; `simulate` starts the local venue
(connectors/polymarket/simulator.py) on 127.0.0.1 and runs the very same service
against it, so a demo needs no internet. Market data is public: no credentials
are read. SIGINT/SIGTERM stop both loops, then every queued record is flushed to
Kafka. KAFKA_BOOTSTRAP names the broker (default 127.0.0.1:9092).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import structlog

from connectors.polymarket.clob import CLOB_URL, ClobClient
from connectors.polymarket.errors import PolymarketError
from connectors.polymarket.feed import PolymarketFeed, Sink
from connectors.polymarket.gamma import GAMMA_URL, GammaClient
from connectors.polymarket.http import wall_clock_ms
from connectors.polymarket.service import MAX_ASSETS_PER_CONNECTION, PolymarketService, ServiceConfig
from connectors.polymarket.simulator import PolymarketSimulator, default_fixtures_dir
from connectors.lifecycle import Backoff, install_stop_signals, remove_stop_signals, start_heartbeats
from connectors.polymarket.ws import WS_MARKET_URL, MarketStream
from connectors.publisher import Publisher

SERVICE = "polymarket-connector"
DEFAULT_TAGS = "nfl,nba"
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Endpoints:
    gamma_url: str = GAMMA_URL
    clob_url: str = CLOB_URL
    ws_url: str = WS_MARKET_URL


class FlushingSink(Sink, Protocol):
    """The feed's sink plus the flush the service needs on the way out."""

    def flush(self, timeout: float = 30.0) -> None: ...


def make_publisher(bootstrap: str, service: str = SERVICE) -> Publisher:
    return Publisher(bootstrap, service=service)




async def serve(
    bootstrap: str,
    config: ServiceConfig,
    endpoints: Endpoints,
    *,
    stop: asyncio.Event | None = None,
    publisher: FlushingSink | None = None,
) -> PolymarketService:
    """Run the service until `stop` (or a signal); flush on the way out, whatever happened."""
    stop = stop or asyncio.Event()
    sink: FlushingSink = publisher or make_publisher(bootstrap)
    http = httpx.AsyncClient(timeout=15.0)
    feed = PolymarketFeed(sink, GammaClient(http, endpoints.gamma_url), ClobClient(http, endpoints.clob_url),
                          clock=wall_clock_ms)
    backoff = Backoff(base_s=0.5, cap_s=config.backoff.cap_s)
    service = PolymarketService(
        feed, config, lambda assets: MarketStream(assets, endpoints.ws_url, backoff=backoff),
    )
    install_stop_signals(stop)
    beater = start_heartbeats(sink) if isinstance(sink, Publisher) else None
    try:
        await service.run(stop)
    finally:
        if beater is not None:
            beater.stop()
        remove_stop_signals()
        await http.aclose()
        sink.flush()
        s = feed.stats
        log.info("polymarket connector stopped", listings=s.listings, quotes=s.quotes, frames=s.frames,
                 dead_letters=s.dead_letters, resyncs=s.resyncs, streams=service.stats.streams)
    return service


async def simulate(
    bootstrap: str,
    config: ServiceConfig,
    *,
    fixtures: Path,
    frame_interval_s: float,
    stop: asyncio.Event | None = None,
) -> PolymarketService:
    """The simulator on 127.0.0.1 (recorded Gamma, CLOB and scripted market channel) and the service against it."""
    sim = PolymarketSimulator.from_fixtures(fixtures, frame_interval_s=frame_interval_s)
    await sim.start()
    try:
        log.info("polymarket simulator up", base=sim.base_url, ws=sim.ws_url, fixtures=str(fixtures))
        return await serve(bootstrap, config, Endpoints(sim.base_url, sim.base_url, sim.ws_url), stop=stop)
    finally:
        await sim.stop()


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m connectors.polymarket", description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    sub = ap.add_subparsers(dest="mode", required=True)
    live = sub.add_parser("live", help="discover and stream Polymarket's markets")
    sim = sub.add_parser("simulate", help="the same service against the local venue simulator")
    for p, tags in ((live, DEFAULT_TAGS), (sim, "")):
        p.add_argument("--tags", default=tags,
                       help="comma-separated Gamma tag slugs (e.g. nfl,nba); empty = every active event")
        p.add_argument("--discover-every-s", type=float, default=300.0, help="seconds between discovery rounds")
        p.add_argument("--max-assets", type=int, default=MAX_ASSETS_PER_CONNECTION,
                       help="most CLOB tokens streamed (two per market)")
        p.add_argument("--max-backoff-s", type=float, default=60.0, help="cap of the reconnect backoff")
    live.add_argument("--gamma-url", default=GAMMA_URL)
    live.add_argument("--clob-url", default=CLOB_URL)
    live.add_argument("--ws-url", default=WS_MARKET_URL)
    sim.add_argument("--fixtures", type=Path, default=default_fixtures_dir(), help="recorded payloads to serve")
    sim.add_argument("--frame-interval-s", type=float, default=0.5, help="pause between scripted market-channel frames")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = ServiceConfig(
        tags=_csv(args.tags),
        discover_every_s=args.discover_every_s,
        max_assets=args.max_assets,
        backoff=Backoff(base_s=1.0, cap_s=args.max_backoff_s),
    )
    try:
        if args.mode == "live":
            asyncio.run(serve(args.bootstrap, config, Endpoints(args.gamma_url, args.clob_url, args.ws_url)))
        else:
            asyncio.run(simulate(args.bootstrap, config, fixtures=args.fixtures, frame_interval_s=args.frame_interval_s))
    except PolymarketError as exc:
        log.error("polymarket connector stopped on a fatal error", error=str(exc))
        return 1
    return 0
