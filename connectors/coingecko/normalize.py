"""CoinGecko answers -> spot EventStates, pure. The receive time is an argument, never the clock.

A spot state is one price of one coin in one quote currency at the time the
price is for (a market_chart point's own timestamp; /simple/price's
`last_updated_at`, else the receive time). Its event id is
`crypto:<symbol>:<vs>:spot`; `features["price"]` holds the price. The
price-target events are built from these downstream (streams/crypto/targets.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from connectors.coingecko.errors import BadPayload
from schemas.enums import EventStatus, MarketType
from schemas.records import LONG, EventState

SOURCE = "coingecko"

#: CoinGecko coin id -> (symbol, name) for the assets the venues list price markets on.
COINS: dict[str, tuple[str, str]] = {
    "bitcoin": ("btc", "Bitcoin"),
    "ethereum": ("eth", "Ethereum"),
    "solana": ("sol", "Solana"),
    "ripple": ("xrp", "XRP"),
    "dogecoin": ("doge", "Dogecoin"),
    "binancecoin": ("bnb", "BNB"),
    "dai": ("dai", "Dai"),
    "terra-luna": ("luna", "Terra"),
}


@dataclass(frozen=True)
class Price:
    coin_id: str
    vs: str
    ts: int
    price: float


def parse_body(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadPayload("body", f"not JSON: {exc}") from exc


def _price(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise BadPayload(where, f"expected a positive price, got {value!r}")
    return float(value)


def _epoch_ms(value: float, where: str, per_unit: int = 1) -> int:
    """A time in seconds (`per_unit` 1000) or milliseconds as epoch milliseconds a record can hold."""
    if not math.isfinite(value) or not 0 <= value * per_unit < LONG.stop:
        raise BadPayload(where, f"{value!r} is not a time")
    return int(value * per_unit) if per_unit == 1 else int(value) * per_unit


def simple_prices(payload: Any, fetched_at: int) -> list[Price]:
    """`{"bitcoin": {"usd": 97000.1, "usd_last_updated_at"|"last_updated_at": 1737..}, ...}`."""
    if not isinstance(payload, dict) or not payload:
        raise BadPayload("simple_price", "expected a non-empty object of coins")
    out = []
    for coin, quotes in sorted(payload.items()):
        if not isinstance(quotes, dict):
            raise BadPayload(f"simple_price.{coin}", "expected an object of currencies")
        updated = quotes.get("last_updated_at")
        ts = (_epoch_ms(updated, f"simple_price.{coin}.last_updated_at", 1000)
              if isinstance(updated, (int, float)) and not isinstance(updated, bool) else fetched_at)
        for vs, value in sorted(quotes.items()):
            if vs == "last_updated_at" or vs.endswith(("_market_cap", "_24h_vol", "_24h_change")):
                continue
            out.append(Price(coin, vs, ts, _price(value, f"simple_price.{coin}.{vs}")))
    return out


def chart_prices(payload: Any, coin_id: str, vs: str) -> list[Price]:
    """`{"prices": [[ms, price], ...], "market_caps": ..., "total_volumes": ...}`, oldest first."""
    if not isinstance(payload, dict) or not isinstance(payload.get("prices"), list):
        raise BadPayload("market_chart.prices", "expected a list of [ms, price] pairs")
    out: list[Price] = []
    for i, point in enumerate(payload["prices"]):
        if not (isinstance(point, list) and len(point) == 2 and isinstance(point[0], (int, float))):
            raise BadPayload(f"market_chart.prices[{i}]", f"expected [ms, price], got {point!r}")
        ts = _epoch_ms(point[0], f"market_chart.prices[{i}][0]")
        if out and ts <= out[-1].ts:
            raise BadPayload(f"market_chart.prices[{i}]", "timestamps must increase")
        out.append(Price(coin_id, vs, ts, _price(point[1], f"market_chart.prices[{i}][1]")))
    return out


def spot_event_id(coin_id: str, vs: str) -> str:
    return f"crypto:{COINS.get(coin_id, (coin_id, ''))[0]}:{vs.lower()}:spot"


def spot_state(p: Price) -> EventState:
    symbol, name = COINS.get(p.coin_id, (p.coin_id, p.coin_id))
    return EventState(
        state_id=f"{SOURCE}:{p.coin_id}:{p.vs}:{p.ts}",
        event_id=spot_event_id(p.coin_id, p.vs),
        ts=p.ts,
        source=SOURCE,
        market_type=MarketType.CRYPTO,
        league=symbol,
        name=f"{name} in {p.vs.upper()}",
        status=EventStatus.LIVE,
        entity_a=name,
        entity_a_abbr=symbol.upper(),
        entity_a_id=p.coin_id,
        entity_b=p.vs.upper(),
        features={"price": p.price},
    )
