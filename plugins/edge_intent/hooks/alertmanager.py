"""Alertmanager, through one Airflow connection: the pipeline's own findings sent as alerts.

Connection ``alertmanager_default`` (type ``http``): host (``http://127.0.0.1:9093``); a login and
password when Alertmanager sits behind basic auth. A request has a 5 s timeout and is not retried:
an alert that cannot be sent is said in the log and in the verdict, and never fails the task.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from airflow.sdk import BaseHook

from edge_intent.hooks.site_repo import basic_auth, http_url

TIMEOUT_S = 5.0


class AlertmanagerError(Exception):
    """Alertmanager refused the alerts or could not be reached (no credentials in the message)."""


class AlertmanagerHook(BaseHook):
    """:param alertmanager_conn_id: the connection to Alertmanager."""

    conn_name_attr = "alertmanager_conn_id"
    default_conn_name = "alertmanager_default"
    conn_type = "http"
    hook_name = "Alertmanager"

    def __init__(self, alertmanager_conn_id: str = default_conn_name, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alertmanager_conn_id = alertmanager_conn_id
        self._conn: Any = None

    def get_conn(self) -> Any:
        if self._conn is None:
            self._conn = self.get_connection(self.alertmanager_conn_id)
        return self._conn

    @property
    def url(self) -> str:
        """Alertmanager's base URL (see :func:`edge_intent.hooks.site_repo.http_url`)."""
        return http_url(self.get_conn(), self.alertmanager_conn_id)

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json", **basic_auth(self.get_conn())}
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.url}{path}"  # http(s) only: see url
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:  # noqa: S310 (http(s) only)
                text = reply.read().decode()
        except urllib.error.HTTPError as exc:
            raise AlertmanagerError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
        except (OSError, ValueError) as exc:
            raise AlertmanagerError(f"{method} {path}: no answer ({type(exc).__name__}: {exc})") from None
        return json.loads(text) if text.strip() else None

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts``.

        :raises AlertmanagerError: refused or unreachable.
        """
        self._request("POST", "/api/v2/alerts", alerts)

    def test_connection(self) -> tuple[bool, str]:
        try:
            status = self._request("GET", "/api/v2/status")
        except (AlertmanagerError, ValueError) as exc:
            return False, str(exc)
        return True, f"Alertmanager {status.get('versionInfo', {}).get('version', '?')} at {self.url}"


def send(
    verdict: dict[str, Any], *, intent_id: str, run_id: str, task: str, conn_id: str, now: float
) -> dict:
    """Send ``verdict``'s alert-class findings; what became of them (``sent``, and ``error`` when they
    could not be sent), or ``{}`` when there were none. Never raises."""
    from airflow.exceptions import AirflowNotFoundException

    from include.slo.alerting import postable

    alerts = postable(verdict, intent_id=intent_id, run_id=run_id, task=task, now=now)
    if not alerts:
        return {}
    hook = AlertmanagerHook(conn_id)
    try:
        hook.post_alerts(alerts)
    except AirflowNotFoundException:
        hook.log.info("No connection %s: %d alert(s) kept in the verdict only", conn_id, len(alerts))
        return {"sent": 0, "error": f"no connection {conn_id}"}
    except (AlertmanagerError, ValueError) as exc:
        hook.log.warning("Alerts not sent to Alertmanager: %s", exc)
        return {"sent": 0, "error": str(exc)}
    hook.log.warning(
        "Sent %d alert(s) to Alertmanager: %s", len(alerts), [a["labels"]["alertname"] for a in alerts]
    )
    return {"sent": len(alerts)}
