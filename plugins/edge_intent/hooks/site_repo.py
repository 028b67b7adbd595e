"""The site config repositories, through one Airflow connection to the Git server.

Connection ``gitea_default`` (type ``http``): host (``https://gitea.example`` or
``http://127.0.0.1:PORT``), login and an access token as password; the optional ``owner`` extra is
the Gitea organisation of the repositories. Each site's repository is named in the site catalogue.
The local clones live under ``$EDGE_INTENT_GIT_CACHE`` (default ``$AIRFLOW_HOME/edge-intent/git``).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from include.compiler.config import Site, load_settings

if TYPE_CHECKING:
    from include.gitops.repo import SiteRepo


class UnknownSite(ValueError):
    """A site name that is not in the site catalogue."""


def catalogue_site(name: str) -> Site:
    """The catalogue entry of ``name``, or :class:`UnknownSite`."""
    found = load_settings().catalogue.get(name)
    if found is None:
        raise UnknownSite(f"site {name!r} is not in the site catalogue")
    return found


def git_cache_dir() -> Path:
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "edge-intent" / "git"
    return Path(os.environ.get("EDGE_INTENT_GIT_CACHE", default))


def base_url(conn: Any, default_scheme: str = "https") -> str:
    """A connection's base URL: its host when that is a URL, else built from schema, host and port."""
    host = (conn.host or "").rstrip("/")
    if "://" not in host:
        host = f"{conn.schema or default_scheme}://{host}{f':{conn.port}' if conn.port else ''}"
    return host


def http_url(conn: Any, conn_id: str) -> str:
    """An http(s) service's base URL (:func:`base_url`, default scheme http); refused when it carries
    credentials (they go in login and password, so that no URL in a log, an error or evidence holds
    them) or has another scheme."""
    url = base_url(conn, default_scheme="http")
    parts = urlsplit(url)
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValueError(
            f"connection {conn_id}: the host must not carry credentials; "
            "put them in the connection's login and password"
        )
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"connection {conn_id}: the host must be an http(s) URL")
    return url


def basic_auth(conn: Any) -> dict[str, str]:
    """The ``Authorization`` header of a connection's login and password (none without a login)."""
    if not conn.login:
        return {}
    token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class SiteRepoHook(BaseHook):
    """Opens the site config repositories with the credentials of one Git server connection.

    :param git_conn_id: the connection to the Git server.
    """

    conn_name_attr = "git_conn_id"
    default_conn_name = "gitea_default"
    conn_type = "http"
    hook_name = "Edge site config repositories (Git)"

    def __init__(self, git_conn_id: str = default_conn_name, **kwargs) -> None:
        super().__init__(**kwargs)
        self.git_conn_id = git_conn_id
        self._conn: Any = None

    def get_conn(self) -> Any:
        if self._conn is None:
            self._conn = self.get_connection(self.git_conn_id)
        return self._conn

    def repo_url(self, site: str) -> str:
        conn = self.get_conn()
        owner = (conn.extra_dejson or {}).get("owner")
        return f"{base_url(conn)}/{owner + '/' if owner else ''}{catalogue_site(site).repo}.git"

    def get_repo(self, site: str) -> SiteRepo:
        """The site's config repository (a locked local clone under the Git cache)."""
        # GitPython is imported by the tasks that use Git, not by every task that parses a DAG file
        from include.gitops.auth import GitAuth
        from include.gitops.repo import SiteRepo

        conn = self.get_conn()
        auth = GitAuth(conn.login, conn.password) if conn.login else None
        return SiteRepo(self.repo_url(site), auth, git_cache_dir())


def site_repo(site: str, git_conn_id: str = SiteRepoHook.default_conn_name) -> SiteRepo:
    """Shorthand for ``SiteRepoHook(git_conn_id).get_repo(site)``."""
    return SiteRepoHook(git_conn_id).get_repo(site)
