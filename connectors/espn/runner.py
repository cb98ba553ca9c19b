"""Wiring: the publisher, the live poller and the two replay modes, plus a small CLI.

`python -m connectors.espn live --leagues nfl,nba` polls ESPN;
`python -m connectors.espn replay-files tests/fixtures/espn/replay_manifest.json`
and `python -m connectors.espn replay-topic` feed recorded responses instead.
KAFKA_BOOTSTRAP names the broker (default 127.0.0.1:9092).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import structlog

from connectors.espn.client import make_client
from connectors.espn.pipeline import PREGAME_TOPIC, EspnPipeline
from connectors.espn.poller import EspnPoller, PollIntervals, leagues_of
from connectors.espn.replay import FileReplay, TopicReplay, replay
from connectors.lifecycle import run_until_stopped
from connectors.publisher import Publisher
from schemas.records import EventState

SERVICE = "espn-connector"
log = structlog.get_logger(__name__)


def recover_pregame(pipeline: EspnPipeline, bootstrap: str) -> int:
    """Read `events.pregame` (compacted: one line per event) back into the pipeline before polling."""
    records = TopicReplay(bootstrap, topic=PREGAME_TOPIC, group_id="espn-pregame-recovery")
    return pipeline.recover(r for r in records if isinstance(r, EventState))


def make_publisher(bootstrap: str, service: str = SERVICE) -> Publisher:
    return Publisher(bootstrap, service=service)


async def run_live(bootstrap: str, league_keys: Sequence[str], intervals: PollIntervals = PollIntervals()) -> None:
    leagues = leagues_of(league_keys)  # an unknown league stops us here, before any request
    publisher = make_publisher(bootstrap)
    client = make_client()
    pipeline = EspnPipeline(publisher)
    recovered = recover_pregame(pipeline, bootstrap)
    log.info("pregame lines recovered", events=recovered, topic=PREGAME_TOPIC)
    poller = EspnPoller(client, pipeline, leagues, intervals=intervals)
    await run_until_stopped(publisher, poller.run, client.http.aclose)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m connectors.espn", description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    sub = ap.add_subparsers(dest="mode", required=True)
    live = sub.add_parser("live", help="poll ESPN")
    live.add_argument("--leagues", default="nfl,ncaaf,nba,wnba,ncaab,nhl,mlb,mls,epl,atp,wta,ufc")
    files = sub.add_parser("replay-files", help="replay recorded responses listed in a manifest")
    files.add_argument("manifest", type=Path)
    sub.add_parser("replay-topic", help="rebuild events.* from raw.espn")
    args = ap.parse_args(argv)

    if args.mode == "live":
        asyncio.run(run_live(args.bootstrap, [k.strip() for k in args.leagues.split(",") if k.strip()]))
        return 0
    publisher = make_publisher(args.bootstrap)
    if args.mode == "replay-files":
        outcomes = replay(FileReplay(args.manifest), EspnPipeline(publisher))
    else:
        outcomes = replay(TopicReplay(args.bootstrap), EspnPipeline(publisher, publish_raw=False))
    publisher.flush()
    log.info(
        "replayed",
        responses=len(outcomes),
        states=sum(o.published_states for o in outcomes),
        plays=sum(o.published_plays for o in outcomes),
        dead_letters=sum(o.dead_letters for o in outcomes),
    )
    return 0
