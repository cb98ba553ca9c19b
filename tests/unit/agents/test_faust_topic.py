"""A send cancelled by a stopping worker is a cancelled message future, not an ERROR traceback (streams/faust_topic.py)."""

from __future__ import annotations

import asyncio

from faust.types.tuples import FutureMessage, PendingMessage

from streams.app import app
from streams.faust_topic import ArbeesTopic


def _message(topic: ArbeesTopic) -> FutureMessage:
    return FutureMessage(PendingMessage(topic, b"k", b"v", None, None, None, None, None, None))


def test_a_cancelled_send_cancels_its_message_and_raises_nothing_into_the_loop() -> None:
    topic = app.topic("arbees-test-cancelled-send")
    assert isinstance(topic, ArbeesTopic)  # the app builds every topic (and table changelog) with it

    async def go() -> None:
        errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        sent = asyncio.get_running_loop().create_future()
        message = _message(topic)
        sent.add_done_callback(lambda fut: topic._on_published(fut, message, app.producer, None))
        sent.cancel()
        await asyncio.sleep(0)
        assert message.cancelled() and errors == []

    asyncio.run(go())


def test_a_failed_send_still_fails_its_message() -> None:
    topic = app.topic("arbees-test-failed-send")

    async def go() -> None:
        sent = asyncio.get_running_loop().create_future()
        message = _message(topic)
        sent.add_done_callback(lambda fut: topic._on_published(fut, message, app.producer, None))
        sent.set_exception(RuntimeError("broker said no"))
        await asyncio.sleep(0)
        assert isinstance(message.exception(), RuntimeError)

    asyncio.run(go())
