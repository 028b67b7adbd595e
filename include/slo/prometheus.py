"""Instant queries to Prometheus through prometheus-api-client, at a given evaluation time.

Every query has explicit connect and read timeouts and is never retried by the client: an
unreachable or hanging Prometheus is said at once, so a gate fails closed within its evaluation
interval instead of after the library's hidden retries (about 6 s per refused query otherwise).
"""

from __future__ import annotations

from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from .evaluate import PrometheusUnavailable

CONNECT_TIMEOUT = 2.0
"""Seconds to open a connection to Prometheus."""
READ_MARGIN = 1.0
"""Seconds a reply may take beyond the query's own ``timeout`` that Prometheus enforces."""


class PrometheusQuery:
    """:param url: Prometheus' base URL. :param headers: e.g. an Authorization header."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client = PrometheusConnect(
            url=url,
            headers=headers,
            disable_ssl=url.startswith("http://"),
            retry=Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False),
            timeout=(CONNECT_TIMEOUT, timeout + READ_MARGIN),
        )

    def __call__(self, query: str, at: float) -> float | None:
        """The value of ``query`` at ``at`` (epoch seconds); None when it has no samples."""
        try:
            result = self._client.custom_query(
                query, params={"time": f"{at:.3f}", "timeout": f"{self.timeout:g}s"}
            )
        except Exception as exc:  # the client raises requests' and its own errors
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} could not answer: {' '.join(str(exc).split())[:300]}"
            ) from None
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusUnavailable(f"query returned {len(result)} series, expected one: {query}")
        return float(result[0]["value"][1])
