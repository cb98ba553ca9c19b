"""Recorded Polymarket payloads for the unit tests (see tests/fixtures/polymarket/PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"
ETH15_MARKET = "0x18b5d0680d437c512702d5ffb6f47faef308383e406cbea5468f09a6e7b77582"
ETH15_YES = "63876354810647379515878234584115568951693647874310381130205788894548916040833"
ETH15_NO = "64917161910049212782344414295688724357084475362968531440021264550805733226234"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def lines(name: str) -> list[str]:
    return [ln for ln in (FIXTURES / name).read_text().splitlines() if ln.strip()]


@pytest.fixture
def fixture() -> Any:
    return load
