"""Airflow's own REST API v2, through one Airflow connection and :mod:`include.airflow_rest` (the
official ``apache-airflow-client``). Tasks have no access to the metadata database in Airflow 3:
what they change in other DAG runs goes through the api-server, as an operator's click would.

Connection ``airflow_api`` (type ``http``): host = the api-server's URL (``https://airflow.example``;
or a bare host name with the scheme in *schema* and a port), login and password of a user allowed
to edit DAG runs. Optional extras: ``timeout`` (seconds per request, default 30) and ``ca_cert``
(a CA bundle file for https). The password is sent only to ``POST /auth/token``; the JWT it buys
is kept in memory only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseHook

from include.airflow_rest import AirflowRest, api_base_url, as_dict


class AirflowApiHook(BaseHook):
    """Calls Airflow's REST API v2 with the login of a connection.

    :param airflow_api_conn_id: the connection to the api-server.
    """

    conn_name_attr = "airflow_api_conn_id"
    default_conn_name = "airflow_api"
    conn_type = "http"
    hook_name = "Airflow REST API"

    def __init__(self, airflow_api_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.airflow_api_conn_id = airflow_api_conn_id
        self._client: AirflowRest | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": [],
            "relabeling": {"host": "API server URL", "schema": "Scheme (when the host is no URL)"},
            "placeholders": {
                "host": "https://airflow.example",
                "login": "a user allowed to edit DAG runs",
                "extra": '{"timeout": 30, "ca_cert": "/path/to/ca.pem"}',
            },
        }

    def get_conn(self) -> AirflowRest:
        """The REST client for the connection (built once; it logs in on its first call).

        :raises ValueError: when the connection's host is not an http(s) URL without credentials,
            or it has no login.
        """
        if self._client is None:
            name = self.airflow_api_conn_id
            conn = self.get_connection(name)
            try:
                url = api_base_url(conn.host or "", scheme=conn.schema or None, port=conn.port)
            except ValueError as exc:
                raise ValueError(f"connection {name}: {exc}") from None
            if not conn.login:
                raise ValueError(f"connection {name}: no login")
            extra = conn.extra_dejson
            try:
                timeout = float(extra.get("timeout", 30))
            except (TypeError, ValueError):
                raise ValueError(f"connection {name}: extra timeout: not a number") from None
            self._client = AirflowRest(
                url, conn.login, conn.password or "", timeout=timeout, ca_cert=extra.get("ca_cert") or None
            )
        return self._client

    def test_connection(self) -> tuple[bool, str]:
        """Log in with the connection's login: ``(True, ...)`` when the api-server gives a token."""
        try:
            client = self.get_conn()
            client.login()
        except Exception as exc:  # the UI's connection test reports any failure
            return False, str(exc)
        return True, f"Logged in to {client.url} as {client.username}"

    def get_dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The run as the API gives it (``state``, ``dag_run_id``, dates as ISO strings, ...).

        :raises include.airflow_rest.AirflowRestError: e.g. ``status`` 404 for an unknown run.
        """
        return as_dict(self.get_conn().get_dag_run(dag_id, run_id))

    def set_dag_run_state(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        """Set a run's state (``queued``, ``success`` or ``failed``); the run as it is afterwards.

        Marking a run failed makes Airflow end its unfinished task instances (active ones failed,
        pending ones skipped).

        :raises include.airflow_rest.AirflowRestError: the API refused or could not be reached.
        """
        return as_dict(self.get_conn().set_dag_run_state(dag_id, run_id, state))

    def hitl_detail(self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1) -> dict[str, Any]:
        """A task's required action as it stands, with its answer if one was given
        (``response_received``, ``chosen_options``, ``responded_by_user``, ``responded_at``). A new
        try of the task clears the answer only when it asks again, so until then it is the answer
        the previous try was given (the history of each try is not always written by then).

        :raises include.airflow_rest.AirflowRestError: e.g. ``status`` 404 when the task asked nothing.
        """
        path = (
            f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
            f"/{map_index}/hitlDetails"
        )
        return self.get_conn().request_json("GET", path)

    def set_dag_run_note(self, dag_id: str, run_id: str, note: str) -> dict[str, Any]:
        """Set a run's note (what the UI shows beside the run in the grid), at most 1000 characters.

        :raises include.airflow_rest.AirflowRestError: the API refused or could not be reached.
        """
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}?update_mask=note"
        text = note if len(note) <= 1000 else note[:997] + "..."
        return self.get_conn().request_json("PATCH", path, {"note": text})
