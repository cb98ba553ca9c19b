"""`make fuzz`: mutated real payloads through every connector's entry point and the codec.

Each target takes one answer or frame as text, as the venue sent it, and runs it
through what the connector runs in production (pipeline `on_raw`, feed discovery,
REST order books, websocket frames, the Kalshi and Polymarket feeds). The sink
encodes every record with the contract codec, as the publisher does. An input
passes when it ends as encodable records and/or dead letters with a reason; any
exception leaving the connector, or a record the codec refuses, is an escape.

Seeds are the recorded payloads in tests/fixtures (see their PROVENANCE.md), with
long lists cut to their first items so one example stays fast. Mutations: a
field dropped, a value retyped (null, bool, huge or negative numbers, NaN, huge
and unicode strings, empty containers), the JSON truncated, or garbage text.

The in-suite tests (tests/unit/fuzz) run each target for a bounded, derandomized
number of examples; this module runs many more and merges `fuzz.inputs` and
`fuzz.escaped` into bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import default_codec
from schemas.deadletters import dead_letter
from schemas.errors import DecodeError
from schemas.records import RawFeed
from schemas.topics import spec

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
RESULTS = ROOT / "bench" / "results.json"
T0 = 1_770_000_000_000  # fetch time of every fuzzed answer (event-time only; nothing reads the clock)
KEEP = 4  # items kept of each list in a seed


# ------------------------------------------------------------------ the sink


class Escape(AssertionError):
    """An input that left the connector with an exception, or a record the codec refused."""


@dataclass
class CodecSink:
    """What `connectors.publisher.Publisher` does, minus Kafka: every record through the codec."""

    encoded: list[bytes] = field(default_factory=list)
    dead: list[Any] = field(default_factory=list)

    def publish(self, topic: str, key: str, record: Any) -> None:
        spec(topic)
        # SchemaViolation here is an escape: the publisher would raise it
        self.encoded.append(default_codec().encode(record))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        record = dead_letter(topic=topic, value=value, error=error, service="fuzz", ts=ts, key=key.encode() if key else None)
        if not record.error:
            raise Escape(f"dead letter without a reason ({record.error_type})")
        self.publish("deadletter", topic, record)
        self.dead.append(record)

    def flush(self, timeout: float = 30.0) -> None:
        return None


# ------------------------------------------------------------------ seeds


def _trim(doc: Any) -> Any:
    if isinstance(doc, list):
        return [_trim(x) for x in doc[:KEEP]]
    if isinstance(doc, dict):
        return {k: _trim(v) for k, v in doc.items()}
    return doc


def _file(name: str) -> Path:
    return FIXTURES / name


def seed_docs(*names: str, trim: bool = True) -> list[str]:
    """JSON documents (one per file, or one per line of an .ndjson), long lists cut to KEEP items."""
    out: list[str] = []
    for name in names:
        text = _file(name).read_text()
        docs = [json.loads(line) for line in text.splitlines() if line.strip()] if name.endswith(".ndjson") else [json.loads(text)]
        out += [json.dumps(_trim(d) if trim else d) for d in docs]
    return out


# ------------------------------------------------------------------ mutations

ODD_VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1, 2**63, -(2**63), 10**30, 1e308, -1e308, "", "0", "-0.5", "1.5",
                     "1e9", "NaN", "Infinity", "-1", "0.0000001", [], {}, [[]], [None], {"": None}]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.text(max_size=40),
    st.just("\U0001F4A9" * 20_000 + "\u202e\x00"),
    st.just("x" * 200_000),
)


def _paths(doc: Any, prefix: tuple = (), out: list | None = None, limit: int = 4000) -> list[tuple]:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append(prefix + (k,))
            _paths(v, prefix + (k,), out, limit)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append(prefix + (i,))
            _paths(v, prefix + (i,), out, limit)
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    """One seed with 1-3 structural mutations, sometimes truncated, or plain garbage."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
    doc = json.loads(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            doc = copy.deepcopy(draw(ODD_VALUES))
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            # a copy: the containers among ODD_VALUES are one object each, and a later mutation writing inside one
            # (`[None]`'s item set to `[None]`) made it contain itself for this and every later example
            parent[path[-1]] = copy.deepcopy(draw(ODD_VALUES))
    text = json.dumps(doc)  # NaN and Infinity are written as Python's json does (and as sloppy venues do)
    if draw(st.integers(0, 5)) == 0:
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    return text


# ------------------------------------------------------------------ targets


def _raw(endpoint: str, url: str, body: str, params: dict[str, str] | None = None, source: str = "fuzz") -> RawFeed:
    return RawFeed(raw_id=f"{source}:{endpoint}:{T0}", ts=T0, source=source, endpoint=endpoint, url=url,
                   params=params or {}, status=200, fetched_at=T0, body=body)


def espn_scoreboard(body: str) -> CodecSink:
    from connectors.espn.pipeline import EspnPipeline

    sink = CodecSink()
    EspnPipeline(sink).on_raw(_raw("scoreboard", "https://site.api.espn.com/apis/site/v2/sports/football/nfl/scoreboard",
                                   body, source="espn"))
    return sink


def espn_summary(body: str) -> CodecSink:
    from connectors.espn.pipeline import EspnPipeline

    sink = CodecSink()
    league = "mlb" if '"mlb"' in body[:5000] or "baseball" in body[:5000] else "nba"
    EspnPipeline(sink).on_raw(_raw("summary", f"https://cdn.espn.com/core/{league}/game", body,
                                   {"xhr": "1", "gameId": "1"}, source="espn"))
    return sink


def coingecko(body: str) -> CodecSink:
    from connectors.coingecko.pipeline import CoinGeckoPipeline

    sink = CodecSink()
    pipe = CoinGeckoPipeline(sink)
    if body.lstrip().startswith("{") and '"prices"' in body:
        pipe.on_raw(_raw("market_chart", "https://api.coingecko.com/api/v3/coins/bitcoin/market_chart", body,
                         {"vs_currency": "usd", "days": "7"}, source="coingecko"))
    else:
        pipe.on_raw(_raw("simple_price", "https://api.coingecko.com/api/v3/simple/price", body,
                         {"ids": "bitcoin", "vs_currencies": "eth"}, source="coingecko"))
    return sink


def fred(body: str) -> CodecSink:
    from connectors.fred.pipeline import FredPipeline

    sink = CodecSink()
    pipe = FredPipeline(sink)
    if '"observations"' in body or "series_id" in body:
        pipe.on_raw(_raw("series_observations", "https://api.stlouisfed.org/fred/series/observations", body,
                         {"series_id": "UNRATE"}, source="fred"))
    else:
        pipe.on_raw(_raw("release_dates", "https://api.stlouisfed.org/fred/release/dates", body,
                         {"release_id": "11"}, source="fred"))
    return sink


def _answer(body: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200, text=body)))


def _kalshi_feed(sink: CodecSink, body: str, frames: list[str] | None = None) -> Any:
    from connectors.kalshi.feed import KalshiFeed
    from connectors.kalshi.rest import KalshiRest

    rest = KalshiRest("https://fuzz.kalshi.test/trade-api/v2", client=_answer(body), clock=lambda: T0)
    return KalshiFeed(sink, rest, ws_factory=lambda: FramesWs(frames or []), clock=lambda: T0)


def kalshi_markets(body: str) -> CodecSink:
    sink = CodecSink()

    async def run() -> None:
        feed = _kalshi_feed(sink, body)
        pages = feed.rest.iter_markets(series_ticker="KXNFLGAME")
        await feed._publish_markets(_first(pages), lambda _m: None)

    asyncio.run(run())
    return sink


async def _first(pages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """One page only: the fuzzed answer repeats, so its cursor would page forever (the client stops at 1000)."""
    async for page in pages:
        yield page
        return


def kalshi_orderbook(body: str) -> CodecSink:
    sink = CodecSink()

    async def run() -> None:
        await _kalshi_feed(sink, body).rest_quotes(["KXNFLGAME-25DEC27BALGB-GB"])

    asyncio.run(run())
    return sink


class FramesWs:
    """The part of `KalshiWs` the feed uses, playing recorded frames."""

    url = "wss://fuzz.kalshi.test/trade-api/ws/v2"

    def __init__(self, frames: list[str]) -> None:
        self._frames = frames
        self.sent: list[tuple[str, Any]] = []

    async def __aenter__(self) -> FramesWs:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def subscribe(self, channels: Any, tickers: Any) -> int:
        self.sent.append(("subscribe", (tuple(channels), tuple(tickers))))
        return len(self.sent)

    async def unsubscribe(self, sids: list[int]) -> int:
        self.sent.append(("unsubscribe", tuple(sids)))
        return len(self.sent)

    async def frames(self) -> AsyncIterator[str]:
        for f in self._frames:
            yield f


def kalshi_ws_with(prefix: list[str]) -> Callable[[str], CodecSink]:
    """The Kalshi feed over the recorded frames `prefix`, then the fuzzed frame, then the prefix again."""

    def target(frame: str) -> CodecSink:
        sink = CodecSink()
        frames = [*prefix, frame, *prefix]

        async def run() -> None:
            await _kalshi_feed(sink, "{}", frames).stream(["FED-23DEC-T3.00"], until=lambda _s: False)

        asyncio.run(run())
        return sink

    return target


def _clob_book_for(token: str) -> str:
    book = json.loads(_file("polymarket/clob_book_2026-01-04.json").read_text())
    book["asset_id"] = token
    return json.dumps(book)


def _polymarket_feed(sink: CodecSink, gamma_body: str = "[]", book_body: Callable[[str], str] = _clob_book_for) -> Any:
    from connectors.polymarket.clob import ClobClient
    from connectors.polymarket.feed import PolymarketFeed
    from connectors.polymarket.gamma import GammaClient

    def clob(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=book_body(request.url.params.get("token_id", "")))

    pages = iter([gamma_body])

    def gamma(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=next(pages, "[]"))

    return PolymarketFeed(
        sink,
        GammaClient(httpx.AsyncClient(transport=httpx.MockTransport(gamma)), clock=lambda: T0, page_limit=500),
        ClobClient(httpx.AsyncClient(transport=httpx.MockTransport(clob)), clock=lambda: T0),
        clock=lambda: T0,
    )


def polymarket_gamma_events(body: str) -> CodecSink:
    sink = CodecSink()
    asyncio.run(_polymarket_feed(sink, gamma_body=body).discover())
    return sink


def polymarket_gamma_markets(body: str) -> CodecSink:
    sink = CodecSink()
    asyncio.run(_polymarket_feed(sink, gamma_body=body).refresh(["0xfuzz"]))
    return sink


def _ws_markets(frames: list[str]) -> dict[str, list[str]]:
    """Market → asset ids named by the recorded frames (to track them)."""
    markets: dict[str, list[str]] = {}
    for text in frames:
        for obj in (lambda d: d if isinstance(d, list) else [d])(json.loads(text)):
            items = [obj, *obj.get("price_changes", [])]
            for it in items:
                if "asset_id" in it:
                    assets = markets.setdefault(obj["market"], [])
                    if it["asset_id"] not in assets:
                        assets.append(it["asset_id"])
    return markets


async def _tracked(feed: Any, markets: dict[str, list[str]]) -> None:
    """Each recorded market tracked; a market with one recorded token gets a made-up partner token.

    Every book starts from the recorded REST book (re-labelled for its token), as a resync would.
    """
    from schemas.enums import Venue
    from schemas.records import MarketListing

    for market, assets in markets.items():
        yes, no = (assets + [assets[0] + "-partner"])[:2]
        feed.track(MarketListing(listing_id=f"polymarket:{market}", venue=Venue.POLYMARKET, market_id=market, ts=T0,
                                 token_yes=yes, token_no=no, tick_micros=10_000))
        for token in (yes, no):
            await feed.resync(token, "fuzz start")


def polymarket_ws_with(prefix: list[str]) -> Callable[[str], CodecSink]:
    """The Polymarket feed tracking the recorded markets: prefix frames, the fuzzed frame, the prefix again."""
    from connectors.polymarket.ws import Frame

    markets = _ws_markets(prefix)

    def target(text: str) -> CodecSink:
        sink = CodecSink()

        async def run() -> None:
            feed = _polymarket_feed(sink)
            await _tracked(feed, markets)
            for i, t in enumerate([*prefix, text, *prefix]):
                await feed.on_frame(Frame(t, T0 + i, 1), "wss://fuzz.polymarket.test/ws/market")

        asyncio.run(run())
        return sink

    return target


def polymarket_clob_book_with(markets: dict[str, list[str]]) -> Callable[[str], CodecSink]:
    """A resync whose REST book answer is the fuzzed text (the first token's, with the recorded book for the rest)."""
    from connectors.polymarket.ws import Frame

    first = next(iter(markets.values()))[0]

    def target(body: str) -> CodecSink:
        sink = CodecSink()
        answers = {"n": 0}

        def book(token: str) -> str:
            answers["n"] += 1
            return body if token == first and answers["n"] > 2 else _clob_book_for(token)

        async def run() -> None:
            feed = _polymarket_feed(sink, book_body=book)
            await _tracked(feed, markets)
            # a legacy price_change on the first token forces a REST resync of it
            legacy = json.loads(_file("polymarket/ws_market_price_change_legacy_v1.json").read_text())
            legacy["asset_id"] = first
            await feed.on_frame(Frame(json.dumps(legacy), T0 + 10**11, 1), "wss://fuzz.polymarket.test/ws/market")

        asyncio.run(run())
        return sink

    return target


@dataclass(frozen=True)
class Target:
    name: str
    seeds: list[str]
    run: Callable[[str], CodecSink]


def targets() -> list[Target]:
    pm_frames = seed_docs("polymarket/ws_market_book_frames.ndjson", trim=False)[:2]
    pm_markets = _ws_markets(pm_frames)
    k_prefix = seed_docs("kalshi/ws_doc_examples_asyncapi.ndjson", trim=False)[1:5]
    return [
        Target("espn.scoreboard", seed_docs("espn/nfl_scoreboard_2025-12-07_live.json", "espn/nba_scoreboard_2025-12-07.json",
                                            "espn/nfl_scoreboard_2025-11-30_sunday_night.json"), espn_scoreboard),
        Target("espn.summary", seed_docs("espn/nba_game_cdn_core_401859966_finals_g3.json",
                                         "espn/mlb_game_cdn_core_401815839.json"), espn_summary),
        Target("kalshi.markets", seed_docs("kalshi/markets_list_prod_KXNFLGAME_limit1.json",
                                           "kalshi/markets_list_demo_KXNFLGAME.json"), kalshi_markets),
        Target("kalshi.orderbook", seed_docs("kalshi/orderbook_handwritten_fixture.json"), kalshi_orderbook),
        Target("kalshi.ws", seed_docs("kalshi/ws_doc_examples_asyncapi.ndjson", "kalshi/ws_ticker_frames.ndjson",
                                      "kalshi/ws_trade_frames.ndjson", trim=False), kalshi_ws_with(k_prefix)),
        Target("polymarket.gamma.events", seed_docs("polymarket/gamma_events_list_active_2026-01-04.json",
                                                    "polymarket/gamma_events_dem_nominee_2028_trimmed.json"),
               polymarket_gamma_events),
        Target("polymarket.gamma.markets", [json.dumps([json.loads(s)]) for s in
                                            seed_docs("polymarket/gamma_market_sports_moneyline_cs2_closed.json")],
               polymarket_gamma_markets),
        Target("polymarket.clob.book", [_clob_book_for(next(iter(pm_markets.values()))[0])],
               polymarket_clob_book_with(pm_markets)),
        Target("polymarket.ws", seed_docs("polymarket/ws_market_book_frames.ndjson",
                                          "polymarket/ws_market_last_trade_price_frames.ndjson",
                                          "polymarket/ws_market_price_change_doc_example.json",
                                          "polymarket/ws_market_best_bid_ask.json", trim=False)[:12],
               polymarket_ws_with(pm_frames)),
        Target("coingecko", seed_docs("coingecko/market_chart_bitcoin_usd_7d_hourly.json",
                                      "coingecko/simple_price_ids_bitcoin_dai_binancecoin_vs_eth.json"), coingecko),
        Target("fred", seed_docs("fred/series_observations_UNRATE.json", "fred/release_dates_release_id_11.json",
                                 "fred/series_observations_OILPRICE_missing_value_dot.json"), fred),
    ]


def check(target: Target, text: str) -> CodecSink:
    """Run one input; raise Escape (with the cause) when anything but records and dead letters came out."""
    try:
        return target.run(text)
    except Escape:
        raise
    except Exception as exc:
        raise Escape(f"{target.name}: {type(exc).__name__}: {exc}"[:2000]) from exc


# ------------------------------------------------------------------ the codec


def codec_seeds() -> list[bytes]:
    """Encoded records from every target's unmutated seeds (the records the connectors really write)."""
    return [data for t in targets() for s in t.seeds[:2] for data in t.run(s).encoded]


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        elif kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "header" and len(data) >= 5:
            data[1:5] = draw(st.integers(0, 2**32 - 1)).to_bytes(4, "big")
    return bytes(data)


def check_decode(data: bytes) -> None:
    """A framed value decodes to a record that encodes again, or raises DecodeError; nothing else."""
    codec = default_codec()
    try:
        record = codec.decode(data)
    except DecodeError:
        return
    except Exception as exc:
        raise Escape(f"codec.decode: {type(exc).__name__}: {exc}"[:2000]) from exc
    try:
        codec.encode(record)
    except Exception as exc:
        raise Escape(f"codec: decoded {type(record).__name__} does not encode again: {exc}"[:2000]) from exc


# ------------------------------------------------------------------ the long run


@dataclass
class Tally:
    inputs: int = 0
    escaped: int = 0
    examples: dict[str, str] = field(default_factory=dict)


def campaign(examples: int, *, seed: int | None = None, only: str = "") -> Tally:
    """Every target `examples` times (randomized unless `seed`), counting escapes instead of stopping."""
    tally = Tally()

    def count(name: str, fn: Callable[[Any], Any], value: Any) -> None:
        tally.inputs += 1
        try:
            fn(value)
        except Escape as exc:
            tally.escaped += 1
            where = "".join(traceback.format_exception(exc.__cause__)[-4:-1]) if exc.__cause__ else ""
            tally.examples.setdefault(name, f"{exc}\n{where}  input: {value!r}"[:3000])

    cfg = settings(max_examples=examples, deadline=None, database=None, derandomize=seed is not None,
                   suppress_health_check=list(HealthCheck))
    def fuzzer(t: Target) -> Callable[[], None]:
        @cfg
        @given(mutated(t.seeds))
        def run(text: str) -> None:
            count(t.name, lambda x: check(t, x), text)

        return run

    for t in targets():
        if only and not t.name.startswith(only):
            continue
        started = time.monotonic()
        fuzzer(t)()
        print(f"fuzz {t.name}: {time.monotonic() - started:.1f}s", flush=True)
    if only and only != "codec":
        return tally
    seeds = codec_seeds()

    @cfg
    @given(mutated_bytes(seeds))
    def decode(data: bytes) -> None:
        count("codec", check_decode, data)

    decode()
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=400, help="examples per target (and for the codec)")
    ap.add_argument("--only", default="", help="targets whose name starts so (a trial run: results.json untouched)")
    args = ap.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))  # one warning per dead letter
    started = time.monotonic()
    tally = campaign(args.examples, only=args.only)
    elapsed = time.monotonic() - started
    if args.only:
        for name, example in tally.examples.items():
            print(f"ESCAPE {name}: {example}")
        return 0 if tally.escaped == 0 else 1
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update({"fuzz.inputs": tally.inputs, "fuzz.escaped": tally.escaped, "fuzz.seconds": round(elapsed, 1)})
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"fuzz: {tally.inputs} inputs, {tally.escaped} escaped, {elapsed:.0f}s")
    for name, example in tally.examples.items():
        print(f"ESCAPE {name}: {example}")
    return 0 if tally.escaped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
