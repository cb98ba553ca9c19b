"""`python -m connectors.<venue> simulate` as a real process, onto the real broker, stopped by SIGTERM.

Each test records the end offsets of markets.catalog and markets.quotes, starts
the connector in simulate mode (the venue simulator on 127.0.0.1 and the live
service against it), reads the topics from those offsets until the simulator's
markets and its final books have arrived, then sends SIGTERM and requires a clean
exit (code 0) within a grace period, SIGKILL otherwise. The expected books come
from the fixtures themselves: the Kalshi script's snapshots plus every delta, the
Polymarket recorded book plus the scripted changes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.kalshi.simulator import default_fixtures_dir as kalshi_fixtures
from connectors.kalshi.simulator import ladder, load_script
from ops.topics import ensure_topics
from schemas import depth
from schemas.codec import default_codec
from schemas.enums import Venue
from schemas.records import MarketListing, Quote

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
TOPICS = ("markets.catalog", "markets.quotes")
GRACE_S = 20.0

ETH15_MARKET = "0x18b5d0680d437c512702d5ffb6f47faef308383e406cbea5468f09a6e7b77582"
ETH15_YES = "63876354810647379515878234584115568951693647874310381130205788894548916040833"
ETH15_NO = "64917161910049212782344414295688724357084475362968531440021264550805733226234"

Records = dict[str, list[tuple[str, Any]]]


def end_offsets(bootstrap: str) -> list[TopicPartition]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"venue-runner-probe-{uuid.uuid4().hex[:8]}"})
    try:
        starts = []
        for topic in TOPICS:
            for p in probe.list_topics(topic, timeout=15).topics[topic].partitions:
                starts.append(TopicPartition(topic, p, probe.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1]))
        return starts
    finally:
        probe.close()


class Reader:
    """Everything written to the topics after `starts`, decoded, in per-partition order."""

    def __init__(self, bootstrap: str, starts: list[TopicPartition]) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"venue-runner-it-{uuid.uuid4().hex[:8]}",
                                  "enable.auto.commit": False})
        self.consumer.assign(starts)
        self.codec = default_codec()
        self.got: Records = {t: [] for t in TOPICS}

    def until(self, done: Callable[[Records], bool], timeout_s: float, proc: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done(self.got):
                return True
            assert proc.poll() is None, f"the connector exited early with {proc.returncode}"
            self.drain(1.0)
        return done(self.got)

    def drain(self, wait_s: float) -> None:
        msg = self.consumer.poll(wait_s)
        while msg is not None:
            assert msg.error() is None, msg.error()
            self.got[str(msg.topic())].append(((msg.key() or b"").decode(), self.codec.decode(msg.value())))
            msg = self.consumer.poll(0.2)

    def close(self) -> None:
        self.consumer.close()


def start(module: str, bootstrap: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", module, "--bootstrap", bootstrap, "simulate", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def terminate(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """SIGTERM, then SIGKILL after the grace period; (exit code, output)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return -9, out.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace")


def run_simulate(bootstrap: str, module: str, args: tuple[str, ...], done: Callable[[Records], bool]) -> tuple[Records, bool, int, str]:
    report = ensure_topics(bootstrap)
    assert not [p for p in report.problems if p.split(":")[0] in TOPICS], report.problems
    reader = Reader(bootstrap, end_offsets(bootstrap))
    proc = start(module, bootstrap, *args)
    try:
        arrived = reader.until(done, 90.0, proc)
    finally:
        code, output = terminate(proc)
    try:
        reader.drain(2.0)  # whatever the shutdown flush delivered
    finally:
        reader.close()
    return reader.got, arrived, code, output


def last_quotes(got: Records, prefix: str) -> dict[str, Quote]:
    last: dict[str, Quote] = {}
    for key, record in got["markets.quotes"]:
        if key.startswith(prefix) and isinstance(record, Quote):
            last[record.market_id] = record  # one key, one partition: producer order
    return last


def levels(q: Any, name: str) -> list[tuple[int, int]]:
    """One ladder of a quote as (price micro-dollars, hundredths of a contract), implied asks derived."""
    return [(p, round(c * 100)) for p, c in depth.book_levels(q)[name]]


# ------------------------------------------------------------------------ Kalshi


def kalshi_final_books() -> dict[str, dict[str, list[tuple[int, int]]]]:
    """The simulator's true books after its whole script: snapshots plus every delta."""
    books, deltas = load_script(kalshi_fixtures() / "ws_book_script.ndjson")
    for d in deltas:
        books[d.ticker].apply(d)
    return {t: {"yes": ladder(b, "yes"), "no": ladder(b, "no")} for t, b in books.items()}


def test_kalshi_simulate_puts_the_simulators_markets_and_final_books_on_the_broker(kafka_bootstrap: str) -> None:
    final = kalshi_final_books()
    markets = {m["ticker"] for name in ("markets_list_demo_KXNFLGAME.json", "markets_list_prod_KXNFLGAME_limit1.json")
               for m in json.loads((kalshi_fixtures() / name).read_text())["markets"]}

    def done(got: Records) -> bool:
        catalog = {k for k, _ in got["markets.catalog"]}
        last = last_quotes(got, "KALSHI:")
        return {f"KALSHI:{t}" for t in markets} <= catalog and all(
            t in last and last[t].source == "kalshi.ws"
            and (levels(last[t], "yes_bids"), levels(last[t], "no_bids")) == (book["yes"], book["no"])
            for t, book in final.items())

    got, arrived, code, output = run_simulate(kafka_bootstrap, "connectors.kalshi", ("--delta-interval-s", "0.05"), done)
    assert arrived, f"the simulator's markets and final books did not all arrive; connector output:\n{output[-3000:]}"
    assert code == 0, f"exit code {code} after SIGTERM; output:\n{output[-3000:]}"
    assert "kalshi connector stopped" in output

    catalog = {k: r for k, r in got["markets.catalog"] if k.startswith("KALSHI:")}
    assert {r.market_id for r in catalog.values()} >= markets
    gb = catalog["KALSHI:KXNFLGAME-25DEC27BALGB-GB"]
    assert isinstance(gb, MarketListing) and (gb.venue, gb.series, gb.league, gb.yes_outcome) == (Venue.KALSHI, "KXNFLGAME", "nfl", "Green Bay")
    last = last_quotes(got, "KALSHI:")
    for ticker, book in final.items():  # after the shutdown flush too: nothing published a wrong book last
        assert (levels(last[ticker], "yes_bids"), levels(last[ticker], "no_bids")) == (book["yes"], book["no"])
        assert levels(last[ticker], "yes_asks") == sorted((1_000_000 - p, c) for p, c in book["no"])


# -------------------------------------------------------------------- Polymarket


def test_polymarket_simulate_puts_the_simulators_markets_and_final_book_on_the_broker(kafka_bootstrap: str) -> None:
    fixtures = ROOT / "tests" / "fixtures" / "polymarket"
    events = json.loads((fixtures / "gamma_events_list_active_2026-01-04.json").read_text())
    conditions = {m["conditionId"] for e in events for m in e["markets"]}
    # the recorded book of the YES token, after the scripted changes (tests/unit/polymarket/test_feed_simulator.py)
    yes_top = [(505_000, 4000), (500_000, 35000), (490_000, 102800), (480_000, 91800)]
    yes_asks_top = [(510_000, 100000), (530_000, 58200), (540_000, 57200)]

    def final_seen(got: Records) -> bool:
        q = last_quotes(got, "POLYMARKET:").get(ETH15_MARKET)
        return q is not None and levels(q, "yes_bids")[:4] == yes_top and levels(q, "yes_asks")[:3] == yes_asks_top

    def done(got: Records) -> bool:
        return {f"POLYMARKET:{c}" for c in conditions} <= {k for k, _ in got["markets.catalog"]} and final_seen(got)

    got, arrived, code, output = run_simulate(kafka_bootstrap, "connectors.polymarket", ("--frame-interval-s", "0.05"), done)
    assert arrived, f"the simulator's markets and final book did not all arrive; connector output:\n{output[-3000:]}"
    assert code == 0, f"exit code {code} after SIGTERM; output:\n{output[-3000:]}"
    assert "polymarket connector stopped" in output

    catalog = {k: r for k, r in got["markets.catalog"] if k.startswith("POLYMARKET:")}
    assert {r.market_id for r in catalog.values()} >= conditions
    eth = catalog[f"POLYMARKET:{ETH15_MARKET}"]
    assert isinstance(eth, MarketListing) and (eth.venue, eth.token_yes, eth.token_no) == (Venue.POLYMARKET, ETH15_YES, ETH15_NO)
    assert final_seen(got)  # still the last quote after the shutdown flush
    final = last_quotes(got, "POLYMARKET:")[ETH15_MARKET]
    assert levels(final, "no_bids")[:3] == [(490_000, 100000), (470_000, 58200), (460_000, 57200)]
    assert levels(final, "no_asks")[:3] == [(495_000, 4000), (500_000, 35000), (510_000, 102800)]
