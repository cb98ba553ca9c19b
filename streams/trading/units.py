"""Typed trading units that cannot be mixed: contracts, money (micro-dollars), probability.

A size in dollars read as a count of contracts is the classic sizing bug. Each unit
is a small frozen class: arithmetic is defined only between like units (money +
money, contracts × price → money), so mixing them is a mypy error, and every
constructor and boundary function checks the runtime type as well, so an untyped
caller (a decoded record, a test, a REPL) gets `UnitError` instead of a wrong size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Venue counts are kept to 0.01 contracts; 100 centi-contracts = 1 contract.
CENTI = 100
ONE_DOLLAR = 1_000_000


class UnitError(TypeError):
    """A value of the wrong unit (or type) crossed a unit boundary."""


def _require(value: Any, cls: type, where: str) -> None:
    if not isinstance(value, cls):
        raise UnitError(f"{where}: expected {cls.__name__}, got {type(value).__name__} {value!r}")


@dataclass(frozen=True, order=True)
class Micros:
    """Money in integer micro-dollars (1 USD = 1_000_000): exact for every venue tick."""

    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise UnitError(f"Micros needs an int of micro-dollars, got {type(self.value).__name__} {self.value!r}")

    @classmethod
    def of(cls, value: Any) -> Micros:
        return cls(value)

    def __add__(self, other: Micros) -> Micros:
        _require(other, Micros, "Micros + ")
        return Micros(self.value + other.value)

    def __sub__(self, other: Micros) -> Micros:
        _require(other, Micros, "Micros - ")
        return Micros(self.value - other.value)

    def __neg__(self) -> Micros:
        return Micros(-self.value)

    def scale(self, factor: float) -> Micros:
        """Money times a dimensionless factor, to the nearest micro-dollar (which absorbs float
        noise such as 49_999_999.99 for an exact $50); counts derived from it are rounded down."""
        if isinstance(factor, (Micros, Contracts, Probability)):
            raise UnitError(f"Micros.scale takes a plain factor, got {type(factor).__name__}")
        return Micros(round(self.value * float(factor)))

    def dollars(self) -> float:
        """For display only; never feed this back into sizing."""
        return self.value / ONE_DOLLAR

    def __str__(self) -> str:
        sign = "-" if self.value < 0 else ""
        cents, rest = divmod(abs(self.value), 10_000)
        text = f"{sign}${cents // 100:,}.{cents % 100:02d}"
        return text + (f"({rest:04d}µ)" if rest else "")


@dataclass(frozen=True, order=True)
class Contracts:
    """A count of binary contracts, held as integer centi-contracts (0.01 granularity)."""

    centi: int

    def __post_init__(self) -> None:
        if isinstance(self.centi, bool) or not isinstance(self.centi, int):
            raise UnitError(f"Contracts holds int centi-contracts, got {type(self.centi).__name__} {self.centi!r}")

    @classmethod
    def of(cls, count: Any) -> Contracts:
        """From a record's float count (rounded to the venue's 0.01)."""
        if isinstance(count, (Micros, Probability, Contracts)) or isinstance(count, bool):
            raise UnitError(f"Contracts.of takes a record count, got {type(count).__name__} {count!r}")
        if not isinstance(count, (int, float)) or not math.isfinite(count):
            raise UnitError(f"Contracts.of: {count!r} is not a finite number of contracts")
        return cls(round(float(count) * CENTI))

    @property
    def count(self) -> float:
        """The record form: float contracts, exact to 0.01."""
        return self.centi / CENTI

    def __add__(self, other: Contracts) -> Contracts:
        _require(other, Contracts, "Contracts + ")
        return Contracts(self.centi + other.centi)

    def __sub__(self, other: Contracts) -> Contracts:
        _require(other, Contracts, "Contracts - ")
        return Contracts(self.centi - other.centi)

    def min(self, other: Contracts) -> Contracts:
        _require(other, Contracts, "Contracts.min")
        return self if self.centi <= other.centi else other

    def floor_to(self, step: Contracts) -> Contracts:
        """Round down to a multiple of the venue's contract step."""
        _require(step, Contracts, "Contracts.floor_to")
        if step.centi <= 0:
            raise UnitError(f"contract step must be positive, got {step}")
        return Contracts((self.centi // step.centi) * step.centi)

    def cost(self, price: Micros) -> Micros:
        """Contracts × price per contract → money (exact: centi × micros / 100)."""
        _require(price, Micros, "Contracts.cost")
        total = self.centi * price.value
        return Micros(total // CENTI if total >= 0 else -((-total) // CENTI))

    def is_positive(self) -> bool:
        return self.centi > 0

    def __str__(self) -> str:
        return f"{self.count:g} contracts"


def contracts_affordable(budget: Micros, price: Micros) -> Contracts:
    """Whole centi-contracts that `budget` buys at `price` per contract, rounded down."""
    _require(budget, Micros, "contracts_affordable budget")
    _require(price, Micros, "contracts_affordable price")
    if price.value <= 0:
        raise UnitError(f"price per contract must be positive, got {price}")
    if budget.value <= 0:
        return Contracts(0)
    return Contracts(budget.value * CENTI // price.value)


@dataclass(frozen=True, order=True)
class Probability:
    """A probability in [0, 1]; edges and Kelly fractions are computed from these only."""

    value: float

    def __post_init__(self) -> None:
        if isinstance(self.value, (bool, Micros, Contracts)) or not isinstance(self.value, (int, float)):
            raise UnitError(f"Probability needs a float, got {type(self.value).__name__} {self.value!r}")
        if not 0.0 <= float(self.value) <= 1.0:
            raise UnitError(f"Probability {self.value!r} is outside [0, 1]")

    @classmethod
    def of_price(cls, price: Micros) -> Probability:
        """A binary contract's price read as the probability it implies (pays $1)."""
        _require(price, Micros, "Probability.of_price")
        return cls(price.value / ONE_DOLLAR)


def micros(value: Any) -> Micros:
    return Micros.of(value)


def contracts(count: Any) -> Contracts:
    return Contracts.of(count)


__all__ = ["CENTI", "ONE_DOLLAR", "Contracts", "Micros", "Probability", "UnitError", "contracts", "contracts_affordable", "micros"]
