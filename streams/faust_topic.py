"""Faust's Topic with a send cancelled by a stopping worker treated as what it is, not an error.

A worker stopped mid-batch cancels the produce futures still in flight; Faust's completion
callback calls `fut.result()` expecting an Exception and the CancelledError (a BaseException)
escaped it, so asyncio logged an "Exception in callback Topic._on_published" traceback at ERROR
on every such stop. Nothing is lost there: the batch is held back and read again from the
committed offsets (streams/agents/runner.py). The message's own future is cancelled instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.topics import Topic
from faust.types import FutureMessage, ProducerT


class ArbeesTopic(Topic):
    def _on_published(self, fut: asyncio.Future, message: FutureMessage, producer: ProducerT, state: Any) -> None:
        if fut.cancelled():
            message.cancel()
            return
        super()._on_published(fut, message, producer, state)
