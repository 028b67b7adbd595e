"""Prometheus queries fail fast and closed: a refused or hanging Prometheus is said within the
client's own timeouts, never after hidden retries."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from include.slo.evaluate import PrometheusUnavailable
from include.slo.prometheus import READ_MARGIN, PrometheusQuery


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_said_at_once():
    query = PrometheusQuery(f"http://127.0.0.1:{_free_port()}", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(PrometheusUnavailable, match="could not answer"):
        query("up", time.time())
    assert time.monotonic() - started < 1.0  # no retries with backoff


def test_a_prometheus_that_hangs_is_given_up_after_the_read_timeout():
    """A server that accepts the connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        query = PrometheusQuery(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(PrometheusUnavailable, match="could not answer"):
            query("up", time.time())
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        server.close()
    assert 0.5 <= elapsed < 0.5 + READ_MARGIN + 1.0
    assert len(accepted) == 1  # asked once: no hidden retry
