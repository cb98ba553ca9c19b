"""The trading topology in process (streams.local.LocalHost), as the unit tests drive it."""

from __future__ import annotations

from typing import Any

from streams.local import LocalHost
from streams.trading.config import TradingConfig
from streams.trading.stages import Stages


def paper_host(config: TradingConfig | None = None, **stages: Any) -> LocalHost:
    """The four trading stages for the `paper` account; every table write round-trips through its codec."""
    return LocalHost(Stages(config or TradingConfig(accounts=("paper",)), **stages), check_codec=True)
