"""A delaying TCP proxy on 127.0.0.1: latency on loopback without touching the machine's network.

`tc netem` on `lo` would delay every process on this machine (other engineers'
brokers and tests share the loopback device), so the chaos run puts this proxy
in front of its own broker instead: the broker advertises a listener at the
proxy's port (ops.kafka.broker `BrokerConfig.proxied`), every part bootstraps
through it, and each chunk is forwarded `delay_s` (plus jitter) after it
arrived, in order, in both directions. Throughput is not limited, only delayed.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass, field


@dataclass
class ProxyStats:
    connections: int = 0
    refused: int = 0  # the upstream did not answer (the broker was down)
    bytes_up: int = 0
    bytes_down: int = 0
    delays_s: list[float] = field(default_factory=list)  # a sample of the delays applied


class DelayingProxy:
    """Forward 127.0.0.1:`port` to 127.0.0.1:`upstream` with added latency; runs on its own thread."""

    def __init__(self, port: int, upstream: int, delay_s: float, jitter_s: float = 0.0, seed: int = 0) -> None:
        self.port = port
        self.upstream = upstream
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.stats = ProxyStats()
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> DelayingProxy:
        self._thread = threading.Thread(target=self._run, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"delaying proxy on port {self.port} did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for w in list(self._writers):
                w.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    def _pause(self) -> float:
        return self.delay_s + (self._rng.uniform(0, self.jitter_s) if self.jitter_s else 0.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            self.stats.refused += 1
            writer.close()
            return
        self.stats.connections += 1
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pump(reader, up_writer, up=True), self._pump(up_reader, writer, up=False))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
        """Read chunks as they come; a sender writes each one its delay after arrival, never out of order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                dst.write(chunk)
                await dst.drain()

        sender = asyncio.ensure_future(send())
        last_due = 0.0
        try:
            while True:
                chunk = await src.read(65536)
                pause = self._pause()
                if len(self.stats.delays_s) < 1000:
                    self.stats.delays_s.append(pause)
                last_due = max(last_due, time.monotonic() + pause)  # jitter never reorders bytes
                await queue.put((last_due, chunk))
                if not chunk:
                    break
                if up:
                    self.stats.bytes_up += len(chunk)
                else:
                    self.stats.bytes_down += len(chunk)
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            dst.close()
