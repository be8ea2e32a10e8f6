"""A loopback HTTP/1.1 server in a daemon thread: the base of the sync fakes.

Clients under test (httpx, the openai client) talk to it over a real socket, so their
transports, retries and timeouts are exercised as in production.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class ThreadedHTTPFake:
    """Subclasses set `methods` and implement `_handle(handler)`, and call `_serve()`
    at the end of `__init__`; use the fake as a context manager."""

    methods: tuple[str, ...] = ("GET",)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        def dispatch(handler: BaseHTTPRequestHandler) -> None:
            fake._handle(handler)

        for method in self.methods:
            setattr(Handler, f"do_{method}", dispatch)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"
