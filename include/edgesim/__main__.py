"""Run one simulated edge site until SIGTERM.

    python -m include.edgesim --site edge1 --repo-url http://127.0.0.1:PORT/edge1-config.git \
        --git-user configsync --secrets-file SECRETS.json [--port 0] [--period 15] [--state-file F]

SECRETS.json holds ``{"gitToken": ..., "apiToken": ..., "controlToken": ...}`` (kept out of the
command line, where other users could read them). The state file receives
``{"site", "url", "pid"}`` once the site listens.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from include.gitops.auth import GitAuth, check_url
from include.serving import StopSignals

from .api import SiteServer
from .configsync import Syncer
from .faults import Faults
from .loadmodel import LoadModel
from .store import Store, Timings

BANNER = "edge-site SIMULATOR for site {site}: not a Kubernetes cluster; it runs no containers"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.edgesim", description=__doc__.splitlines()[0])
    parser.add_argument("--site", required=True)
    parser.add_argument("--repo-url", required=True)
    parser.add_argument("--branch", default="main")
    parser.add_argument("--git-user", default="configsync")
    parser.add_argument("--secrets-file", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--period", type=float, default=15.0, help="seconds between pulls (RootSync period)")
    parser.add_argument("--pod-ready-s", type=float, default=2.0)
    parser.add_argument("--provisioning-s", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s edgesim[{args.site}] %(levelname)s %(message)s"
    )

    secrets = json.loads(args.secrets_file.read_text())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"edgesim-{args.site}-"))
    git_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **GitAuth(args.git_user, secrets["gitToken"]).env()}
    store = Store(args.site, Timings(args.pod_ready_s, args.provisioning_s))
    syncer = Syncer(store, check_url(args.repo_url), git_env, workdir, branch=args.branch, period=args.period)
    faults = Faults()
    server = SiteServer(
        store,
        syncer,
        faults,
        LoadModel(store, faults, seed=args.seed),
        api_token=secrets["apiToken"],
        control_token=secrets["controlToken"],
        host=args.host,
        port=args.port,
    )
    stop = StopSignals()
    server.start()
    syncer.start()
    logging.info(BANNER.format(site=args.site))
    logging.info(
        "Kubernetes API, /metrics and /control at %s; pulling %s every %gs",
        server.url,
        args.repo_url,
        args.period,
    )
    if args.state_file:
        tmp = args.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"site": args.site, "url": server.url, "pid": os.getpid()}))
        tmp.replace(args.state_file)
    stop.wait()
    syncer.stop()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
