"""The local stack's processes: spawned in their own process groups, logged to files, stopped by
group, and killed and started again the same way (the fault tests' SIGKILL and restart)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.compiler.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_secret(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    return path


def wait_for_file(path: Path, process: subprocess.Popen, what: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}; see its log")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not start within {timeout:g} s")


@dataclass
class Service:
    """One process of the stack, and what it takes to start it again."""

    name: str
    process: subprocess.Popen
    url: str = ""
    log: Path | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None


def spawn(name: str, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> Service:
    """Start ``args`` in a process group of its own, stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env or os.environ.copy(),
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )
    return Service(name, process, log=log_path, args=list(args), env=env)


def kill(service: Service, *, group: bool = True) -> None:
    """SIGKILL the service, as a crash would, and reap it.

    :param group: its whole process group (its workers too); False kills the main process alone,
        as when the scheduler itself crashes while the task processes it started run on.
    """
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(service.process.pid, signal.SIGKILL)
        else:
            service.process.kill()
    service.process.wait()


def stop_all(services: list[Service], timeout: float = 15) -> None:
    """SIGTERM every group, newest first; SIGKILL what is still running after ``timeout``."""
    for service in reversed(services):
        if service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
    deadline = time.time() + timeout
    for service in services:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def stop_pids(pids: dict[str, int], timeout: float = 15) -> list[str]:
    """Stop processes recorded in a stack.json (``make down``); return the names that were running."""
    stopped = []
    for name, pid in pids.items():
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped.append(name)
        except (ProcessLookupError, PermissionError):
            continue
    deadline = time.time() + timeout
    for pid in pids.values():
        while time.time() < deadline:
            try:
                os.killpg(pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    return stopped
