"""A threaded HTTP server that runs in the background of the process that starts it."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class BackgroundHTTPServer(ThreadingHTTPServer):
    """``start()`` serves from a daemon thread; ``url`` is the base address; ``stop()`` ends it."""

    daemon_threads = True
    thread_name = "http"

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
