"""From the site catalogue to Airflow connections: a site's Kubernetes API and its config repo.

Connections (credentials stay in them):
* ``kubernetes_<site>`` (the catalogue's ``kubernetesConnId``): a ``kubernetes`` connection whose
  ``kube_config`` extra points at the site's API server;
* ``gitea_default``: host (``https://gitea.example`` or ``http://127.0.0.1:PORT``), login and an
  access token as password; the optional ``owner`` extra is the Gitea organisation of the repos.

The local clones live under ``$EDGE_INTENT_GIT_CACHE`` (default ``$AIRFLOW_HOME/edge-intent/git``).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from include.compiler.config import Site, load_settings
from include.gitops.auth import GitAuth
from include.gitops.repo import SiteRepo

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

GIT_CONN_ID = "gitea_default"
PROMETHEUS_CONN_ID = "prometheus_default"
ROOTSYNC = ("configsync.gke.io", "v1beta1", "rootsyncs", "root-sync", "config-management-system")
PROVISIONING = ("o2ims.provisioning.oran.org", "v1alpha1", "provisioningrequests")


def site(name: str) -> Site:
    found = load_settings().catalogue.get(name)
    if found is None:
        raise ValueError(f"site {name!r} is not in the site catalogue")
    return found


def git_cache_dir() -> Path:
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "edge-intent" / "git"
    return Path(os.environ.get("EDGE_INTENT_GIT_CACHE", default))


def site_repo(site_name: str, conn_id: str = GIT_CONN_ID) -> SiteRepo:
    """The site's config repository, with the Git connection's credentials."""
    conn = BaseHook.get_connection(conn_id)
    host = (conn.host or "").rstrip("/")
    if "://" not in host:
        scheme = conn.schema or "https"
        host = f"{scheme}://{host}{f':{conn.port}' if conn.port else ''}"
    owner = (conn.extra_dejson or {}).get("owner")
    url = f"{host}/{owner + '/' if owner else ''}{site(site_name).repo}.git"
    auth = GitAuth(conn.login, conn.password) if conn.login else None
    return SiteRepo(url, auth, git_cache_dir())


def prometheus_url(conn_id: str = PROMETHEUS_CONN_ID) -> tuple[str, dict[str, str]]:
    """Prometheus' base URL and request headers (basic auth when the connection has a login)."""
    import base64

    conn = BaseHook.get_connection(conn_id)
    host = (conn.host or "").rstrip("/")
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}{f':{conn.port}' if conn.port else ''}"
    headers = {}
    if conn.login:
        token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return host, headers


class EdgeSite:
    """Reads one site's Kubernetes API through its Airflow connection (KubernetesHook)."""

    def __init__(self, site_name: str) -> None:
        self.name = site_name
        self.conn_id = site(site_name).kubernetesConnId

    @cached_property
    def hook(self) -> KubernetesHook:
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

        return KubernetesHook(conn_id=self.conn_id)

    def rootsync(self) -> dict[str, Any]:
        group, version, plural, name, namespace = ROOTSYNC
        return self.hook.get_custom_object(
            group=group, version=version, plural=plural, name=name, namespace=namespace
        )

    def namespace_exists(self, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.hook.core_v1_client.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def provisioning_request(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        group, version, plural = PROVISIONING
        try:
            return self.hook.custom_object_client.get_cluster_custom_object(group, version, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
