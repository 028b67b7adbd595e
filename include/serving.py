"""A threaded HTTP server that runs in the background of the process that starts it."""

from __future__ import annotations

import signal
import threading
import time
from http.server import ThreadingHTTPServer


class StopSignals:
    """SIGTERM and SIGINT, caught from construction on; :meth:`wait` returns once one came.

    The handler only appends to a list: one that set a ``threading.Event`` could deadlock, when the
    signal lands while the main thread holds the Event's lock on its way into ``wait()`` (the
    handler runs in that same thread), and the process would never stop.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda signum, _frame: self.received.append(signum))

    def wait(self, poll: float = 0.2) -> int:
        """Block until a stop signal came; return its number."""
        while not self.received:
            time.sleep(poll)
        return self.received[0]


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
