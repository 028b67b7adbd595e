"""Prometheus, through one Airflow connection and prometheus-api-client.

Connection ``prometheus_default`` (type ``http``): host (``http://127.0.0.1:9090``); a login and
password when Prometheus sits behind basic auth. Queries carry explicit connect and read timeouts
and are never retried by the client: an unreachable Prometheus is said at once, and the gate that
asked fails closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from edge_intent.hooks.site_repo import basic_auth, http_url

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
        """Prometheus' base URL (see :func:`edge_intent.hooks.site_repo.http_url`)."""
        return http_url(self.get_conn(), self.prometheus_conn_id)

    def headers(self) -> dict[str, str]:
        return basic_auth(self.get_conn())

    def query_client(self) -> PrometheusQuery:
        """A query function ``(promql, at) -> value | None`` for :func:`include.slo.evaluate.verify`."""
        from include.slo.prometheus import PrometheusQuery  # the client library: only where queried

        return PrometheusQuery(self.url, self.headers())
