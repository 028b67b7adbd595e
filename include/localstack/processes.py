"""The local stack's processes: spawned in their own process groups, logged to files, stopped by
group, and killed and started again the same way (the fault tests' SIGKILL and restart)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from include.compiler.config import PROJECT_ROOT

STOP_SIGNALS = {"postgres": signal.SIGINT}
"""How a service is asked to stop when not with SIGTERM: PostgreSQL's SIGTERM is its smart shutdown,
which waits for every client to disconnect; SIGINT is its fast shutdown."""


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
    user: str | None = None
    """The system user it runs as (root starts PostgreSQL as ``postgres``); None: this process's."""
    scratch: Path | None = None
    """A directory of its own outside the stack's root, removed once it has stopped."""

    @property
    def stop_signal(self) -> int:
        return STOP_SIGNALS.get(self.name, signal.SIGTERM)


def as_user(user: str | None) -> dict[str, Any]:
    """``subprocess.Popen`` arguments that run a command as ``user`` (its own group, no other group)
    when this process is root; none otherwise (it then runs as this process's user)."""
    if user is None or os.geteuid() != 0:
        return {}
    return {"user": user, "group": user, "extra_groups": []}


def spawn(
    name: str, args: list[str], log_path: Path, env: dict[str, str] | None = None, user: str | None = None
) -> Service:
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
            **as_user(user),
        )
    return Service(name, process, log=log_path, args=list(args), env=env, user=user)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _signal_each(processes: list[psutil.Process], sig: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


def kill(service: Service, *, group: bool = True, tree: bool = False) -> None:
    """SIGKILL the service, as a crash would, and reap it.

    :param group: its whole process group (its workers too); False kills the main process alone,
        as when the scheduler itself crashes while the task processes it started run on.
    :param tree: also every process it started that left its group, as when the machine or the
        container of a Celery worker dies: Airflow's task supervisor runs each task in a process
        group of its own. The tree is frozen (SIGSTOP) first, so nothing forks while it is killed.
    """
    with contextlib.suppress(ProcessLookupError):
        if tree:
            os.killpg(service.process.pid, signal.SIGSTOP)
            _signal_each(_descendants(service.process.pid), signal.SIGSTOP)
            _signal_each(_descendants(service.process.pid), signal.SIGKILL)
        if group:
            os.killpg(service.process.pid, signal.SIGKILL)
        else:
            service.process.kill()
    service.process.wait()


def stop_all(services: list[Service], timeout: float = 15) -> None:
    """Ask every group to stop (SIGTERM, or the service's own signal), newest first; SIGKILL what is
    still running after ``timeout``, and any process a service started that outlived it (a task
    process in a group of its own). Then remove the services' scratch directories."""
    started: list[psutil.Process] = []
    for service in reversed(services):
        if service.process.poll() is None:
            started += _descendants(service.process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, service.stop_signal)
    deadline = time.time() + timeout
    for service in services:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()
    _signal_each([p for p in started if p.is_running()], signal.SIGKILL)
    for service in services:
        if service.scratch:
            shutil.rmtree(service.scratch, ignore_errors=True)


def stop_pids(pids: dict[str, int], timeout: float = 15) -> list[str]:
    """Stop processes recorded in a stack.json (``make down``); return the names that were running."""
    stopped = []
    for name, pid in pids.items():
        try:
            os.killpg(pid, STOP_SIGNALS.get(name, signal.SIGTERM))
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
