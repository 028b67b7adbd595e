"""The Config Sync manifests each edge site needs, generated from the site catalogue.

For every site: the ``configsync.gke.io/v1beta1`` RootSync ``root-sync`` in
``config-management-system`` (the object the pipeline's sync wait reads) that syncs the site's config
repository (the catalogue's ``repo``) from branch ``main`` in the unstructured format, with token
authentication through the ``git-creds`` Secret. The token is never written by this command: the
manifest's header gives the kubectl command that creates the Secret with the token read from a file
(so it stays off the command line). The Secret is not a document of the manifest on purpose:
re-applying a Secret without its token would remove the token (kubectl apply drops the keys the
applied object no longer has), so the file can be applied again at any time.

    python -m include.gitops.rootsync --site edge1 --git-url https://gitea.example/edge-intent
    python -m include.gitops.rootsync --all --git-url https://gitea.example/edge-intent --out DIR

``--git-url`` is the base of the repositories (the Gitea organisation's URL); a site's repository is
``<git-url>/<repo>.git``. Exit status: 0 done; 2 invalid arguments or configuration.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from include.compiler.config import ConfigError, Site, load_settings

from .auth import CredentialsInURLError, check_url

API_VERSION = "configsync.gke.io/v1beta1"
NAME = "root-sync"
NAMESPACE = "config-management-system"
SECRET_NAME = "git-creds"  # noqa: S105 (the Secret's name)
DEFAULT_USERNAME = "configsync"
DEFAULT_BRANCH = "main"
DEFAULT_DIR = "/"
DEFAULT_PERIOD = "15s"
_PERIOD = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")  # a Go duration, as metav1.Duration
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def repo_url(git_url: str, site: Site) -> str:
    """``<git_url>/<repo>.git``; refuses credentials in the URL and schemes other than http(s)."""
    base = check_url(git_url.strip()).rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError("--git-url must be an https:// (or http://) URL")
    return f"{base}/{site.repo}.git"


def rootsync(
    site: Site,
    git_url: str,
    *,
    branch: str = DEFAULT_BRANCH,
    directory: str = DEFAULT_DIR,
    period: str = DEFAULT_PERIOD,
    secret_name: str = SECRET_NAME,
) -> dict[str, Any]:
    """The site's RootSync (field names as in Config Sync's RootSync API reference)."""
    if not directory.startswith("/"):
        raise ValueError("--dir must be an absolute path in the repository, such as / or /intents")
    if not _PERIOD.fullmatch(period):
        raise ValueError(f"--period must be a duration such as 15s or 1m, got {period!r}")
    if not _SECRET_NAME.fullmatch(secret_name) or len(secret_name) > 253:
        raise ValueError(f"--secret-name must be a Kubernetes object name, got {secret_name!r}")
    return {
        "apiVersion": API_VERSION,
        "kind": "RootSync",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "edge-intent", "edge-intent/site": site.name},
        },
        "spec": {
            "sourceType": "git",
            "sourceFormat": "unstructured",
            "git": {
                "repo": repo_url(git_url, site),
                "branch": branch,
                "dir": directory,
                "period": period,
                "auth": "token",
                "secretRef": {"name": secret_name},
            },
        },
    }


def git_credentials_secret(
    site: Site, *, username: str = DEFAULT_USERNAME, token: str | None = None, secret_name: str = SECRET_NAME
) -> dict[str, Any]:
    """The Secret the RootSync refers to, as :func:`secret_command` creates it: keys ``username`` and
    ``token`` (Config Sync's names for ``auth: token``); without ``token`` when none is given."""
    if not username or any(c.isspace() for c in username):
        raise ValueError("--username must be a Git user name without spaces")
    data = {"username": username} | ({"token": token} if token else {})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "edge-intent", "edge-intent/site": site.name},
        },
        "type": "Opaque",
        "stringData": data,
    }


def secret_command(*, username: str = DEFAULT_USERNAME, secret_name: str = SECRET_NAME) -> str:
    """The kubectl command that creates (or replaces) the Secret with its token, read from a file."""
    return (
        f"kubectl create secret generic {secret_name} --namespace={NAMESPACE} "
        f"--from-literal=username={username} --from-file=token=./{username}.token "
        "--dry-run=client -o yaml | kubectl apply -f -"
    )


def manifest(
    site: Site,
    git_url: str,
    *,
    branch: str = DEFAULT_BRANCH,
    directory: str = DEFAULT_DIR,
    period: str = DEFAULT_PERIOD,
    username: str = DEFAULT_USERNAME,
    secret_name: str = SECRET_NAME,
) -> str:
    """The site's manifest file: a header with the Secret's kubectl command, then the RootSync."""
    sync = rootsync(site, git_url, branch=branch, directory=directory, period=period, secret_name=secret_name)
    git_credentials_secret(site, username=username, secret_name=secret_name)  # validates the user name
    header = "\n".join(
        [
            f"# Config Sync for edge site {site.name}: generated by `python -m include.gitops.rootsync`",
            "# from the site catalogue. On the site's cluster, where Config Sync is installed:",
            f"# 1. the Secret {secret_name} with the read-only access token of Git user {username}",
            "#    (for Gitea: scope read:repository), from a file holding only the token, with no",
            f'#    trailing newline (e.g. printf %s "$TOKEN" > ./{username}.token):',
            f"#      {secret_command(username=username, secret_name=secret_name)}",
            "# 2. this RootSync: kubectl apply -f <this file>",
        ]
    )
    return f"{header}\n{yaml.safe_dump(sync, sort_keys=False, explicit_start=True)}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.gitops.rootsync",
        description="Config Sync RootSync of edge sites, and how to create its git-creds Secret.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--site", action="append", help="a site of the catalogue (repeatable)")
    which.add_argument("--all", action="store_true", help="every site of the catalogue")
    parser.add_argument(
        "--git-url",
        required=True,
        help="base URL of the site repositories, e.g. https://gitea.example/edge-intent",
    )
    parser.add_argument("--branch", default=DEFAULT_BRANCH)
    parser.add_argument("--dir", default=DEFAULT_DIR, help="directory of the repository to sync (default /)")
    parser.add_argument("--period", default=DEFAULT_PERIOD, help="time between syncs (default 15s)")
    parser.add_argument("--username", default=DEFAULT_USERNAME, help="the sites' read-only Git user")
    parser.add_argument("--secret-name", default=SECRET_NAME)
    parser.add_argument("--out", type=Path, help="write DIR/<site>-rootsync.yaml instead of standard output")
    parser.add_argument(
        "--sites-file", help="site catalogue (default: $EDGE_INTENT_SITES or config/sites.yaml)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        catalogue = load_settings(args.sites_file).catalogue
        names = list(catalogue.names) if args.all else args.site
        unknown = [name for name in names if catalogue.get(name) is None]
        if unknown:
            raise ValueError(
                f"unknown site {', '.join(map(repr, unknown))}; known sites are {', '.join(catalogue.names)}"
            )
        files = {
            name: manifest(
                catalogue.get(name),
                args.git_url,
                branch=args.branch,
                directory=args.dir,
                period=args.period,
                username=args.username,
                secret_name=args.secret_name,
            )
            for name in dict.fromkeys(names)
        }
    except (ConfigError, CredentialsInURLError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.out is None:
        sys.stdout.write("\n".join(files.values()))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = args.out / f"{name}-rootsync.yaml"
        path.write_text(text)
        sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
