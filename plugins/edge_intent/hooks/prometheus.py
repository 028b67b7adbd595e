"""Prometheus, through one Airflow connection and prometheus-api-client.

Connection ``prometheus_default`` (type ``http``): host (``http://127.0.0.1:9090``); a login and
password when Prometheus sits behind basic auth. Queries carry explicit connect and read timeouts
and are never retried by the client: an unreachable Prometheus is said at once, and the gate that
asked fails closed.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from edge_intent.hooks.site_repo import base_url

if TYPE_CHECKING:
    from include.slo.prometheus import PrometheusQuery


class PrometheusHook(BaseHook):
    """:param prometheus_conn_id: the connection to Prometheus."""

    conn_name_attr = "prometheus_conn_id"
    default_conn_name = "prometheus_default"
    conn_type = "http"
    hook_name = "Prometheus"

    def __init__(self, prometheus_conn_id: str = default_conn_name, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prometheus_conn_id = prometheus_conn_id
        self._conn: Any = None

    def get_conn(self) -> Any:
        if self._conn is None:
            self._conn = self.get_connection(self.prometheus_conn_id)
        return self._conn

    @property
    def url(self) -> str:
        """Prometheus' base URL; refused when it carries credentials (they go in login and password,
        so that no URL in a log, an error or evidence holds them)."""
        url = base_url(self.get_conn(), default_scheme="http")
        parts = urlsplit(url)
        if parts.username or parts.password or "@" in parts.netloc:
            raise ValueError(
                f"connection {self.prometheus_conn_id}: the host must not carry credentials; "
                "put them in the connection's login and password"
            )
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"connection {self.prometheus_conn_id}: the host must be an http(s) URL")
        return url

    def headers(self) -> dict[str, str]:
        conn = self.get_conn()
        if not conn.login:
            return {}
        token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def query_client(self) -> PrometheusQuery:
        """A query function ``(promql, at) -> value | None`` for :func:`include.slo.evaluate.verify`."""
        from include.slo.prometheus import PrometheusQuery  # the client library: only where queried

        return PrometheusQuery(self.url, self.headers())
