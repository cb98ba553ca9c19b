"""Build `data/sessions/nba-2026-finals-g3/feed.ndjson`: the recorded session's raw payloads, deterministically.

    python -m ops.sessions.build [--shared data/sessions/nba-2026-finals-g3/inputs] [--out data/sessions/nba-2026-finals-g3]

The game: 2026 NBA Finals Game 3, San Antonio at New York, 2026-06-08 (ESPN 401859965,
SA won 115-111). Every fact comes from a recording; what was not recorded as a
payload is written in the venue's own payload shape from the recorded facts, by
the rules below (also in the folder's PROVENANCE.md). Nothing comes from our models.

- ESPN: one site-API scoreboard response per recorded scoring play (all 122; period,
  clock, score and wall-clock time from the recorder's scoring_events.csv, whose
  sequence numbers are ESPN's), fetched at the play's wall-clock time; the pregame
  line (DraftKings, NY -1.5, O/U 215.5, ML NY -125 / SA +105) from ESPN's summary in
  sportsdataverse/hoopR-nba-raw; the final one minute after the last scoring play.
- Kalshi: websocket `orderbook_snapshot` then `orderbook_delta` frames (one sid for
  both markets). Top of book = the recorded yes bid/ask (REST and websocket
  recorders, before and after each scoring play) and, between them, the digitized
  mid path rounded to a 1-cent spread. Depth = two 1-cent levels per side sized
  from the recorded visible depth (REST `premium_1c` = Σ price·size within 1¢ of
  the best), per market the median over the recording.
- Polymarket: market-channel `book` messages for both tokens whenever the recorded
  1-minute price of the Spurs token moves; the price is the mid, spread one tick
  (two when the price sits on a whole cent); depth the top five levels of a recorded
  CLOB book.

Run twice, the output is byte-identical: no clock, no randomness, sorted keys.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SESSION = REPO / "data" / "sessions" / "nba-2026-finals-g3"
#: The builder inputs, copied from `shared/` with their provenance (relative paths kept), so the repo stands alone.
SHARED = SESSION / "inputs"
G3 = "data/venue_paths/kalshi_nba_finals_2026/game3_SAS-at-NYK_2026-06-08"
POLY_PATH = "data/venue_paths/polymarket_clob/g3_nba-sas-nyk-2026-06-08_market2415863_winner-token_1min.csv"
POLY_DEPTH_BOOK = "fixtures/polymarket/clob_book_2026-01-04.json"

ESPN_ID = "401859965"
SCOREBOARD_URL = "https://site.api.espn.com/apis/site/v2/sports/basketball/nba/scoreboard"
TIP_ISO = "2026-06-09T00:30Z"  # ESPN's scheduled start (summary header date 2026-06-09T00:30:00Z)
HOME = {"id": "18", "location": "New York", "name": "Knicks", "abbreviation": "NY", "displayName": "New York Knicks",
        "shortDisplayName": "Knicks"}
AWAY = {"id": "24", "location": "San Antonio", "name": "Spurs", "abbreviation": "SA", "displayName": "San Antonio Spurs",
        "shortDisplayName": "Spurs"}
#: ESPN summary `pickcenter[0]` (DraftKings, priority 1), hoopR-nba-raw nba/json/raw/401859965.json.
PICKCENTER = {
    "provider": {"id": "100", "name": "DraftKings", "priority": 1},
    "details": "NY -1.5", "overUnder": 215.5, "spread": -1.5,
    "awayTeamOdds": {"favorite": False, "underdog": True, "moneyLine": 105, "teamId": "24"},
    "homeTeamOdds": {"favorite": True, "underdog": False, "moneyLine": -125, "teamId": "18"},
    "moneyline": {"home": {"close": {"odds": "-125"}, "open": {"odds": "-110"}},
                  "away": {"close": {"odds": "+105"}, "open": {"odds": "-110"}}},
}
#: Pregame scoreboards: when the Polymarket path starts and ESPN's scheduled tip.
PREGAME_MS = (1_780_957_200_000, 1_780_965_000_000)  # 2026-06-08T22:20Z, 2026-06-09T00:30Z
#: The final is placed this long after the last recorded scoring play (ESPN's end-of-game time was not read).
FINAL_AFTER_LAST_PLAY_MS = 60_000

KALSHI_WS_URL = "wss://api.elections.kalshi.com/trade-api/ws/v2"
KALSHI_TICKERS = ("KXNBAGAME-26JUN08SASNYK-NYK", "KXNBAGAME-26JUN08SASNYK-SAS")
KALSHI_SID = 1
#: Levels per side: the best and the one a cent behind (the recorded 1¢ band). The 5¢ band is left out: six
#: levels tripled the frames a top move takes, and the paper orders of a session never reach past 1¢ of depth.
KALSHI_LEVELS = 2
#: An exact recorded book wins over the digitized path within this window (the path's x error is < 1 s).
EXACT_WINDOW_MS = 3_000
#: The digitized mid must move this far from the quoted mid before the rounded book moves (no flicker on a boundary).
DIGITIZED_HYSTERESIS = 0.0075
#: At most one digitized book per market in this long (the chart's 1.6 s points would swamp the exact ones).
DIGITIZED_EVERY_MS = 30_000

POLY_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
POLY_MARKET = "2415863"  # gamma market id (the recorded prices-history cache names it)
POLY_SPURS_TOKEN = "103146822800955228694960469584465618974402104793575818808187047895725122181216"
POLY_LEVELS = 5
CENT = Decimal("0.01")


def iso_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ts_ms(text: str) -> int:
    """'2026-06-09 01:16:25.600000+00:00' → epoch ms (exact, no float)."""
    dt = datetime.fromisoformat(text)
    return int(dt.replace(tzinfo=timezone.utc).timestamp()) * 1000 + dt.microsecond // 1000


def cents(value: str | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Payload:
    """One raw payload at its receive time: what the replay hands the connector."""

    at: int
    source: str
    endpoint: str
    url: str
    body: str
    params: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        return json.dumps({"at": self.at, "source": self.source, "endpoint": self.endpoint, "url": self.url,
                           "params": dict(self.params), "body": self.body}, sort_keys=True)


# ------------------------------------------------------------------ ESPN


@dataclass(frozen=True)
class ScoringPlay:
    at: int
    period: int
    clock: str
    home: int
    away: int
    sequence: int
    text: str


def scoring_plays(shared: Path) -> list[ScoringPlay]:
    out = []
    with (shared / G3 / "scoring_events.csv").open() as f:
        for r in csv.DictReader(f):
            out.append(ScoringPlay(at=ts_ms(r["event_wall_ts"]), period=int(r["period"]), clock=r["clock"],
                                   home=int(r["post_home_points"]), away=int(r["post_away_points"]),
                                   sequence=int(r["action_number"]), text=r["description"]))
    return sorted(out, key=lambda p: (p.at, p.sequence))


def clock_seconds(display: str) -> float:
    m, _, s = display.partition(":")
    return float(Decimal(m) * 60 + Decimal(s or "0"))


def _status(kind: str, period: int = 0, clock: str = "0:00") -> dict[str, Any]:
    if kind == "pre":
        return {"clock": 0.0, "displayClock": "0.0", "period": 0,
                "type": {"id": "1", "name": "STATUS_SCHEDULED", "state": "pre", "completed": False,
                         "description": "Scheduled", "detail": "Mon, June 8th at 8:30 PM EDT",
                         "shortDetail": "6/8 - 8:30 PM EDT"}}
    if kind == "in":
        quarter = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}.get(period, f"OT{period - 4}")
        return {"clock": clock_seconds(clock), "displayClock": clock, "period": period,
                "type": {"id": "2", "name": "STATUS_IN_PROGRESS", "state": "in", "completed": False,
                         "description": "In Progress", "detail": f"{clock} - {quarter} Quarter",
                         "shortDetail": f"{clock} - {quarter}"}}
    return {"clock": 0.0, "displayClock": "0.0", "period": period,
            "type": {"id": "3", "name": "STATUS_FINAL", "state": "post", "completed": True, "description": "Final",
                     "detail": "Final", "shortDetail": "Final"}}


def scoreboard(status: dict[str, Any], home: int | None, away: int | None, *, odds: bool) -> str:
    """A site-API NBA scoreboard holding this one game, in ESPN's shape (fixtures/espn/nba_scoreboard_*.json)."""
    final = status["type"]["name"] == "STATUS_FINAL"

    def side(team: dict[str, str], role: str, order: int, score: int | None, won: bool) -> dict[str, Any]:
        c: dict[str, Any] = {"id": team["id"], "type": "team", "order": order, "homeAway": role,
                             "team": {**team, "isActive": True}, "score": "" if score is None else str(score)}
        if final:
            c["winner"] = won
        return c

    comp: dict[str, Any] = {
        "id": ESPN_ID, "date": TIP_ISO, "neutralSite": False, "playByPlayAvailable": True,
        "competitors": [side(HOME, "home", 0, home, (home or 0) > (away or 0)),
                        side(AWAY, "away", 1, away, (away or 0) > (home or 0))],
        "status": status,
        "notes": [{"type": "event", "headline": "NBA Finals - Game 3"}],
    }
    if odds:
        comp["odds"] = [PICKCENTER]
    event = {"id": ESPN_ID, "date": TIP_ISO, "name": "San Antonio Spurs at New York Knicks", "shortName": "SA @ NY",
             "season": {"year": 2026, "type": 3, "slug": "post-season"}, "competitions": [comp], "status": status}
    body = {"leagues": [{"id": "46", "abbreviation": "NBA", "name": "National Basketball Association"}],
            "season": {"type": 3, "year": 2026}, "day": {"date": "2026-06-08"}, "events": [event]}
    return json.dumps(body, sort_keys=True)


def espn_payloads(plays: list[ScoringPlay]) -> list[Payload]:
    params = (("dates", "20260608"),)
    out = [Payload(at, "espn", "scoreboard", SCOREBOARD_URL, scoreboard(_status("pre"), None, None, odds=True), params)
           for at in PREGAME_MS]
    for p in plays:
        out.append(Payload(p.at, "espn", "scoreboard", SCOREBOARD_URL,
                           scoreboard(_status("in", p.period, p.clock), p.home, p.away, odds=False), params))
    last = plays[-1]
    out.append(Payload(last.at + FINAL_AFTER_LAST_PLAY_MS, "espn", "scoreboard", SCOREBOARD_URL,
                       scoreboard(_status("final", last.period), last.home, last.away, odds=False), params))
    return out


# ------------------------------------------------------------------ Kalshi


@dataclass(frozen=True)
class Top:
    """A yes bid/ask seen at `at`; `exact` when a recorder saw it (not read off the chart)."""

    at: int
    bid: Decimal
    ask: Decimal
    exact: bool


def recorded_tops(shared: Path) -> dict[str, list[Top]]:
    """Every book the REST and websocket recorders captured around scoring plays, at its capture time."""
    tops: dict[str, set[Top]] = {t: set() for t in KALSHI_TICKERS}
    for name in ("event_reactions.csv", "ws_event_reactions.csv"):
        with (shared / G3 / name).open() as f:
            for r in csv.DictReader(f):
                event = ts_ms(r["event_wall_ts"])
                pre = event - int(Decimal(r["pre_capture_lag_ms"]))
                tops[r["ticker"]].add(Top(pre, cents(r["pre_yes_bid"]), cents(r["pre_yes_ask"]), True))
                if r["post_yes_bid"] and r["post_capture_lag_ms"]:
                    post = event + int(Decimal(r["post_capture_lag_ms"]))
                    tops[r["ticker"]].add(Top(post, cents(r["post_yes_bid"]), cents(r["post_yes_ask"]), True))
    return {t: sorted(v, key=lambda x: (x.at, x.bid, x.ask)) for t, v in tops.items()}


def digitized_tops(shared: Path, exact: dict[str, list[Top]]) -> dict[str, list[Top]]:
    """The digitized mid path as 1-cent books, away from exact observations, only when it really moves."""
    mids: dict[str, list[tuple[int, Decimal]]] = {t: [] for t in KALSHI_TICKERS}
    with (shared / G3 / "kalshi_mid_path_DIGITIZED_from_price_series_svg.csv").open() as f:
        for r in csv.DictReader(f):
            mids[r["ticker"]].append((int(Decimal(r["t_unix_approx"]) * 1000), Decimal(r["mid_approx"])))
    out: dict[str, list[Top]] = {}
    for t, points in mids.items():
        seen = [x.at for x in exact[t]]
        tops: list[Top] = []
        quoted: Decimal | None = None
        last_at = -DIGITIZED_EVERY_MS
        j = 0
        for at, mid in sorted(points):
            while j < len(seen) and seen[j] < at - EXACT_WINDOW_MS:
                j += 1
            near_exact = j < len(seen) and abs(seen[j] - at) <= EXACT_WINDOW_MS
            if near_exact:
                quoted = None  # after an exact book, the path must re-establish itself
                continue
            bid = (mid - Decimal("0.005")).quantize(CENT, rounding=ROUND_HALF_EVEN)
            if quoted is not None and abs(mid - quoted) <= Decimal(str(DIGITIZED_HYSTERESIS)):
                continue
            if at - last_at < DIGITIZED_EVERY_MS:
                continue
            if Decimal("0.01") <= bid <= Decimal("0.98"):
                tops.append(Top(at, bid, bid + CENT, False))
                quoted = bid + Decimal("0.005")
                last_at = at
        out[t] = tops
    return out


def kalshi_depth(shared: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per market: contracts per level (1¢ band, 2–5¢ band) on the bid and ask side, from recorded REST depth.

    `premium_1c` is Σ price·size over the best level and the one a cent behind it, `premium_5c`
    over the best and the five cents behind it. Each band's notional is split evenly over its
    levels (2, and 4 for the 5¢ band beyond the 1¢ one) and turned
    into contracts at the observation's best price; the median over the recording is kept.
    """
    bands: dict[str, list[tuple[float, float, float, float]]] = {t: [] for t in KALSHI_TICKERS}
    with (shared / G3 / "event_reactions.csv").open() as f:
        for r in csv.DictReader(f):
            if r["horizon_ms"] != "1000":  # each pre book once
                continue
            bid, ask = float(cents(r["pre_yes_bid"])), float(cents(r["pre_yes_ask"]))
            b1, b5 = float(r["pre_sell_premium_1c"]), float(r["pre_sell_premium_5c"])
            a1, a5 = float(r["pre_buy_premium_1c"]), float(r["pre_buy_premium_5c"])
            bands[r["ticker"]].append((b1 / 2 / bid, (b5 - b1) / 4 / bid, a1 / 2 / ask, (a5 - a1) / 4 / ask))
    return {t: tuple(int(statistics.median(x[i] for x in rows)) for i in range(4))  # type: ignore[misc]
            for t, rows in bands.items()}


def kalshi_book(top: Top, depth: tuple[int, int, int, int]) -> tuple[dict[Decimal, int], dict[Decimal, int]]:
    """(yes bids, no bids) price → contracts. A YES ask at a is a NO bid at 1 − a."""
    bid1, bid5, ask1, ask5 = depth
    yes = {top.bid - CENT * i: (bid1 if i < 2 else bid5) for i in range(KALSHI_LEVELS)}
    no = {Decimal(1) - top.ask - CENT * i: (ask1 if i < 2 else ask5) for i in range(KALSHI_LEVELS)}  # 1 − ask: NO bids
    keep = lambda side: {p: n for p, n in side.items() if Decimal("0") < p < Decimal("1") and n > 0}  # noqa: E731
    return keep(yes), keep(no)


def _levels(side: dict[Decimal, int]) -> list[list[str]]:
    return [[f"{p:.4f}", f"{n}.00"] for p, n in sorted(side.items())]


def kalshi_payloads(shared: Path, until_ms: int) -> list[Payload]:
    exact = recorded_tops(shared)
    digitized = digitized_tops(shared, exact)
    depth = kalshi_depth(shared)
    tops = sorted(((top.at, t, top) for t in KALSHI_TICKERS for top in exact[t] + digitized[t] if top.at <= until_ms),
                  key=lambda x: (x[0], x[1], x[2].bid, x[2].ask))
    out: list[Payload] = []
    seq = 0
    books: dict[str, tuple[dict[Decimal, int], dict[Decimal, int]]] = {}

    def frame(at: int, body: dict[str, Any]) -> None:
        out.append(Payload(at, "kalshi", "ws", KALSHI_WS_URL, json.dumps(body, sort_keys=True)))

    for at, ticker, top in tops:
        if top.bid >= top.ask:
            continue  # a crossed or locked capture cannot be a resting book
        yes, no = kalshi_book(top, depth[ticker])
        if ticker not in books:
            if not books:
                frame(at, {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": KALSHI_SID}})
            seq += 1
            frame(at, {"type": "orderbook_snapshot", "sid": KALSHI_SID, "seq": seq,
                       "msg": {"market_ticker": ticker, "yes_dollars_fp": _levels(yes), "no_dollars_fp": _levels(no)}})
            books[ticker] = (yes, no)
            continue
        old_yes, old_no = books[ticker]
        changes: list[tuple[int, str, Decimal, int]] = []
        for side, old, new in (("yes", old_yes, yes), ("no", old_no, no)):
            for p in sorted(set(old) | set(new)):
                d = new.get(p, 0) - old.get(p, 0)
                if d:
                    # removals first, then additions: the book is never crossed in between
                    changes.append((0 if new.get(p, 0) < old.get(p, 0) else 1, side, p, d))
        for _, side, p, d in sorted(changes, key=lambda c: (c[0], c[1], c[2])):
            seq += 1
            frame(at, {"type": "orderbook_delta", "sid": KALSHI_SID, "seq": seq,
                       "msg": {"market_ticker": ticker, "price_dollars": f"{p:.4f}", "delta_fp": f"{d}.00",
                               "side": side, "ts": iso_ms(at)}})
        books[ticker] = (yes, no)
    return out


# ------------------------------------------------------------------ Polymarket


def poly_depth(shared: Path) -> list[str]:
    """Sizes of the five best levels of a recorded CLOB book, best first (used on every side)."""
    book = json.loads((shared / POLY_DEPTH_BOOK).read_text())
    bids = sorted(book["bids"], key=lambda lv: Decimal(lv["price"]), reverse=True)
    return [lv["size"] for lv in bids[:POLY_LEVELS]]


def poly_top(p: Decimal) -> tuple[Decimal, Decimal]:
    """Best bid/ask around a recorded mid: one tick wide on a half cent, two on a whole cent, inside (0, 1)."""
    half = Decimal("0.005")
    if (p / half) % 2 == 1:
        bid, ask = p - half, p + half
    else:
        bid, ask = p - CENT, p + CENT
    return max(bid.quantize(CENT), CENT), min(ask.quantize(CENT), Decimal("0.99"))


def _poly_book(asset: str, market: str, bid: Decimal, ask: Decimal, sizes: list[str], at: int) -> dict[str, Any]:
    bids = [{"price": str((bid - CENT * i).normalize()), "size": s} for i, s in enumerate(sizes) if bid - CENT * i > 0]
    asks = [{"price": str((ask + CENT * i).normalize()), "size": s} for i, s in enumerate(sizes) if ask + CENT * i < 1]
    return {"event_type": "book", "asset_id": asset, "market": market, "bids": bids[::-1], "asks": asks[::-1],
            "timestamp": str(at), "tick_size": "0.001", "hash": ""}


def poly_payloads(shared: Path, condition_id: str, spurs_token: str, knicks_token: str, until_ms: int) -> list[Payload]:
    sizes = poly_depth(shared)
    out: list[Payload] = []
    last: tuple[Decimal, Decimal] | None = None
    with (shared / POLY_PATH).open() as f:
        for r in csv.DictReader(f):
            at = int(r["t_unix"]) * 1000
            if at > until_ms:
                break
            bid, ask = poly_top(Decimal(r["price"]))
            if (bid, ask) == last:
                continue
            last = (bid, ask)
            frame = [_poly_book(spurs_token, condition_id, bid, ask, sizes, at),
                     _poly_book(knicks_token, condition_id, Decimal(1) - ask, Decimal(1) - bid, sizes, at)]
            out.append(Payload(at, "polymarket", "ws/market", POLY_WS_URL, json.dumps(frame, sort_keys=True)))
    return out


# ------------------------------------------------------------------ listings (the `pairing` work) and the whole

KALSHI_MARKETS_URL = "https://api.elections.kalshi.com/trade-api/v2/markets"
GAMMA_MARKETS_URL = "https://gamma-api.polymarket.com/markets"
#: Listings are fetched before the first scoreboard; the settled ones after the final plus
#: Kalshi's `settlement_timer_seconds` (300 s in the listing).
LISTED_BEFORE_MS = 120_000
SETTLED_AFTER_FINAL_MS = 300_000


def listing_payloads(session: Path, first_ms: int, final_ms: int) -> list[Payload]:
    """One REST answer per market: Kalshi `GET /markets?tickers=T`, Gamma `GET /markets?id=N`."""
    folder = session / "listings"
    out: list[Payload] = []
    for state, at in (("active", first_ms - LISTED_BEFORE_MS), ("finalized", final_ms + SETTLED_AFTER_FINAL_MS)):
        page = json.loads((folder / f"kalshi_markets_KXNBAGAME-26JUN08SASNYK_{state}.json").read_text())
        for i, m in enumerate(sorted(page["markets"], key=lambda m: m["ticker"])):
            out.append(Payload(at + i, "kalshi", "markets", KALSHI_MARKETS_URL,
                               json.dumps({"cursor": "", "markets": [m]}, sort_keys=True), (("tickers", m["ticker"]),)))
    for state, at in (("open", first_ms - LISTED_BEFORE_MS + 10), ("closed", final_ms + SETTLED_AFTER_FINAL_MS + 10)):
        m = json.loads((folder / f"polymarket_gamma_market_{POLY_MARKET}_{state}.json").read_text())
        out.append(Payload(at, "polymarket", "markets", GAMMA_MARKETS_URL, json.dumps([m], sort_keys=True),
                           (("id", POLY_MARKET),)))
    return out


def polymarket_tokens(session: Path) -> tuple[str, str, str]:
    """(condition id, Spurs token, Knicks token) from the session's Gamma market object."""
    m = json.loads((session / "listings" / f"polymarket_gamma_market_{POLY_MARKET}_open.json").read_text())
    by_name = dict(zip(json.loads(m["outcomes"]), json.loads(m["clobTokenIds"])))
    if by_name["Spurs"] != POLY_SPURS_TOKEN:
        raise SystemExit(f"the listing's Spurs token {by_name['Spurs']} is not the recorded one {POLY_SPURS_TOKEN}")
    return str(m["conditionId"]), by_name["Spurs"], by_name["Knicks"]


def distinct_times(payloads: list[Payload]) -> list[Payload]:
    """Feed order, and no two streams (source, market) share a millisecond: a later one moves 1 ms on.

    Both backtest engines break event-time ties by partition, the broker by arrival; distinct
    times make the two orders one. Frames of one burst (Kalshi deltas of one book change)
    keep their shared time. Kalshi deltas carry their time in the body, so it is rewritten too.
    """
    rank = {"espn": 0, "kalshi": 1, "polymarket": 2}
    ordered = [p for _, p in sorted(enumerate(payloads), key=lambda ip: (ip[1].at, rank[ip[1].source], ip[0]))]
    out: list[Payload] = []
    last_at, last_stream = -1, None
    shift = 0
    for p in ordered:
        stream = (p.source, p.endpoint, _market_of(p))
        at = p.at
        if stream == last_stream and p.at + shift == last_at:
            at = last_at
        elif at <= last_at:
            at = last_at + 1
        shift = at - p.at
        if at != p.at and p.source == "kalshi" and p.endpoint == "ws":
            p = Payload(at, p.source, p.endpoint, p.url, p.body.replace(f'"ts": "{iso_ms(p.at)}"', f'"ts": "{iso_ms(at)}"'),
                        p.params)
        else:
            p = Payload(at, p.source, p.endpoint, p.url, p.body, p.params)
        out.append(p)
        last_at, last_stream = at, stream
    return out


def _market_of(p: Payload) -> str:
    if p.source == "kalshi" and p.endpoint == "ws":
        return str(json.loads(p.body).get("msg", {}).get("market_ticker", ""))
    return dict(p.params).get("tickers", "")


def build(shared: Path, out: Path) -> int:
    plays = scoring_plays(shared)
    espn = espn_payloads(plays)
    final_at = espn[-1].at
    condition, spurs, knicks = polymarket_tokens(out)
    payloads = (listing_payloads(out, espn[0].at, final_at) + espn + kalshi_payloads(shared, final_at)
                + poly_payloads(shared, condition, spurs, knicks, final_at))
    payloads = distinct_times(payloads)
    (out / "feed.ndjson").write_text("".join(p.line() + "\n" for p in payloads))
    return len(payloads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=SESSION)
    args = ap.parse_args()
    n = build(args.shared, args.out)
    print(f"{args.out / 'feed.ndjson'}: {n} payloads")


if __name__ == "__main__":
    main()
