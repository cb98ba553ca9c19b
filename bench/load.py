"""Load: many concurrent live events on both venues through the agent groups and the sink, held for minutes.

`python -m bench.load --events 1000 --minutes 10`. The recorded session gives the
shapes: its mid-game ESPN state, its Kalshi and Polymarket listings, their links
(as discovery made them in an in-process run) and their books at that moment of the game. Event k of N
is that game played on the k-th day from today (its id suffixed, every date its listings and
state carry moved: discovery tells the clones apart as it does a real slate) with
its three markets; the generator publishes a book update per market every `--quote-every-s`
(the session's own pace: ~6 s per market) and a game state per event every
`--state-every-s`, with the wall clock as event time, as live feeds do. The agent
groups and the sink run as `arbees run --only ...` starts them (the connectors are
replaced by the generator: no simulator could serve 3,000 markets on 2 cores
beside the pipeline). Every 5 s: each consumer group's lag (records behind, over
every partition, `health` aside) and each part's RSS. At the end, once the groups
caught up: every update published is a database row (`load.dropped`). A group's lag
counts the topics it reads, known as those whose committed offsets moved (every group
starts at the log ends of every topic, so a topic it never reads keeps its start).
The groups kept up (`load.bounded`) when, after the first quarter of the held load, the
largest group's lag grew by less than one round of updates (every market once) and it was
0 again once the generator stopped: a backlog that only grows is what unbounded means.

Figures: load.events, load.markets, load.updates_per_s, load.max_lag, load.steady_max_lag, load.lag_growth,
load.bounded (exit 1 unless bounded and nothing dropped), load.rss_growth_mb,
load.dropped, load.seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from schemas.enums import Venue
from streams.discovery import link_id

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results.json"
PARTS = ("sink", "discovery", "targets", "router", "shard", "trading", "alerts")
SESSION = REPO / "data" / "sessions" / "nba-2026-finals-g3"


@dataclass(frozen=True)
class Template:
    """One recorded event: a mid-game state, its listings, links and each market's book at that moment."""

    state: Any
    listings: tuple[Any, ...]
    links: tuple[Any, ...]
    quotes: tuple[Any, ...]


def template() -> Template:
    from ops.backtest.inprocess import BacktestConfig, InProcessEngine
    from ops.sessions.replay import load_session
    from schemas.records import EventState, MarketListing, Quote

    inputs = load_session(SESSION)
    want = InProcessEngine(BacktestConfig(account="load-template")).run(inputs)
    links = {(lk.venue, lk.market_id): lk for lk in want.links}
    states = [r.value for r in inputs if isinstance(r.value, EventState)]
    state = states[len(states) // 2]
    listings = {}
    quotes: dict[Any, Any] = {}
    for r in inputs:
        if isinstance(r.value, MarketListing) and (r.value.venue, r.value.market_id) in links:
            listings.setdefault((r.value.venue, r.value.market_id), r.value)
        if isinstance(r.value, Quote) and (r.value.venue, r.value.market_id) in links and r.value.yes_bid_micros:
            # the book the venue showed while the game stood as `state` (the last one before it; else the first
            # after): a mid-game state beside pregame books is a mispricing no real feed shows, and the model saw an
            # edge on nearly every update (412 signals/s for 533 updates/s, README, Reliability)
            if (r.value.venue, r.value.market_id) not in quotes or r.value.ts <= state.ts:
                quotes[(r.value.venue, r.value.market_id)] = r.value
    keys = sorted(set(listings) & set(quotes), key=str)
    return Template(state, tuple(listings[k] for k in keys), tuple(links[k] for k in keys),
                    tuple(quotes[k] for k in keys))


DAY_MS = 86_400_000


def _on_day(listing: Any, days: int, k: int) -> Any:
    """The listing of the same game `days` later (clone k): every date a matcher reads moves (ticker, rules,
    resolution, times)."""
    res = listing.resolution
    old = date.fromisoformat(res.event_date)
    new = old + timedelta(days=days)
    shift = lambda ts: None if ts is None else ts + days * DAY_MS  # noqa: E731
    ticker = lambda d: f"{d:%y}{d:%b}{d:%d}".upper()  # noqa: E731 - Kalshi's 26JUN08
    rules = lambda d: f"{d:%b} {d.day}, {d.year}"  # noqa: E731 - "scheduled for Jun 8, 2026"
    text = lambda v: v.replace(ticker(old), ticker(new)).replace(rules(old), rules(new))  # noqa: E731
    market_id = text(listing.market_id) if listing.venue is Venue.KALSHI else f"{listing.market_id}-L{k}"
    tok = lambda x: None if x is None else f"{x}-L{k}"  # noqa: E731
    return replace(
        listing, listing_id=f"{listing.venue.value}:{market_id}", market_id=market_id, group_id=text(listing.group_id),
        rules=text(listing.rules), open_ts=shift(listing.open_ts), close_ts=shift(listing.close_ts),
        settle_ts=shift(listing.settle_ts), token_yes=tok(listing.token_yes), token_no=tok(listing.token_no),
        resolution=replace(res, event_date=new.isoformat(), start_ts=shift(res.start_ts),
                           expected_settle_ts=shift(res.expected_settle_ts), latest_settle_ts=shift(res.latest_settle_ts)))


def days_after(t: Template, k: int, ts: int) -> int:
    """How many days after the recorded game clone k is played: the k-th day from `ts`'s (listings of a day
    long past would be given up on arrival)."""
    played = date.fromisoformat(t.listings[0].resolution.event_date)
    return (datetime.fromtimestamp(ts / 1000, tz=timezone.utc).date() - played).days + k


def clone_state(t: Template, k: int, ts: int) -> Any:
    """Event k: the recorded game on its day (its own id and scheduled start, nothing else changed)."""
    return replace(t.state, event_id=f"{t.state.event_id}-load{k}",
                   start_ts=t.state.start_ts + days_after(t, k, ts) * DAY_MS)


def clone_event(t: Template, k: int, ts: int) -> tuple[list[tuple[str, str, Any]], list[Any]]:
    """Event k's listings and links (published once) and its markets' template books.

    Clone k is the recorded game played on the k-th day from `ts`'s, so discovery tells the clones apart as it
    would a real slate (a game per day and league), and the links published here are the ones it
    makes itself (same ids): 1,000 copies on one day made every listing match whichever copy
    came first (each market routed to one event) and re-match as the others came.
    """
    event_id, days = clone_state(t, k, ts).event_id, days_after(t, k, ts)
    out: list[tuple[str, str, Any]] = []
    books = []
    for listing, link, quote in zip(t.listings, t.links, t.quotes):
        lst = replace(_on_day(listing, days, k), ts=ts)
        lnk = replace(link, link_id=link_id(lst.listing_id, event_id, link.yes_role), market_id=lst.market_id,
                      event_id=event_id, ts=ts)
        out += [("markets.catalog", lst.listing_id, lst), ("markets.links", f"{lnk.venue.value}:{lst.market_id}", lnk)]
        books.append(replace(quote, market_id=lst.market_id))
    return out, books


def moved(book: Any, rng: random.Random, run: str, n: int, ts: int) -> Any:
    """The book shifted by -2..+2 ticks (1 cent), bid < ask kept, inside (0, 1)."""
    step = 10_000 * rng.randint(-2, 2)

    def px(v: int | None, sign: int = 1) -> int | None:
        return None if v is None else min(990_000, max(10_000, v + sign * step))

    def lv(packed: bytes, sign: int = 1) -> bytes:
        prices, c100 = depth.unpack(packed)
        return depth.pack(np.clip(prices + sign * step, 10_000, 990_000), c100)

    from schemas import depth

    # implied asks (Kalshi) are $1 minus the other side's bids: NO bids move against YES ones
    no_sign = -1 if book.asks_implied else 1

    return replace(book, quote_id=f"load:{run}:{book.market_id}:{n}", ts=ts, seq=n,
                   yes_bid_micros=px(book.yes_bid_micros), yes_ask_micros=px(book.yes_ask_micros),
                   no_bid_micros=px(book.no_bid_micros, no_sign), no_ask_micros=px(book.no_ask_micros, no_sign),
                   yes_bid_depth=lv(book.yes_bid_depth), yes_ask_depth=lv(book.yes_ask_depth),
                   no_bid_depth=lv(book.no_bid_depth, no_sign), no_ask_depth=lv(book.no_ask_depth, no_sign))


@dataclass
class Samples:
    at: list[float] = field(default_factory=list)
    lag: list[int] = field(default_factory=list)  # the largest group's total lag at each sample
    rss_mb: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    worst: str = ""  # the group (and its partitions) behind the largest lag sample
    first: dict[tuple[str, str, int], int] = field(default_factory=dict)  # committed offsets at the first sample
    read: set[tuple[str, str]] = field(default_factory=set)  # (group, topic) pairs whose offsets moved: what it reads


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def growth_mb(series: list[tuple[float, float]], warmup: float = 0.25) -> float:
    """A series' trend after the warm-up (RSS in MB, lag in records): the least-squares slope times the span it
    covers."""
    import numpy as np

    if len(series) < 4:
        return 0.0
    start = series[0][0] + (series[-1][0] - series[0][0]) * warmup
    kept = [(t, m) for t, m in series if t >= start]
    if len(kept) < 3:
        return 0.0
    ts, ms = np.array([t for t, _ in kept]), np.array([m for _, m in kept])
    slope = float(np.polyfit(ts, ms, 1)[0])
    return slope * float(ts[-1] - ts[0])


def main(argv: list[str] | None = None) -> int:
    from bench.stack import database_url, kafka_bootstrap

    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--quote-every-s", type=float, default=6.0, help="book updates per market (the session: ~6 s)")
    ap.add_argument("--state-every-s", type=float, default=30.0, help="game states per event (ESPN polling)")
    ap.add_argument("--drain-s", type=float, default=300.0, help="longest wait for the groups to catch up at the end")
    ap.add_argument("--no-results", action="store_true")
    args = ap.parse_args(argv)
    with kafka_bootstrap() as bootstrap, database_url() as db_url:
        figures = run(bootstrap, db_url, args)
    print(json.dumps(figures, indent=2))
    if not args.no_results:
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results.update(figures)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if not figures["load.bounded"]:
        print("load: FAILED: the groups' lag grew through the held load or did not drain", file=sys.stderr)
    return 0 if figures["load.dropped"] == 0 and figures["load.bounded"] else 1


def bounded(held: list[tuple[float, float]], final_lag: int | None, one_round: int) -> tuple[bool, float, int]:
    """Whether the groups kept up: after the warm-up their lag grew by less than one round of updates (every market
    once) over the held load, and it was back to 0 once the input stopped. Also the trend and the steady maximum."""
    growth = growth_mb(held)
    start = held[0][0] + (held[-1][0] - held[0][0]) * 0.25 if held else 0.0
    steady = max((int(lag) for t, lag in held if t >= start), default=0)
    return growth < one_round and final_lag == 0, growth, steady


def run(bootstrap: str, db_url: str, args: argparse.Namespace) -> dict[str, Any]:
    from connectors.publisher import Publisher
    from ops.backtest.inprocess import BacktestConfig
    from ops.chaos.invariants import group_lags
    from ops.run.parts import AGENT_GROUPS, free_port
    from ops.sink.store import connect
    from ops.topics import ensure_topics
    from schemas.records import EventState

    run_id = uuid.uuid4().hex[:8]
    prefix, account = f"load-{run_id}", f"load-{run_id}"
    t = template()
    rng = random.Random(20261206)
    from ops import db

    db.migrate(db_url)  # a stack whose database nothing has migrated yet (a fresh clone's `make load`)
    ensure_topics(bootstrap)  # and a broker with no topics yet: the groups must start at real log ends
    _start_at_the_end(bootstrap, db_url, prefix)  # the groups read this run's records, not the stack's history
    pub = Publisher(bootstrap, service="load")
    now = int(time.time() * 1000)
    pub.publish("ledger", account, replace(BacktestConfig(account=account).deposit(now), ts=now))
    books: list[list[Any]] = []
    states = [clone_state(t, k, now) for k in range(args.events)]
    for k in range(args.events):
        once, event_books = clone_event(t, k, now)
        for topic, key, rec in once:
            pub.publish(topic, key, rec)
        books.append(event_books)
    pub.flush(120)
    markets = sum(len(b) for b in books)
    print(f"load: {args.events} events, {markets} markets ({len(t.listings)} per event) listed and linked", flush=True)

    folder = Path(tempfile.mkdtemp(prefix="arbees-load-"))
    env = {k: v for k, v in os.environ.items() if k != "FRED_API_KEY"}
    env.update({"KAFKA_BOOTSTRAP": bootstrap, "DATABASE_URL": db_url, "ARBEES_STACK_DIR": str(folder),
                "ARBEES_APP_ID": prefix, "ARBEES_ACCOUNTS": account, "ARBEES_HEARTBEAT_S": "5",
                "ARBEES_SCREEN_EVERY_S": "60", "ARBEES_BOARD_PORT": str(free_port())})
    screen = (folder / "screen.txt").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "ops.cli", "run", "--only", ",".join(PARTS)], cwd=REPO, env=env,
                            stdout=screen, stderr=subprocess.STDOUT, start_new_session=True)
    groups = [f"{prefix}-{g}" for g in AGENT_GROUPS]
    samples = Samples()
    produced = {"quotes": 0, "states": 0}
    try:
        _wait_running(folder, proc)
        quote_gap = args.quote_every_s / markets
        state_gap = args.state_every_s / args.events
        began = time.monotonic()
        end = began + args.minutes * 60
        next_quote = next_state = next_sample = began
        qi = si = 0
        while (now_m := time.monotonic()) < end:
            if now_m >= next_sample:
                _sample(samples, folder, bootstrap, groups, now_m - began)
                next_sample += 5.0
            ts = int(time.time() * 1000)
            while next_quote <= now_m:
                k, m = divmod(qi % markets, len(t.listings))
                q = moved(books[k][m], rng, run_id, qi, ts)
                pub.publish("markets.quotes", f"{q.venue.value}:{q.market_id}", q)
                qi, next_quote = qi + 1, next_quote + quote_gap
            while next_state <= now_m:
                k = si % args.events
                st = replace(states[k], state_id=f"load:{run_id}:{k}:{si}", ts=ts)
                pub.publish("events.state", st.event_id, st)
                si, next_state = si + 1, next_state + state_gap
            time.sleep(max(0.0, min(next_quote, next_state, next_sample) - time.monotonic()))
        pub.flush(120)
        held = time.monotonic() - began
        produced = {"quotes": qi, "states": si}
        print(f"load: held {held:.0f}s, {qi} book updates and {si} game states published; draining", flush=True)
        drain_began = time.monotonic()
        while time.monotonic() - drain_began < args.drain_s:
            _sample(samples, folder, bootstrap, groups, time.monotonic() - began)
            if samples.lag[-1] == 0:
                break
            time.sleep(5.0)
        drained = time.monotonic() - drain_began
        with connect(db_url) as conn:
            deadline = time.monotonic() + 120
            while True:
                rows_q = conn.execute("SELECT count(*) FROM quotes WHERE quote_id LIKE %s", (f"load:{run_id}:%",)).fetchone()[0]
                rows_s = conn.execute("SELECT count(*) FROM event_states WHERE state_id LIKE %s", (f"load:{run_id}:%",)).fetchone()[0]
                if rows_q + rows_s >= qi + si or time.monotonic() > deadline:
                    break
                time.sleep(2.0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    growth = {part: round(growth_mb(series), 1) for part, series in samples.rss_mb.items()}
    print(f"load: rss growth per part (MB over the run after warm-up): {growth}; largest lag: {samples.worst}", flush=True)
    held_lag = [(at, float(lag)) for at, lag in zip(samples.at, samples.lag) if at <= held]
    print(f"load: largest group lag every 5 s while held: {[int(lag) for _, lag in held_lag]}", flush=True)
    kept_up, lag_growth, steady_max = bounded(held_lag, samples.lag[-1] if samples.lag else None, markets)
    return {
        "load.events": args.events,
        "load.markets": markets,
        "load.updates_per_s": round((produced["quotes"] + produced["states"]) / held, 1),
        "load.max_lag": max(samples.lag) if samples.lag else None,
        "load.final_lag": samples.lag[-1] if samples.lag else None,
        "load.steady_max_lag": steady_max,
        "load.lag_growth": round(lag_growth),
        "load.bounded": kept_up,
        "load.drain_s": round(drained, 1),
        "load.rss_growth_mb": max(growth.values()) if growth else None,
        "load.dropped": (produced["quotes"] - rows_q) + (produced["states"] - rows_s),
        "load.seconds": round(held),
    }


def _start_at_the_end(bootstrap: str, db_url: str, prefix: str) -> None:
    """Every group of this run, and its sink, starts at today's log ends: what they read is this run's load."""
    from ops.demo import log_ends, start_group_at
    from ops.run.parts import AGENT_GROUPS
    from ops.sink.runner import SINK_TOPICS
    from ops.sink.store import connect
    from schemas.topics import TOPICS

    ends = log_ends(bootstrap, [t.name for t in TOPICS])
    for group in AGENT_GROUPS:
        start_group_at(bootstrap, f"{prefix}-{group}", ends)
    with connect(db_url) as conn:
        for topic in SINK_TOPICS:
            for partition, offset in ends.get(topic, {}).items():
                conn.execute("INSERT INTO sink_offsets (consumer, topic, partition, next_offset) VALUES (%s, %s, %s, %s)",
                             (f"{prefix}-sink", topic, partition, offset))


def _status(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "run" / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait_running(folder: Path, proc: subprocess.Popen[bytes], timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"arbees run exited: {(folder / 'screen.txt').read_text()[-2000:]}")
        parts = _status(folder).get("parts", [])
        if len(parts) == len(PARTS) and all(p["state"] == "running" and p.get("heartbeat_age_s") is not None for p in parts):
            return
        time.sleep(1.0)
    raise TimeoutError(f"the parts did not all start in {timeout_s:.0f}s")


def _sample(samples: Samples, folder: Path, bootstrap: str, groups: list[str], at: float) -> None:
    from ops.chaos.invariants import group_lags

    per_group: dict[str, int] = {}
    lags = group_lags(bootstrap, groups)
    for x in lags:  # every group was started at the log ends on every topic; what it reads is what moved since
        first = samples.first.setdefault((x.group, x.topic, x.partition), x.committed)
        if x.committed != first:
            samples.read.add((x.group, x.topic))
    for x in lags:
        if x.topic != "health" and (x.group, x.topic) in samples.read:
            per_group[x.group] = per_group.get(x.group, 0) + max(0, x.lag)
    samples.at.append(at)
    samples.lag.append(max(per_group.values(), default=0))
    if per_group and samples.lag[-1] >= max(samples.lag):
        g = max(per_group, key=per_group.__getitem__)
        behind = sorted(((x.lag, x.topic) for x in lags if x.group == g and (g, x.topic) in samples.read), reverse=True)[:3]
        samples.worst = f"{g} at {at:.0f}s: {behind}"
    for p in _status(folder).get("parts", []):
        if p.get("pid") and (mb := rss_mb(int(p["pid"]))) is not None:
            samples.rss_mb.setdefault(p["name"], []).append((at, mb))


if __name__ == "__main__":
    sys.exit(main())
