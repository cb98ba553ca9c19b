"""Reading quotes written before depth was packed: their per-level ladders become packed ladders.

Quote versions up to the packed form carried depth as arrays of `Level` records
(`yes_bids`, `yes_asks`, `no_bids`, `no_asks`). Plain schema resolution would drop
those fields and leave the new ones empty, so old recordings and changelogs would
lose their depth silently. Instead the codec reads such a writer with the current
schema plus the old fields, and `upgrade` packs them.
"""

from __future__ import annotations

import copy
from typing import Any

from schemas import depth

LEGACY = ("yes_bids", "yes_asks", "no_bids", "no_asks")
_PACKED = {"yes_bids": "yes_bid_depth", "yes_asks": "yes_ask_depth", "no_bids": "no_bid_depth", "no_asks": "no_ask_depth"}
_LEVEL = {
    "type": "record",
    "name": "Level",
    "namespace": "arbees",
    "fields": [{"name": "price_micros", "type": "long"}, {"name": "size", "type": "double"}],
}


def _quote_schemas(schema: Any) -> list[dict[str, Any]]:
    """Every inline definition of the Quote record inside `schema`."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "record" and schema.get("name") == "Quote":
            found.append(schema)
        for v in schema.values():
            found += _quote_schemas(v)
    elif isinstance(schema, list):
        for v in schema:
            found += _quote_schemas(v)
    return found


def has_legacy_depth(writer: dict[str, Any]) -> bool:
    return any(f["name"] == "yes_bids" for q in _quote_schemas(writer) for f in q["fields"])


def reader_schema(current: dict[str, Any]) -> dict[str, Any]:
    """The current schema with the old ladders added to its Quote (defaults: empty)."""
    out = copy.deepcopy(current)
    for i, q in enumerate(_quote_schemas(out)):
        if i == 0:
            q["fields"].append({"name": "yes_bids", "type": {"type": "array", "items": _LEVEL}, "default": []})
            rest = LEGACY[1:]
        else:
            rest = LEGACY
        for name in rest:
            q["fields"].append({"name": name, "type": {"type": "array", "items": "arbees.Level"}, "default": []})
    return out


def _pack_quote(raw: dict[str, Any]) -> dict[str, Any]:
    for name in LEGACY:
        levels = raw.pop(name, None) or []
        if levels and not raw.get(_PACKED[name]):
            raw[_PACKED[name]] = depth.pack_levels((lv["price_micros"], lv["size"]) for lv in levels)
    return raw


def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """Pack the old ladders of a decoded Quote, or of the quote inside a ShardInput."""
    if "quote_id" in raw:
        return _pack_quote(raw)
    if isinstance(raw.get("quote"), dict):
        _pack_quote(raw["quote"])
    return raw
