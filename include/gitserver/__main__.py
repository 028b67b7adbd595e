"""Run the Git smart-HTTP server until SIGTERM.

    python -m include.gitserver --root DIR --users-file USERS.json [--repo NAME ...] [--port N]
                                [--state-file FILE]

USERS.json: ``{"<user>": {"token": "...", "push": true}}``. The state file receives
``{"url": ..., "pid": ...}`` once the server listens (port 0 picks a free port).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from include.serving import StopSignals

from .server import GitHTTPServer, User


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.gitserver", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--users-file", required=True, type=Path)
    parser.add_argument("--repo", action="append", default=[], help="create this repository (repeatable)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gitserver %(levelname)s %(message)s")

    users = [
        User(name, spec["token"], bool(spec.get("push")))
        for name, spec in json.loads(args.users_file.read_text()).items()
    ]
    server = GitHTTPServer(args.root, users, host=args.host, port=args.port)
    for name in args.repo:
        server.create_repository(name)
    stop = StopSignals()
    server.start()
    if args.state_file:
        tmp = args.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": server.url, "pid": os.getpid()}))
        tmp.replace(args.state_file)
    logging.info("serving %s at %s", args.root, server.url)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
