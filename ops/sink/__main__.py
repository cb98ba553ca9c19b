"""`python -m ops.sink --bootstrap HOST:PORT --database-url URL`: run the sink until SIGTERM/SIGINT.

A fatal error (bankroll conflict, another sink on the same offsets) stops the
process with status 2 and the reason on stderr; the batch it was writing is
rolled back, so a restart after the fix resumes exactly there.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import structlog

from connectors.lifecycle import start_heartbeats
from connectors.publisher import Publisher

from streams.gc_tuning import tune_for_service

from ops.sink.errors import SinkFatal
from ops.sink.maintenance import MODES
from ops.sink.runner import SINK_TOPICS, WRITERS, Sink, SinkConfig
from telemetry.meter import part_name

log = structlog.get_logger("ops.sink")


def parse_args(argv: list[str] | None = None) -> tuple[SinkConfig, bool]:
    """The sink's configuration and whether to stop at the log's end."""
    ap = argparse.ArgumentParser(prog="python -m ops.sink", description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", ""),
                    help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP)")
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                    help="SQLAlchemy/libpq URL of the migrated database (default: $DATABASE_URL)")
    ap.add_argument("--consumer", default="arbees-sink", help="name of this sink's offsets in sink_offsets")
    ap.add_argument("--topic", action="append", dest="topics",
                    help=f"topic to sink (repeatable; default: all {len(SINK_TOPICS)} registry topics with a table)")
    ap.add_argument("--batch-size", type=int, default=5_000)
    ap.add_argument("--batch-wait", type=float, default=0.5, help="seconds before a partial batch is written")
    ap.add_argument("--writer", choices=sorted(WRITERS), default="copy")
    ap.add_argument("--retention-every", type=float,
                    default=float(os.environ.get("ARBEES_SINK_RETENTION_EVERY_S", "") or 3600.0),
                    help="seconds between arbees_apply_retention() calls (plain PostgreSQL only; 0: never; "
                         "ARBEES_SINK_RETENTION_EVERY_S)")
    ap.add_argument("--maintenance-every", type=float, default=60.0,
                    help="seconds between TimescaleDB maintenance passes (policy jobs the stack must run; 0: never)")
    ap.add_argument("--maintenance-mode", choices=MODES, default="auto",
                    help="who runs TimescaleDB's policy jobs: auto (the stack where the scheduler fails), stack, scheduler")
    ap.add_argument("--until-caught-up", action="store_true",
                    help="exit once everything on the topics at start is in the database")
    args = ap.parse_args(argv)
    if not args.bootstrap or not args.database_url:
        ap.error("--bootstrap and --database-url are required (or KAFKA_BOOTSTRAP / DATABASE_URL)")
    config = SinkConfig(
        bootstrap=args.bootstrap,
        database_url=args.database_url,
        consumer=args.consumer,
        topics=tuple(args.topics) if args.topics else SINK_TOPICS,
        batch_size=args.batch_size,
        batch_wait_s=args.batch_wait,
        writer=args.writer,
        retention_every_s=args.retention_every,
        maintenance_every_s=args.maintenance_every,
        maintenance_mode=args.maintenance_mode,
    )
    return config, bool(args.until_caught_up)


def main(argv: list[str] | None = None) -> int:
    config, until_caught_up = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    beater = None if until_caught_up else start_heartbeats(Publisher(config.bootstrap, service=part_name("sink")), live=False)
    try:
        with Sink(config) as sink:
            tune_for_service()  # decoded batches are many tracked objects: keep full collections rare
            stats = sink.run(stop, until_caught_up=until_caught_up)
    except SinkFatal as exc:
        print(f"sink stopped: {exc}", file=sys.stderr)
        return 2
    finally:
        if beater is not None:
            beater.stop()
    log.info("sink stopped", batches=stats.batches, rows=stats.rows, written=stats.rows_written,
             dead_letters=stats.dead_letters, ledger_applied=stats.ledger_applied,
             ledger_refused=stats.ledger_refused)
    return 0


if __name__ == "__main__":
    sys.exit(main())
