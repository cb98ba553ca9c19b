"""Faust codecs built on the contract's Avro codec, so agents exchange typed records.

A value that cannot be decoded becomes an `Undecodable` instead of an exception:
Faust would otherwise log the error and skip the message, which is exactly the
silent drop Arbees forbids. (The runner, streams/agents/runner.py, reads raw values and decodes a
whole batch itself, dead-lettering what does not decode.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faust.serializers import codecs

from schemas.codec import default_codec
from schemas.errors import DecodeError

AVRO = "arbees-avro"
UTF8 = "arbees-utf8"


@dataclass(frozen=True)
class Undecodable:
    """A message value that is not a valid Arbees record, with the reason."""

    raw: bytes
    error: str
    error_type: str


@dataclass(frozen=True)
class Framed:
    """A record already encoded (framed Avro as read from a topic), sent on unchanged: a re-key stage forwards what it
    read without decoding it into objects and encoding them again."""

    raw: bytes


class AvroCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return obj.raw if isinstance(obj, Framed) else default_codec().encode(obj)

    def _loads(self, s: bytes) -> Any:
        try:
            return default_codec().decode(bytes(s))
        except DecodeError as exc:
            return Undecodable(bytes(s), str(exc), type(exc).__name__)


class Utf8Codec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return obj.encode() if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> Any:
        return bytes(s).decode("utf-8", errors="replace")


def register() -> None:
    codecs.register(AVRO, AvroCodec())
    codecs.register(UTF8, Utf8Codec())
