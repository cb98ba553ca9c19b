"""The delaying proxy: bytes arrive intact, in order, no sooner than the delay; a dead upstream is refused."""

from __future__ import annotations

import socket
import threading
import time

from ops.chaos.driver import free_ports
from ops.chaos.proxy import DelayingProxy


def echo_server(port: int, stop: threading.Event) -> threading.Thread:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen()
    srv.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_round_trips_are_delayed_both_ways_and_bytes_keep_their_order() -> None:
    upstream, port = free_ports(2)
    stop = threading.Event()
    echo_server(upstream, stop)
    proxy = DelayingProxy(port, upstream, delay_s=0.05, jitter_s=0.02, seed=1).start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as c:
            payload = b"".join(i.to_bytes(4, "big") for i in range(50_000))  # 200 kB, many chunks
            began = time.monotonic()
            c.sendall(payload)
            got = b""
            while len(got) < len(payload):
                got += c.recv(65536)
            took = time.monotonic() - began
        assert got == payload  # intact and in order despite the jitter
        assert took >= 0.1  # at least one delay each way
        assert all(0.05 <= d <= 0.07 for d in proxy.stats.delays_s)
        assert proxy.stats.connections == 1 and proxy.stats.bytes_up == len(payload) == proxy.stats.bytes_down
    finally:
        proxy.stop()
        stop.set()


def test_a_dead_upstream_closes_the_client_and_is_counted() -> None:
    upstream, port = free_ports(2)  # nothing listens on `upstream`
    proxy = DelayingProxy(port, upstream, delay_s=0.01).start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.settimeout(5)
            assert c.recv(10) == b""  # closed by the proxy
        assert proxy.stats.refused == 1 and proxy.stats.connections == 0
    finally:
        proxy.stop()
