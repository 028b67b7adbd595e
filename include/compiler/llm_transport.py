"""The language model's transport: one POST to an OpenAI-compatible chat completions endpoint,
bounded in time (the whole exchange) and in size, every failure an :class:`LLMFailure` whose
reason never carries the key."""

from __future__ import annotations

import time
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit


class LLMFailure(Exception):
    """The model's answer cannot be used; ``reason`` says why (never holds the API key)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def short(text: str, limit: int = 300) -> str:
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def post(llm: Any, payload: bytes) -> bytes:
    """POST ``payload`` to ``llm.endpoint`` within ``llm.timeout`` seconds in all (``llm``: an
    :class:`include.compiler.llm.LLMConfig`)."""
    url = urlsplit(llm.endpoint)
    deadline = time.monotonic() + llm.timeout
    connection_class = HTTPSConnection if url.scheme == "https" else HTTPConnection
    connection = connection_class(url.hostname, url.port, timeout=llm.timeout)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if llm.api_key:
        headers["Authorization"] = f"Bearer {llm.api_key}"
    try:
        connection.request("POST", url.path, body=payload, headers=headers)
        _arm(connection, deadline)
        response = connection.getresponse()
        if response.status != 200:
            _arm(connection, deadline)
            snippet = short(response.read(512).decode("utf-8", "replace"), 200)
            raise LLMFailure(
                f"the model endpoint answered HTTP {response.status} {response.reason}"
                + (f": {snippet}" if snippet else "")
            )
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > llm.max_response_bytes:
            raise LLMFailure(
                f"the model's answer is too large ({declared} bytes; the limit is {llm.max_response_bytes})"
            )
        body = bytearray()
        while True:
            _arm(connection, deadline)
            chunk = response.read1(65_536)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > llm.max_response_bytes:
                raise LLMFailure(f"the model's answer is too large (over {llm.max_response_bytes} bytes)")
    except TimeoutError:
        raise LLMFailure(f"timeout: the model did not answer within {llm.timeout:g} s") from None
    except ConnectionRefusedError:
        raise LLMFailure(f"cannot reach the model endpoint {url.netloc}: connection refused") from None
    except HTTPException as exc:
        raise LLMFailure(f"the model endpoint's answer is not valid HTTP ({type(exc).__name__})") from None
    except OSError as exc:
        raise LLMFailure(
            f"cannot reach the model endpoint {url.netloc}: {exc.strerror or type(exc).__name__}"
        ) from None
    finally:
        connection.close()


def _arm(connection: HTTPConnection, deadline: float) -> None:
    """Let the next socket operation wait only for what is left of the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if connection.sock is not None:
        connection.sock.settimeout(left)
