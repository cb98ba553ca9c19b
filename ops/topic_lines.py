"""Records as an operator reads them: one line (or one JSON object) per record, undecodable ones included.

Pure: the Kafka reading is in `ops.topic_reader`; this module turns a message's
topic, partition, offset, key and bytes into text with the contract codec. A
record the codec cannot read is shown as UNDECODABLE with its offset and why,
never skipped.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from schemas.codec import Codec
from schemas.errors import DecodeError

#: Longest string shown in a readable line (a RawFeed body is whole pages of JSON).
MAX_TEXT = 80
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True)
class Message:
    """What the broker handed over, before decoding."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int  # the broker's record timestamp (create time)
    key: str | None
    value: bytes | None


@dataclass(frozen=True)
class Decoded:
    message: Message
    record: Any | None  # None when undecodable
    error: str = ""


def decode(codec: Codec, msg: Message) -> Decoded:
    try:
        return Decoded(msg, codec.decode(msg.value))
    except DecodeError as exc:
        return Decoded(msg, None, str(exc))


def parse_since(text: str, now_ms: int | None = None) -> int:
    """`--since`: an ISO time (UTC unless it says otherwise), epoch ms, or a span back from now (`90s`, `15m`, `2h`, `1d`)."""
    text = text.strip()
    rel = _RELATIVE.match(text)
    if rel:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return now - int(float(rel.group(1)) * _UNIT_MS[rel.group(2)])
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: give an ISO time (2026-06-09T01:00:00Z), epoch ms or a span (15m, 2h, 1d)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def jsonable(value: Any) -> Any:
    """Records, enums, bytes and containers as plain JSON values (bytes as base64)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _short(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bytes):
        text = value[:24].hex()
        return f"<{len(value)} bytes {text}{'…' if len(value) > 24 else ''}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "{" + " ".join(_fields(value)) + "}"
    if isinstance(value, (list, tuple)):
        if len(value) > 3:
            return "[" + ", ".join(_short(v) for v in value[:3]) + f", … {len(value)} in all]"
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in list(value.items())[:6]) + (", …" if len(value) > 6 else "") + "}"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _fields(record: Any) -> list[str]:
    """`name=value` for every field that says something (None, empty and zero left out)."""
    out = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if value is None or value == "" or value == [] or value == {} or value == ():
            continue
        out.append(f"{f.name}={_short(value)}")
    return out


def readable(d: Decoded) -> str:
    m = d.message
    where = f"{m.topic}[{m.partition}]@{m.offset}"
    head = f"{iso_ms(m.timestamp_ms)} {where} key={m.key if m.key is not None else '-'}"
    if d.record is None:
        size = len(m.value or b"")
        return f"{head} UNDECODABLE ({size} bytes {(m.value or b'')[:16].hex()}): {d.error}"
    return f"{head} {type(d.record).__name__} " + " ".join(_fields(d.record))


def as_json(d: Decoded) -> str:
    m = d.message
    out: dict[str, Any] = {"topic": m.topic, "partition": m.partition, "offset": m.offset,
                           "timestamp": m.timestamp_ms, "key": m.key}
    if d.record is None:
        out.update(undecodable=True, error=d.error, value_base64=base64.b64encode(m.value or b"").decode())
    else:
        out.update(type=type(d.record).__name__, value=jsonable(d.record))
    return json.dumps(out, sort_keys=True, ensure_ascii=False)
