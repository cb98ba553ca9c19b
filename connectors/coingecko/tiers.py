"""CoinGecko's access tiers: where to send requests, which header carries the key, how fast to go.

Public (no key) allows roughly 5-15 calls a minute depending on load; Demo keys
30 a minute (header `x-cg-demo-api-key`, same host); paid Pro keys 500+ a
minute on `pro-api.coingecko.com` (header `x-cg-pro-api-key`). We space
requests under each limit so a 429 is the exception, not the rhythm. The key
is read from the environment variable named by the tier and never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from connectors.coingecko.errors import FatalCoinGeckoError


@dataclass(frozen=True)
class Tier:
    name: str
    base_url: str
    key_header: str | None
    #: Environment variable holding the key (COINGECKO_DEMO_API_KEY / COINGECKO_PRO_API_KEY).
    key_env: str | None
    calls_per_minute: int

    @property
    def min_interval_s(self) -> float:
        return 60.0 / self.calls_per_minute


PUBLIC = Tier("public", "https://api.coingecko.com/api/v3", None, None, 10)
DEMO = Tier("demo", "https://api.coingecko.com/api/v3", "x-cg-demo-api-key", "COINGECKO_DEMO_API_KEY", 30)
PRO = Tier("pro", "https://pro-api.coingecko.com/api/v3", "x-cg-pro-api-key", "COINGECKO_PRO_API_KEY", 500)
TIERS = {t.name: t for t in (PUBLIC, DEMO, PRO)}


def tier_named(name: str) -> Tier:
    try:
        return TIERS[name]
    except KeyError:
        raise FatalCoinGeckoError(f"unknown CoinGecko tier {name!r}; known: {sorted(TIERS)}") from None


def auth_headers(tier: Tier, env: dict[str, str] | None = None) -> dict[str, str]:
    """The key header of a keyed tier; a keyed tier without its key is a configuration error."""
    if tier.key_header is None or tier.key_env is None:
        return {}
    key = (env if env is not None else os.environ).get(tier.key_env, "").strip()
    if not key:
        raise FatalCoinGeckoError(f"the {tier.name} tier needs its key in ${tier.key_env}")
    return {tier.key_header: key}
