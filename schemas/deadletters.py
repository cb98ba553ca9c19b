"""Building DeadLetter records: one deterministic id per (topic, partition, offset)."""

from __future__ import annotations

import hashlib

from schemas.records import DeadLetter


def dead_letter(
    *,
    topic: str,
    value: bytes,
    error: BaseException | str,
    service: str,
    ts: int,
    partition: int = -1,
    offset: int = -1,
    key: bytes | None = None,
) -> DeadLetter:
    """The record for input that was refused; the same input always yields the same id."""
    if isinstance(error, BaseException):
        text, kind = str(error), type(error).__name__
    else:
        text, kind = error, "BadInput"
    digest = hashlib.sha1(value).hexdigest()[:16]
    dead_id = f"{topic}:{partition}:{offset}:{digest}"
    return DeadLetter(
        dead_id=dead_id,
        topic=topic,
        ts=ts,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        error=text,
        error_type=kind,
        service=service,
    )
