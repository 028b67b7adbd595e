"""The local stack's process handling: what a crash leaves behind is stopped with the stack."""

from __future__ import annotations

import os
import sys

import psutil

from include.localstack.stack import Stack
from tests.waiting import wait_until

# A main process and a child it forked in its group, as the scheduler and its LocalExecutor workers.
FORKS = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    time.sleep(120)\n"
    "    sys.exit(0)\n"
    "print(os.getpid(), flush=True)\n"
    "time.sleep(120)\n"
)


def _group(pgid: int) -> list[int]:
    return [p.pid for p in psutil.process_iter() if _pgid(p.pid) == pgid]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_what_a_crash_left_in_a_restarted_services_group_is_stopped_with_the_stack(tmp_path):
    stack = Stack(root=tmp_path, sites=[])
    try:
        first = stack._spawn("scheduler", [sys.executable, "-c", FORKS])
        pgid = first.process.pid
        wait_until(lambda: len(_group(pgid)) == 2, 30, "the main process and its fork", 0.1)
        stack.kill("scheduler", group=False)  # the main process alone, as a crash of the scheduler
        left = _group(pgid)
        assert len(left) == 1  # its fork runs on, as a task would
        stack.restart("scheduler")
        assert stack.retired_groups == [pgid]
    finally:
        stack.stop()
    wait_until(lambda: not _alive(left[0]), 10, "what the crash left behind to be stopped", 0.1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
