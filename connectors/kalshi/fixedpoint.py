"""Kalshi's fixed-point wire numbers, parsed exactly, and the per-market tick grids.

Kalshi sends prices as `*_dollars` strings with up to 4 decimals ("0.1200") and
contract counts as `*_fp` strings with 2 decimals ("136.00")
(docs.kalshi.com/getting_started/fixed_point_migration). Floats would turn
0.07 into 0.07000000000000001 and break tick checks, so prices become int
micro-dollars and counts int hundredths of a contract ("centi-contracts"); the
book does its arithmetic in those ints and only the contract records see floats.

Price level structures (same page): `linear_cent` ticks $0.01 over 0–1,
`tapered_deci_cent` ticks $0.001 below $0.10 and above $0.90 and $0.01 between,
`deci_cent` ticks $0.001 everywhere. A market's `price_ranges` list states the
bands exactly; the named tables are used only when a payload omits them.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

from connectors.kalshi.errors import BadPayload, FixedPointError, OffTickPrice
from schemas.enums import Side
from schemas.records import TickBand

MICROS = 1_000_000
ONE_DOLLAR_MICROS = MICROS
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")

Direction = Literal["down", "up", "nearest"]


# ------------------------------------------------------------------- numbers


def _decimal(text: Any, where: str) -> Decimal:
    if not isinstance(text, str) or not _NUMBER.match(text.strip()):
        raise FixedPointError(where, f"not a fixed-point decimal string: {text!r}")
    try:
        return Decimal(text.strip())
    except InvalidOperation as exc:  # pragma: no cover - the regex already refuses these
        raise FixedPointError(where, f"not a decimal: {text!r}") from exc


def dollars_to_micros(text: Any, where: str = "dollars") -> int:
    """Any `*_dollars` amount (prices, balances, fees) as exact int micro-dollars."""
    value = _decimal(text, where) * MICROS
    if value != value.to_integral_value():
        raise FixedPointError(where, f"{text!r} has more precision than a micro-dollar")
    return int(value)


def price_to_micros(text: Any, where: str = "price_dollars") -> int:
    """A contract price: a dollar amount within [0, 1]."""
    micros = dollars_to_micros(text, where)
    if not 0 <= micros <= ONE_DOLLAR_MICROS:
        raise FixedPointError(where, f"price {text!r} outside $0–$1")
    return micros


def count_to_centi(text: Any, where: str = "count_fp", *, signed: bool = False) -> int:
    """A `*_fp` contract count as int hundredths of a contract (exact)."""
    value = _decimal(text, where) * 100
    if value != value.to_integral_value():
        raise FixedPointError(where, f"{text!r} is finer than 0.01 contract")
    centi = int(value)
    if centi < 0 and not signed:
        raise FixedPointError(where, f"negative count {text!r}")
    return centi


def centi_to_contracts(centi: int) -> float:
    """The contract's float count, rounded to 0.01 as schemas/README.md asks."""
    return round(centi / 100, 2)


def contracts_to_centi(count: float) -> int:
    """Our float counts back to exact hundredths; refuses finer counts instead of rounding them away."""
    centi = round(count * 100)
    if abs(centi - count * 100) > 1e-6:
        raise ValueError(f"count {count} is finer than 0.01 contract")
    return centi


def micros_to_dollars(micros: int) -> str:
    """A price for an order body: 4 decimals, the precision Kalshi accepts."""
    if micros % 100:
        raise OffTickPrice(f"{micros} micro-dollars is finer than Kalshi's $0.0001 price precision")
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    return f"{sign}{whole}.{frac // 100:04d}"


def centi_to_count_fp(centi: int) -> str:
    """A count for an order body in `count_fp` form ("10.00")."""
    sign = "-" if centi < 0 else ""
    whole, frac = divmod(abs(centi), 100)
    return f"{sign}{whole}.{frac:02d}"


def cents_to_micros(cents: Any, where: str = "cents") -> int:
    """Legacy integer-cent fields (`yes_price`, `balance`) of older payloads."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise BadPayload(where, f"expected integer cents, got {cents!r}")
    return cents * 10_000


# ------------------------------------------------------------------ tick grids


def _band(start: str, end: str, step: str) -> TickBand:
    return TickBand(price_to_micros(start), price_to_micros(end), price_to_micros(step))


#: The documented structures, used when a market payload names one but omits `price_ranges`.
PRICE_LEVEL_STRUCTURES: dict[str, tuple[TickBand, ...]] = {
    "linear_cent": (_band("0.0000", "1.0000", "0.0100"),),
    "tapered_deci_cent": (
        _band("0.0000", "0.1000", "0.0010"),
        _band("0.1000", "0.9000", "0.0100"),
        _band("0.9000", "1.0000", "0.0010"),
    ),
    "deci_cent": (_band("0.0000", "1.0000", "0.0010"),),
}


def parse_price_ranges(ranges: Any, where: str = "price_ranges") -> list[TickBand]:
    """`price_ranges` ([{start, end, step}] in dollars) as validated, sorted TickBands."""
    if not isinstance(ranges, list) or not ranges:
        raise BadPayload(where, f"expected a non-empty list, got {ranges!r}")
    bands: list[TickBand] = []
    for i, item in enumerate(ranges):
        if not isinstance(item, dict):
            raise BadPayload(f"{where}[{i}]", f"expected an object, got {item!r}")
        band = TickBand(
            price_to_micros(item.get("start"), f"{where}[{i}].start"),
            price_to_micros(item.get("end"), f"{where}[{i}].end"),
            price_to_micros(item.get("step"), f"{where}[{i}].step"),
        )
        if band.step_micros <= 0 or band.end_micros <= band.start_micros:
            raise BadPayload(f"{where}[{i}]", f"empty band or zero step: {item!r}")
        if (band.end_micros - band.start_micros) % band.step_micros:
            raise BadPayload(f"{where}[{i}]", f"step does not divide the band: {item!r}")
        bands.append(band)
    bands.sort(key=lambda b: b.start_micros)
    for prev, nxt in zip(bands, bands[1:]):
        if nxt.start_micros != prev.end_micros:
            raise BadPayload(where, f"bands overlap or leave a gap at {prev.end_micros} / {nxt.start_micros}")
    return bands


def tick_bands(market: dict[str, Any], where: str = "market") -> list[TickBand]:
    """A market's bands: its `price_ranges` if given, else its named `price_level_structure`."""
    if market.get("price_ranges"):
        return parse_price_ranges(market["price_ranges"], f"{where}.price_ranges")
    structure = market.get("price_level_structure")
    if structure in PRICE_LEVEL_STRUCTURES:
        return list(PRICE_LEVEL_STRUCTURES[structure])
    raise BadPayload(f"{where}.price_level_structure", f"unknown structure {structure!r} and no price_ranges")


@lru_cache(maxsize=64)
def _grid(bands: tuple[TickBand, ...]) -> tuple[int, ...]:
    """Every price on the grid, $0 and $1 included, ascending (at most ~1,001 points)."""
    points: set[int] = set()
    for b in bands:
        points.update(range(b.start_micros, b.end_micros + 1, b.step_micros))
    return tuple(sorted(points))


def tradable_prices(bands: Sequence[TickBand]) -> tuple[int, ...]:
    """Prices an order may carry: the grid without $0 and $1 (nothing trades at certainty)."""
    grid = _grid(tuple(bands))
    return tuple(p for p in grid if 0 < p < ONE_DOLLAR_MICROS)


def yes_equivalent(side: Side, price_micros: int) -> int:
    """Price ranges are stated on YES; a NO price q is the YES price 1 − q."""
    return price_micros if side is Side.YES else ONE_DOLLAR_MICROS - price_micros


def is_valid_price(side: Side, price_micros: int, bands: Sequence[TickBand]) -> bool:
    """True when an order at this price on this side is on the market's grid."""
    yes = yes_equivalent(side, price_micros)
    grid = tradable_prices(bands)
    i = bisect_left(grid, yes)
    return i < len(grid) and grid[i] == yes


def check_price(side: Side, price_micros: int, bands: Sequence[TickBand]) -> int:
    """The price unchanged, or `OffTickPrice` naming the nearest valid prices."""
    if is_valid_price(side, price_micros, bands):
        return price_micros
    below = round_price(side, price_micros, bands, "down")
    above = round_price(side, price_micros, bands, "up")
    raise OffTickPrice(f"{side.value} price {price_micros} is off the tick grid (nearest {below} / {above})")


def round_price(
    side: Side, price_micros: int, bands: Sequence[TickBand], direction: Direction
) -> int:
    """The nearest tradable price on `side` at or below / above / nearest to `price_micros`.

    Rounding "down" on NO is rounding "up" on the YES-equivalent, since the NO
    price falls as the YES price rises. Ties in "nearest" go down (the cheaper
    price for a buyer). Raises `OffTickPrice` when no tradable price lies that way.
    """
    grid = tradable_prices(bands)
    yes = yes_equivalent(side, price_micros)
    yes_dir: Direction = direction
    if side is Side.NO and direction != "nearest":
        yes_dir = "up" if direction == "down" else "down"
    lo_i = bisect_right(grid, yes) - 1  # largest grid point <= yes
    hi_i = bisect_left(grid, yes)  # smallest grid point >= yes
    lo = grid[lo_i] if lo_i >= 0 else None
    hi = grid[hi_i] if hi_i < len(grid) else None
    if yes_dir == "down":
        chosen = lo
    elif yes_dir == "up":
        chosen = hi
    else:
        if lo is None or (hi is not None and hi - yes < yes - lo):
            chosen = hi
        elif hi is None or yes - lo < hi - yes:
            chosen = lo
        else:  # a tie: the cheaper price on the asked side
            chosen = lo if side is Side.YES else hi
    if chosen is None:
        raise OffTickPrice(f"no tradable {side.value} price {direction} of {price_micros}")
    return yes_equivalent(side, chosen)


def tick_at(side: Side, price_micros: int, bands: Sequence[TickBand]) -> int:
    """The tick size in force at a price (the band containing its YES equivalent)."""
    yes = yes_equivalent(side, price_micros)
    for b in bands:
        if b.start_micros <= yes < b.end_micros or (yes == b.end_micros == bands[-1].end_micros):
            return b.step_micros
    raise OffTickPrice(f"price {price_micros} lies outside every band")
