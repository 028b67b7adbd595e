#!/usr/bin/env python3
"""Entrypoint of the edge-site simulator containers (docker-compose.yaml).

Writes the simulator's secrets file (mode 0600) from the environment, then runs
``python -m include.edgesim`` listening on 0.0.0.0:8080 with the container's arguments (which may
override any default below):

* ``EDGESIM_API_TOKEN``: the bearer token of the simulated Kubernetes API (the pipeline's
  ``kubernetes_<site>`` connection sends it);
* ``EDGESIM_CONTROL_TOKEN``: the token of the fault-control API;
* the read-only Git token of the sites: ``GITEA_SITES_TOKEN``, else the file
  ``GITEA_SITES_TOKEN_FILE`` that gitea-init writes; the Git user is ``configsync``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

SECRETS_FILE = Path(os.environ.get("EDGESIM_SECRETS_FILE", "/tmp/edgesim/secrets.json"))  # noqa: S108
DEFAULTS = [
    "--host", "0.0.0.0",  # noqa: S104 (inside its container, reached by name on the compose network)
    "--port", "8080",
    "--git-user", "configsync",
    "--workdir", "/tmp/edgesim/work",  # noqa: S108
]  # fmt: skip


class SetupError(Exception):
    """The container's environment is incomplete."""


def secrets(env: Mapping[str, str]) -> dict[str, str]:
    """The simulator's ``{"gitToken", "apiToken", "controlToken"}``."""
    git_token = env.get("GITEA_SITES_TOKEN", "").strip()
    if not git_token and env.get("GITEA_SITES_TOKEN_FILE"):
        path = env["GITEA_SITES_TOKEN_FILE"]
        try:
            git_token = Path(path).read_text().strip()
        except OSError as exc:
            raise SetupError(f"cannot read the Gitea token file {path} ({exc.strerror})") from None
    found = {
        "gitToken": ("GITEA_SITES_TOKEN or GITEA_SITES_TOKEN_FILE", git_token),
        "apiToken": ("EDGESIM_API_TOKEN", env.get("EDGESIM_API_TOKEN", "").strip()),
        "controlToken": ("EDGESIM_CONTROL_TOKEN", env.get("EDGESIM_CONTROL_TOKEN", "").strip()),
    }
    missing = [source for source, value in found.values() if not value]
    if missing:
        raise SetupError(f"missing: {', '.join(missing)}")
    return {key: value for key, (_, value) in found.items()}


def command(argv: list[str], secrets_file: Path) -> list[str]:
    """The simulator's command line (argparse: a later option overrides a default)."""
    return [sys.executable, "-m", "include.edgesim", *DEFAULTS, "--secrets-file", str(secrets_file), *argv]


def main(argv: list[str]) -> int:
    try:
        document = secrets(os.environ)
    except SetupError as exc:
        sys.stderr.write(f"edgesim entrypoint: {exc}\n")
        return 2
    SECRETS_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    env = {k: v for k, v in os.environ.items() if k not in ("EDGESIM_API_TOKEN", "EDGESIM_CONTROL_TOKEN")}
    args = command(argv, SECRETS_FILE)
    os.execve(args[0], args, env)  # noqa: S606 (this interpreter)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
