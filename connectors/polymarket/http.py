"""The one HTTP call shape both REST clients use: keep the raw answer, classify failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.polymarket.errors import TransientError, VenueRejected


def wall_clock_ms() -> int:
    """Receive time for RawFeed records; injected everywhere so tests and replays fix it."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class RawResponse:
    """Exactly what the service answered, with where and when we asked."""

    endpoint: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0
    body: str = ""
    fetched_at: int = 0


async def get_raw(
    http: httpx.AsyncClient,
    base_url: str,
    path: str,
    endpoint: str,
    params: Mapping[str, Any] | None,
    clock: Callable[[], int],
) -> RawResponse:
    """GET and return the raw answer; 429/5xx/network → TransientError, other 4xx → VenueRejected."""
    str_params = {k: str(v).lower() if isinstance(v, bool) else ",".join(map(str, v)) if isinstance(v, (list, tuple))
                  else str(v) for k, v in (params or {}).items()}
    # a list is sent as a repeated parameter (gamma's `condition_ids=a&condition_ids=b`), recorded comma-joined
    sent = {k: [str(x) for x in v] if isinstance(v, (list, tuple)) else str_params[k] for k, v in (params or {}).items()}
    url = base_url.rstrip("/") + path
    try:
        resp = await http.get(url, params=sent)
    except httpx.HTTPError as exc:
        raise TransientError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    raw = RawResponse(endpoint, url, str_params, resp.status_code, resp.text, clock())
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TransientError(f"GET {url}: HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise VenueRejected(f"GET {url}: HTTP {resp.status_code}: {resp.text[:200]}")
    return raw
