"""Gamma API (https://gamma-api.polymarket.com): events and markets, typed, with pagination.

Field names are those of the recorded payloads (gamma_events_*.json,
gamma_market_sports_moneyline_cs2_closed.json). Gamma writes some lists as JSON
inside strings (`outcomes`, `clobTokenIds`, `outcomePrices`); they are decoded
here so nothing downstream sees that quirk.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from connectors.polymarket.errors import BadPayload, MissingFeeInfo, NotBinary
from connectors.polymarket.http import RawResponse, Retry, get_raw, wall_clock_ms
from connectors.polymarket.messages import to_micros

GAMMA_URL = "https://gamma-api.polymarket.com"
PAGE_LIMIT = 100


@dataclass(frozen=True)
class FeeParams:
    """Per-market fee curve: fee = C · rate · (p(1−p))^exponent, takers only unless stated."""

    taker_rate: float
    maker_rate: float
    exponent: float
    source: str  # which field the numbers came from


@dataclass(frozen=True)
class GammaMarket:
    market_id: str  # gamma's numeric id
    condition_id: str
    question: str
    slug: str
    outcomes: tuple[str, ...]
    token_ids: tuple[str, ...]
    tick_micros: int
    min_order_size: float
    neg_risk: bool
    fees: FeeParams
    active: bool
    closed: bool
    accepting_orders: bool
    enable_order_book: bool
    group_item_title: str
    description: str
    resolution_source: str
    start_ts: int | None
    end_ts: int | None
    closed_ts: int | None
    outcome_prices: tuple[str, ...]
    sports_market_type: str | None
    event_id: str  # the enclosing event; "" when gamma gave none
    uma_status: str = ""  # umaResolutionStatus: "proposed", "disputed", "resolved"; "" when gamma gave none
    game_start_ts: int | None = None  # `gameStartTime` of a sports market: the scheduled start


@dataclass(frozen=True)
class Rejected:
    """A part of a payload refused with its reason, for the dead-letter topic."""

    payload: bytes
    error: BaseException


@dataclass(frozen=True)
class GammaEvent:
    event_id: str
    slug: str
    title: str
    series_slug: str
    tag_slugs: tuple[str, ...]
    is_sport: bool
    markets: tuple[GammaMarket, ...] = ()
    rejected: tuple[Rejected, ...] = ()


def iso_ms(text: Any) -> int | None:
    """Gamma's ISO-8601 times ("2026-04-05T21:10:00Z", "2026-04-05 19:37:33+00") as epoch ms."""
    if not text:
        return None
    s = str(text).replace("Z", "+00:00")
    if s.endswith("+00"):
        s += ":00"
    try:
        return int(datetime.fromisoformat(s).timestamp() * 1000)
    except ValueError as exc:
        raise BadPayload(f"time {text!r} is not ISO-8601") from exc


def _json_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadPayload(f"{name} is not a JSON list: {value[:60]!r}") from exc
    if not isinstance(value, list):
        raise BadPayload(f"{name} is not a list")
    return tuple(str(v) for v in value)


def _opt_str(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadPayload(f"{name} is a {type(value).__name__}, not a string")


def parse_fee_params(m: dict[str, Any]) -> FeeParams:
    """Read the market's own fee fields; never default to zero.

    `feeSchedule` {rate, exponent, takerOnly} is what fee-charging markets carry
    (recorded CS2 moneyline). `feesEnabled: false` is the venue saying the market
    charges no fee (recorded crypto and neg-risk markets). Anything else is refused.
    """
    schedule = m.get("feeSchedule")
    if isinstance(schedule, dict):
        try:
            rate = float(schedule["rate"])
            exponent = float(schedule["exponent"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MissingFeeInfo(f"feeSchedule lacks a numeric rate/exponent: {schedule}") from exc
        if rate < 0 or exponent <= 0:
            raise MissingFeeInfo(f"feeSchedule has an impossible rate/exponent: {schedule}")
        if schedule.get("takerOnly") is not True:
            raise MissingFeeInfo(f"feeSchedule is not taker-only and publishes no maker rate: {schedule}")
        return FeeParams(taker_rate=rate, maker_rate=0.0, exponent=exponent, source="feeSchedule")
    if m.get("feesEnabled") is False:
        return FeeParams(taker_rate=0.0, maker_rate=0.0, exponent=1.0, source="feesEnabled=false")
    raise MissingFeeInfo(
        f"market {m.get('conditionId') or m.get('id')} has neither feeSchedule nor feesEnabled=false"
    )


def parse_gamma_market(m: dict[str, Any], event_id: str = "") -> GammaMarket:
    if not isinstance(m, dict):
        raise BadPayload("market is not an object")
    try:
        outcomes = _json_list(m.get("outcomes"), "outcomes")
        tokens = _json_list(m.get("clobTokenIds"), "clobTokenIds")
        cid = str(m["conditionId"])
        if len(outcomes) != 2 or len(tokens) != 2:
            raise NotBinary(f"market {cid} has {len(outcomes)} outcomes and {len(tokens)} tokens, not 2 and 2")
        tick = m.get("orderPriceMinTickSize")
        if tick is None:
            raise BadPayload(f"market {cid} has no orderPriceMinTickSize")
        tick_micros = to_micros(repr(float(tick)) if isinstance(tick, float) else tick, "tick size")
        if tick_micros <= 0:
            raise BadPayload(f"market {cid} has tick size {tick}")
        if not event_id:
            events = m.get("events")
            if isinstance(events, list) and events and isinstance(events[0], dict):
                event_id = str(events[0].get("id", ""))
        return GammaMarket(
            market_id=str(m["id"]),
            condition_id=cid,
            question=str(m.get("question", "")),
            slug=str(m.get("slug", "")),
            outcomes=outcomes,
            token_ids=tokens,
            tick_micros=tick_micros,
            min_order_size=float(m.get("orderMinSize", 0) or 0),
            neg_risk=bool(m.get("negRisk", False)),
            fees=parse_fee_params(m),
            active=bool(m.get("active", False)),
            closed=bool(m.get("closed", False)),
            accepting_orders=bool(m.get("acceptingOrders", False)),
            enable_order_book=bool(m.get("enableOrderBook", False)),
            group_item_title=str(m.get("groupItemTitle") or ""),
            description=str(m.get("description") or ""),
            resolution_source=str(m.get("resolutionSource") or ""),
            start_ts=iso_ms(m.get("eventStartTime") or m.get("startDate")),
            end_ts=iso_ms(m.get("endDate")),
            closed_ts=iso_ms(m.get("closedTime")),
            outcome_prices=_json_list(m.get("outcomePrices"), "outcomePrices"),
            sports_market_type=_opt_str(m.get("sportsMarketType"), "sportsMarketType"),
            event_id=event_id,
            uma_status=str(m.get("umaResolutionStatus") or ""),
            game_start_ts=iso_ms(m.get("gameStartTime")),
        )
    except KeyError as exc:
        raise BadPayload(f"market lacks field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise BadPayload(f"malformed market: {exc}") from exc


def _listed(e: dict[str, Any], name: str) -> list[Any]:
    """An event's list field (`tags`, `markets`), absent or null as empty; any other type refuses the event."""
    value = e.get(name) or []
    if not isinstance(value, list):
        raise BadPayload(f"event {name} is a {type(value).__name__}, not a list")
    return value


def _event_meta(e: dict[str, Any]) -> tuple[str, str, tuple[str, ...], bool]:
    tags = tuple(str(t.get("slug", "")) for t in _listed(e, "tags") if isinstance(t, dict))
    is_sport = "gameId" in e or "sports" in tags
    return str(e.get("id", "")), str(e.get("seriesSlug") or ""), tags, is_sport


def parse_gamma_event(e: dict[str, Any]) -> GammaEvent:
    """One event with its markets; a bad market is kept aside, not fatal for the event."""
    if not isinstance(e, dict) or "id" not in e:
        raise BadPayload("event is not an object with an id")
    event_id, series_slug, tags, is_sport = _event_meta(e)
    markets: list[GammaMarket] = []
    rejected: list[Rejected] = []
    for m in _listed(e, "markets"):
        try:
            markets.append(parse_gamma_market(m, event_id))
        except BadPayload as exc:
            rejected.append(Rejected(json.dumps(m, sort_keys=True).encode(), exc))
    return GammaEvent(
        event_id=event_id,
        slug=str(e.get("slug", "")),
        title=str(e.get("title", "")),
        series_slug=series_slug,
        tag_slugs=tags,
        is_sport=is_sport,
        markets=tuple(markets),
        rejected=tuple(rejected),
    )


def event_of_market(m: dict[str, Any]) -> GammaEvent:
    """The enclosing event of a standalone /markets object (its nested `events[0]`), no markets."""
    events = m.get("events")
    e = events[0] if isinstance(events, list) and events and isinstance(events[0], dict) else {}
    event_id, series_slug, tags, is_sport = _event_meta(e)
    return GammaEvent(event_id, str(e.get("slug", "")), str(e.get("title", "")), series_slug, tags,
                      is_sport or m.get("sportsMarketType") is not None)


@dataclass(frozen=True)
class GammaPage:
    """One page as answered; `error` says why an unreadable page has no items (it ends the paging)."""

    raw: RawResponse
    items: list[Any] = field(default_factory=list)
    error: BadPayload | None = None


class GammaClient:
    """Async Gamma client; it never opens a connection in its constructor's caller's stead."""

    def __init__(self, http: httpx.AsyncClient, base_url: str = GAMMA_URL, clock: Callable[[], int] = wall_clock_ms,
                 page_limit: int = PAGE_LIMIT, retry: Retry | None = None) -> None:
        self._http = http
        self._retry = retry or Retry()
        self.base_url = base_url
        self._clock = clock
        self.page_limit = page_limit

    async def _pages(self, path: str, endpoint: str, params: dict[str, Any]) -> AsyncIterator[GammaPage]:
        offset = 0
        while True:
            raw = await get_raw(self._http, self.base_url, path, endpoint,
                                {**params, "limit": self.page_limit, "offset": offset}, self._clock, self._retry)
            try:
                items = json.loads(raw.body)
            except (json.JSONDecodeError, RecursionError):
                yield GammaPage(raw, error=BadPayload(f"{endpoint} page at offset {offset} is not JSON"))
                return
            if not isinstance(items, list):
                yield GammaPage(raw, error=BadPayload(f"{endpoint} page at offset {offset} is not a list"))
                return
            yield GammaPage(raw, items)
            if len(items) < self.page_limit:
                return
            offset += len(items)

    def events(self, *, active: bool = True, closed: bool = False, **filters: Any) -> AsyncIterator[GammaPage]:
        """Pages of /events (newest first); items are raw event objects for parse_gamma_event."""
        params = {"active": active, "closed": closed, "order": "id", "ascending": False, **filters}
        return self._pages("/events", "events", params)

    def markets(self, **filters: Any) -> AsyncIterator[GammaPage]:
        """Pages of /markets; items are raw market objects for parse_gamma_market."""
        return self._pages("/markets", "markets", dict(filters))
