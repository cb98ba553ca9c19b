"""Wiring and CLI: `python -m connectors.kalshi live|simulate`.

`live` discovers the configured series on Kalshi's Trade API and streams their
books; `simulate` starts the venue simulator (connectors/kalshi/simulator.py) on
127.0.0.1 and runs the very same service against it, so a demo needs no internet.
Market data is public: live mode never needs trading credentials. With
KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH set, the websocket (whose handshake
Kalshi wants signed) carries the books; without them, REST order books are polled.
SIGINT/SIGTERM stop both loops, then every queued record is flushed to Kafka.
KAFKA_BOOTSTRAP names the broker (default 127.0.0.1:9092).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.kalshi.auth import KEY_ID_ENV, KEY_PATH_ENV, KalshiSigner, signer_from_env
from connectors.kalshi.errors import KalshiError
from connectors.kalshi.feed import KalshiFeed, Sink
from connectors.kalshi.normalize import SERIES_LEAGUES
from connectors.kalshi.rest import PROD_BASE_URL, KalshiRest, wall_clock_ms
from connectors.kalshi.service import KalshiService, ServiceConfig
from connectors.lifecycle import Backoff, install_stop_signals, remove_stop_signals, start_heartbeats
from connectors.kalshi.simulator import KalshiSimulator, default_fixtures_dir
from connectors.kalshi.ws import PROD_WS_URL, KalshiWs
from connectors.publisher import Publisher

SERVICE = "kalshi-connector"
#: Every game-winner series of a league the models cover.
DEFAULT_SERIES = ",".join(SERIES_LEAGUES)
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Endpoints:
    rest_url: str = PROD_BASE_URL
    ws_url: str = PROD_WS_URL


def make_publisher(bootstrap: str, service: str = SERVICE) -> Publisher:
    return Publisher(bootstrap, service=service)




def signer_if_configured(env: dict[str, str] | None = None) -> KalshiSigner | None:
    """The signer when credentials are configured, None when neither variable is set.

    Half a configuration (or a key file that does not load) is a mistake worth
    stopping for, so `signer_from_env` raises `CredentialsMissing` for it.
    """
    source = dict(os.environ) if env is None else env
    if not source.get(KEY_ID_ENV, "").strip() and not source.get(KEY_PATH_ENV, "").strip():
        return None
    return signer_from_env(source)


async def serve(
    bootstrap: str,
    config: ServiceConfig,
    endpoints: Endpoints,
    signer: KalshiSigner | None,
    *,
    websocket: bool = True,
    stop: asyncio.Event | None = None,
    publisher: Sink | None = None,
    clock: Callable[[], int] = wall_clock_ms,
) -> KalshiService:
    """Run the service until `stop` (or a signal); flush on the way out, whatever happened.

    `clock` stamps the records (fetch and receive times); only a replay of recorded
    payloads passes another one than the wall clock (`replay_clock`).
    """
    stop = stop or asyncio.Event()
    sink: Sink = publisher or make_publisher(bootstrap)
    use_ws = websocket and signer is not None
    if not use_ws:
        log.warning(
            "no Kalshi credentials: polling REST order books instead of the websocket"
            if signer is None else "REST order books requested: polling them instead of the websocket",
            poll_s=config.book_poll_s,
        )
    rest = KalshiRest(endpoints.rest_url, signer=signer, clock=clock)
    feed = KalshiFeed(
        sink, rest, ws_factory=lambda: KalshiWs(endpoints.ws_url, signer=signer), clock=clock
    )
    service = KalshiService(feed, config, use_websocket=use_ws)
    install_stop_signals(stop)
    beater = start_heartbeats(sink) if isinstance(sink, Publisher) else None
    try:
        await service.run(stop)
    finally:
        if beater is not None:
            beater.stop()
        remove_stop_signals()
        await rest.aclose()
        sink.flush()
        s = feed.stats
        log.info("kalshi connector stopped", listings=s.listings, quotes=s.quotes, frames=s.frames,
                 dead_letters=s.dead, resyncs=s.resyncs, reconnects=service.stats.reconnects)
    return service


async def simulate(
    bootstrap: str,
    config: ServiceConfig,
    *,
    fixtures: Path,
    delta_interval_s: float,
    websocket: bool = True,
    stop: asyncio.Event | None = None,
    clock_start_ms: int | None = None,
) -> KalshiService:
    """The simulator on 127.0.0.1 and the live service against it.

    With `clock_start_ms` the records are stamped on a replay clock that starts
    there (the simulator serves recorded payloads: stamped with today's time, a
    2025 market would look long closed to discovery and every book stale).

    The websocket handshake is signed with a key made for this run and verified
    by the simulator, so the demo exercises the same signed path as production.
    """
    signer = KalshiSigner("simulator", rsa.generate_private_key(public_exponent=65537, key_size=2048)) if websocket else None
    pem = signer.public_key_pem() if signer is not None else None
    async with KalshiSimulator(fixtures, public_key_pem=pem, delta_interval_s=delta_interval_s) as sim:
        log.info("kalshi simulator up", rest=sim.rest_url, ws=sim.ws_url, fixtures=str(fixtures))
        clock = wall_clock_ms if clock_start_ms is None else replay_clock(clock_start_ms)
        return await serve(bootstrap, config, Endpoints(sim.rest_url, sim.ws_url), signer, websocket=websocket, stop=stop,
                           clock=clock)


def replay_clock(start_ms: int) -> Callable[[], int]:
    """Epoch ms that start at `start_ms` now and advance with the monotonic clock."""
    origin = time.monotonic()
    return lambda: start_ms + int((time.monotonic() - origin) * 1000)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m connectors.kalshi", description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    sub = ap.add_subparsers(dest="mode", required=True)
    live = sub.add_parser("live", help="discover and stream Kalshi's markets")
    sim = sub.add_parser("simulate", help="the same service against the local venue simulator")
    for p, series in ((live, DEFAULT_SERIES), (sim, "KXNFLGAME")):
        p.add_argument("--series", default=series, help="comma-separated series tickers (default: every covered league's game series)")
        p.add_argument("--discover-every-s", type=float, default=300.0, help="seconds between discovery rounds")
        p.add_argument("--poll-s", type=float, default=5.0, help="seconds between REST order book rounds (no websocket)")
        p.add_argument("--rest-books", action="store_true", help="poll REST order books even with credentials")
        p.add_argument("--max-backoff-s", type=float, default=60.0, help="cap of the reconnect backoff")
    live.add_argument("--rest-url", default=PROD_BASE_URL)
    live.add_argument("--ws-url", default=PROD_WS_URL)
    sim.add_argument("--fixtures", type=Path, default=default_fixtures_dir(), help="recorded payloads to serve")
    sim.add_argument("--delta-interval-s", type=float, default=0.5, help="pause between scripted book changes")
    sim.add_argument("--clock-start-ms", type=int, default=None,
                     help="stamp records on a replay clock starting at this epoch ms (default: the wall clock)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = ServiceConfig(
        series=_csv(args.series),
        discover_every_s=args.discover_every_s,
        book_poll_s=args.poll_s,
        backoff=Backoff(cap_s=args.max_backoff_s),
    )
    try:
        if args.mode == "live":
            signer = signer_if_configured()
            asyncio.run(serve(args.bootstrap, config, Endpoints(args.rest_url, args.ws_url), signer,
                              websocket=not args.rest_books))
        else:
            asyncio.run(simulate(args.bootstrap, config, fixtures=args.fixtures,
                                 delta_interval_s=args.delta_interval_s, websocket=not args.rest_books,
                                 clock_start_ms=args.clock_start_ms))
    except KalshiError as exc:
        log.error("kalshi connector stopped on a fatal error", error=str(exc))
        return 1
    return 0
