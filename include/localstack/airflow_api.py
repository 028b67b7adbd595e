"""A small client of Airflow's REST API v2: a token from ``/auth/token``, DAG runs, task instances."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


class AirflowAPIError(Exception):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body[:500]}")


class AirflowAPI:
    """:param url: the api-server's base URL. :param username: :param password: the login."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self._login = (username, password)
        self._token: str | None = None

    def _call(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers=headers,
            data=None if body is None else json.dumps(body).encode(),
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return json.load(reply)
        except urllib.error.HTTPError as exc:
            raise AirflowAPIError(exc.code, exc.read().decode(errors="replace")) from None

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
        if self._token is None:
            username, password = self._login
            self._token = self._call(
                "POST", "/auth/token", {"username": username, "password": password}, auth=False
            )["access_token"]
        return self._token

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.time() + timeout
        while True:
            try:
                return self._call("GET", f"/api/v2/dags/{dag_id}")
            except AirflowAPIError as exc:
                if exc.status != 404 or time.time() > deadline:
                    raise
            time.sleep(0.5)

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self._call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
            "?deserialize=true&stringify=false",
        )
        return entry["value"]

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
        seen: dict[str, str | None] = {}
        deadline = time.time() + timeout
        while True:
            for ti in self.task_instances(dag_id, run_id):
                if seen.get(ti["task_id"], "") != ti["state"]:
                    seen[ti["task_id"]] = ti["state"]
                    if on_change:
                        on_change(ti)
            run = self.run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                for ti in self.task_instances(dag_id, run_id):
                    if seen.get(ti["task_id"], "") != ti["state"] and on_change:
                        on_change(ti)
                return run
            if time.time() > deadline:
                raise TimeoutError(f"DAG run {run_id} did not end within {timeout:g} s (states: {seen})")
            time.sleep(interval)
