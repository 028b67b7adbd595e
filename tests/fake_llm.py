"""An OpenAI-compatible chat completions endpoint on 127.0.0.1 that gives scripted answers.

It stands in for the language model at the test boundary: the client under test speaks real HTTP
to it, and it records every request (path, headers, JSON body) for the tests to inspect.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(content: str) -> bytes:
    """A chat completion whose first choice says ``content``."""
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "scripted",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        }
    ).encode()


def answer(**fields: Any) -> bytes:
    """A chat completion whose content is the JSON answer ``fields``."""
    return completion(json.dumps(fields))


@dataclass
class Reply:
    """One scripted HTTP answer.

    :param body: the response body.
    :param status: the HTTP status.
    :param delay: seconds to wait before answering.
    :param trickle: seconds between single bytes of the body (headers go out at once).
    """

    body: bytes
    status: int = 200
    delay: float = 0.0
    trickle: float = 0.0


@dataclass
class FakeModel:
    """The endpoint's script and what it received; ``reply`` answers every request."""

    reply: Reply = field(default_factory=lambda: Reply(completion("{}")))
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def start(model: FakeModel) -> ThreadingHTTPServer:
    """Serve ``model`` on a free 127.0.0.1 port (set in ``model.port``) from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            model.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": json.loads(raw or b"{}")}
            )
            reply = model.reply
            if not self.path.endswith("/chat/completions"):
                reply = Reply(b'{"error": "not found"}', status=404)
            if reply.delay and model.stop.wait(reply.delay):
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            try:
                if reply.trickle:
                    for index in range(len(reply.body)):
                        if model.stop.wait(reply.trickle):
                            return
                        self.wfile.write(reply.body[index : index + 1])
                        self.wfile.flush()
                else:
                    self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up: that is what some tests want

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    model.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def stop(model: FakeModel, server: ThreadingHTTPServer) -> None:
    model.stop.set()
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    """A 127.0.0.1 port on which nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
