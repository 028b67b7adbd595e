"""The local stack's client of Airflow's REST API v2 (tests, the demo, ``bench/``): a token from
``/auth/token``, DAG runs, task instances and XComs through :mod:`include.airflow_rest` (the official
``apache-airflow-client``), answers as plain JSON dicts; plus :meth:`AirflowAPI.send`, one raw HTTP
request for the project's own endpoints and for negative tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from include.airflow_rest import AirflowRest, AirflowRestError, as_dict

AirflowAPIError = AirflowRestError
"""What every call but :meth:`AirflowAPI.send` raises: ``.status`` (HTTP, ``0`` for none) and ``.body``."""


class AirflowAPI:
    """:param url: the api-server's base URL. :param username: :param password: the login."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.rest = AirflowRest(url, username, password)
        self.url = self.rest.url

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        """Any JSON endpoint under the login, e.g. ``_call("GET", "/api/v2/dags/x/dagRuns?limit=5")``."""
        return self.rest.request_json(method, path, body)

    def send(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        *,
        content_type: str | None = "application/json",
        token: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """One raw request: ``(status, headers, decoded JSON body or text)``; never raises on HTTP errors.

        :param token: the bearer token; ``""`` uses this client's own login, ``None`` sends none.
        """
        sent = dict(headers or {})
        if content_type:
            sent["Content-Type"] = content_type
        if token is not None:
            sent["Authorization"] = f"Bearer {token or self.token()}"
        request = urllib.request.Request(f"{self.url}{path}", method=method, headers=sent, data=data)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                status, answer, raw = reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as exc:
            status, answer, raw = exc.code, dict(exc.headers), exc.read()
        try:
            return status, answer, json.loads(raw) if raw else None
        except ValueError:
            return status, answer, raw.decode(errors="replace")

    def token(self) -> str:
        """The JWT (``POST /auth/token`` on first use); :class:`AirflowAPIError` when the login fails."""
        return self.rest.access_token()

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict[str, Any]:
        """The DAG once the dag-processor has parsed it (the API answers 404 until then)."""
        return as_dict(self.rest.wait_for_dag(dag_id, timeout))

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """A new run with ``conf`` (logical date null); its run id."""
        return self.rest.trigger_dag_run(dag_id, conf).dag_run_id

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return as_dict(self.rest.get_dag_run(dag_id, run_id))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return [as_dict(ti) for ti in self.rest.task_instances(dag_id, run_id)]

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int | None = None
    ) -> Any:
        """The value ``task_id`` (its instance ``map_index`` when mapped) pushed under ``key``."""
        return self.rest.get_xcom_entry(dag_id, run_id, task_id, key, map_index=map_index).value

    def required_actions(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's human-in-the-loop requests (a wave's approval), answered or not."""
        return [as_dict(detail) for detail in self.rest.hitl_details(dag_id, run_id)]

    def answer(self, dag_id: str, run_id: str, task_id: str, option: str) -> dict[str, Any]:
        """Answer a required action (``Approve`` or ``Reject``) as this client's user."""
        return as_dict(self.rest.answer_hitl(dag_id, run_id, task_id, [option]))

    def follow(
        self,
        dag_id: str,
        run_id: str,
        *,
        timeout: float = 300,
        interval: float = 0.25,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the run ends; call ``on_change(task_instance)`` whenever a task's state changes."""
        seen: dict[tuple[str, int], str | None] = {}  # (task id, map index): state

        def changes() -> None:
            for ti in self.task_instances(dag_id, run_id):
                key = (ti["task_id"], ti.get("map_index", -1))
                if seen.get(key, "") != ti["state"]:
                    seen[key] = ti["state"]
                    if on_change:
                        on_change(ti)

        deadline = time.time() + timeout
        while True:
            changes()
            run = self.run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                changes()
                return run
            if time.time() > deadline:
                raise TimeoutError(f"DAG run {run_id} did not end within {timeout:g} s (states: {seen})")
            time.sleep(interval)
