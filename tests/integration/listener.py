"""A TCP server on 127.0.0.1 that accepts every connection and counts it: a venue that never answers (`hold`), or
an outside world that is unreachable (each connection closed at once)."""

from __future__ import annotations

import socket
import threading


class Listener:
    def __init__(self, hold: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.hold = hold
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.hold:
                self._held.append(conn)  # read nothing, answer nothing
            else:
                conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()
