"""A long-lived GET (an alert feed, a live picture) on a plain socket, read on a thread until either side ends it:
`ended` says the server closed it, `close()` closes it from the client's side at once (an HTTP client library
cannot abort a read blocked on another thread)."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit


class RawStream:
    def __init__(self, url: str, headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        lines = [f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}"]
        lines.append("Connection: close")  # the end of the answer is the end of the connection
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if cookies:
            lines.append("Cookie: " + "; ".join(f"{name}={value}" for name, value in cookies.items()))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.head = self.sock.recv(4096)
        self.status = int(self.head.split(b" ", 2)[1])
        self.ended = threading.Event()
        self.sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.ended.set()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
