"""CLOB REST market data (https://clob.polymarket.com): /book, /prices-history, /clob-markets.

/book has the recorded shape of clob_book_2026-01-04.json (note: its bids come
ascending and its asks descending, the opposite of best-first; LocalBook sorts).
/prices-history answers {"history": [{"t": seconds, "p": price}]}
(prices_history_doc_example.json). /clob-markets/{condition_id} has no recording;
its compact fields are documented at
docs.polymarket.com/api-reference/markets/get-clob-market-info and the doc
example is kept as clob_market_info_doc_example.json: `t` tokens [{t, o}],
`mos` min order size, `mts` tick, `mbf`/`tbf` maker/taker base fee bps,
`fd` fee curve {r: rate, e: exponent, to: taker only}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.polymarket.errors import BadPayload, MissingFeeInfo
from connectors.polymarket.gamma import FeeParams
from connectors.polymarket.http import RawResponse, Retry, get_raw, wall_clock_ms
from connectors.polymarket.messages import BookMsg, parse_book, to_micros

CLOB_URL = "https://clob.polymarket.com"


@dataclass(frozen=True)
class PricePoint:
    ts: int  # epoch ms
    price: float


@dataclass(frozen=True)
class ClobToken:
    token_id: str
    outcome: str


@dataclass(frozen=True)
class ClobMarketInfo:
    condition_id: str
    tokens: tuple[ClobToken, ...]
    tick_micros: int
    min_order_size: float
    maker_base_fee_bps: int | None
    taker_base_fee_bps: int | None
    fees: FeeParams
    neg_risk: bool | None  # absent from the documented example; None = not stated


def parse_book_answer(raw: RawResponse) -> BookMsg:
    """A /book answer as a snapshot; BadPayload when it is not one."""
    obj = _json(raw)
    if not isinstance(obj, dict):
        raise BadPayload(f"book answer is a {type(obj).__name__}, not an object")
    try:
        return parse_book(obj)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadPayload(f"malformed book answer: {exc}") from exc


def _json(raw: RawResponse) -> Any:
    try:
        return json.loads(raw.body)
    except json.JSONDecodeError as exc:
        raise BadPayload(f"{raw.endpoint} answer is not JSON") from exc


def parse_prices_history(obj: Any) -> list[PricePoint]:
    """Points of a price history; a price outside [0, 1] is refused, not clipped."""
    if not isinstance(obj, dict) or not isinstance(obj.get("history"), list):
        raise BadPayload("prices-history answer lacks a history list")
    points = []
    for item in obj["history"]:
        try:
            t, p = int(item["t"]), float(item["p"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadPayload(f"bad history point {item!r}") from exc
        if not 0.0 <= p <= 1.0:
            raise BadPayload(f"history price {p} at t={t} is not a probability")
        points.append(PricePoint(ts=t * 1000, price=p))
    return points


def parse_clob_market_info(condition_id: str, obj: Any) -> ClobMarketInfo:
    """The market's CLOB parameters; a missing fee curve is an error, never a zero fee."""
    if not isinstance(obj, dict):
        raise BadPayload("clob-markets answer is not an object")
    try:
        tokens = tuple(ClobToken(str(t["t"]), str(t.get("o", ""))) for t in obj["t"] if t)
        tick = to_micros(obj["mts"], "mts")
        mos = float(obj["mos"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadPayload(f"clob-markets answer for {condition_id} is malformed: {exc}") from exc
    fd = obj.get("fd")
    if not isinstance(fd, dict) or "r" not in fd or "e" not in fd:
        raise MissingFeeInfo(f"clob-markets answer for {condition_id} has no fee curve (fd.r, fd.e)")
    rate, exponent = float(fd["r"]), float(fd["e"])
    if fd.get("to") is not True:
        raise MissingFeeInfo(f"fee curve of {condition_id} is not taker-only and publishes no maker rate")
    nr = obj.get("nr")
    return ClobMarketInfo(
        condition_id=condition_id,
        tokens=tokens,
        tick_micros=tick,
        min_order_size=mos,
        maker_base_fee_bps=int(obj["mbf"]) if "mbf" in obj else None,
        taker_base_fee_bps=int(obj["tbf"]) if "tbf" in obj else None,
        fees=FeeParams(taker_rate=rate, maker_rate=0.0, exponent=exponent, source="clob-markets fd"),
        neg_risk=nr if isinstance(nr, bool) else None,
    )


class ClobClient:
    """Public CLOB market data; every call returns the raw answer with the parsed one."""

    def __init__(self, http: httpx.AsyncClient, base_url: str = CLOB_URL,
                 clock: Callable[[], int] = wall_clock_ms, retry: Retry | None = None) -> None:
        self._http = http
        self.base_url = base_url
        self._clock = clock
        self._retry = retry or Retry()

    async def book(self, token_id: str) -> tuple[RawResponse, BookMsg]:
        raw = await self.book_answer(token_id)
        return raw, parse_book_answer(raw)

    async def book_answer(self, token_id: str) -> RawResponse:
        """The /book answer unparsed (the feed publishes it before reading it)."""
        return await get_raw(self._http, self.base_url, "/book", "book", {"token_id": token_id}, self._clock, self._retry)

    async def prices_history(self, token_id: str, *, start_ts: int | None = None, end_ts: int | None = None,
                             interval: str | None = None, fidelity: int | None = None,
                             ) -> tuple[RawResponse, list[PricePoint]]:
        """History of one token; times in epoch ms here, seconds on the wire."""
        params: dict[str, Any] = {"market": token_id}
        if start_ts is not None:
            params["startTs"] = start_ts // 1000
        if end_ts is not None:
            params["endTs"] = end_ts // 1000
        if interval is not None:
            params["interval"] = interval
        if fidelity is not None:
            params["fidelity"] = fidelity
        raw = await get_raw(self._http, self.base_url, "/prices-history", "prices-history", params, self._clock, self._retry)
        return raw, parse_prices_history(_json(raw))

    async def market_info(self, condition_id: str) -> tuple[RawResponse, ClobMarketInfo]:
        raw = await get_raw(self._http, self.base_url, f"/clob-markets/{condition_id}", "clob-markets", None,
                            self._clock, self._retry)
        return raw, parse_clob_market_info(condition_id, _json(raw))
