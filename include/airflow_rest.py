"""The project's one wrapper around Airflow's official REST API client (``airflow_client.client``).

:class:`AirflowRest` logs in with ``POST /auth/token`` (username and password; the JWT goes into the
client's ``Configuration.access_token``) and offers the typed calls the project needs: trigger a DAG
run, read a run, set a run's state, list a run's task instances, read an XCom entry, list and read
DAGs. Every failure, HTTP or network, is an :class:`AirflowRestError` with the HTTP status (``0``
when no HTTP answer came) and a short excerpt of the body; neither the password nor the token is
ever put into a message.

A pure library: it imports neither Airflow core nor the project's plugins (the plugins' Airflow
REST API hook builds one from a connection).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from airflow_client.client import ApiClient, Configuration
from airflow_client.client.api.dag_api import DAGApi
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.api.task_instance_api import TaskInstanceApi
from airflow_client.client.api.x_com_api import XComApi
from airflow_client.client.exceptions import ApiException
from airflow_client.client.models.dag_response import DAGResponse
from airflow_client.client.models.dag_run_patch_body import DAGRunPatchBody
from airflow_client.client.models.dag_run_response import DAGRunResponse
from airflow_client.client.models.task_instance_response import TaskInstanceResponse
from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody
from airflow_client.client.models.x_com_response_native import XComResponseNative
from airflow_client.client.models.x_com_response_string import XComResponseString
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

T = TypeVar("T")

EXCERPT = 300
"""Characters of a response body kept in an :class:`AirflowRestError`."""
PAGE = 100
"""Entries per page when listing (the API's default page is 50)."""
AUTH = ["OAuth2PasswordBearer", "HTTPBearer"]
"""The client's names of the bearer-token security schemes (both send ``Authorization: Bearer``)."""


DATABASE_ERROR_PAUSES = (0.5, 1.0, 2.0)
"""Seconds to wait before each new try of a call the api-server failed with a database error (HTTP
500 "Database error": SQLite locked by another Airflow process's write, a PostgreSQL failover).
Its transaction was rolled back, so the call had done nothing."""


def _database_error(exc: ApiException) -> bool:
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body or "")
    return exc.status == 500 and "Database error" in body


class AirflowRestError(Exception):
    """A call to Airflow's REST API failed.

    :param status: the HTTP status; ``0`` when no HTTP answer came (connection, TLS, timeout) or the
        answer was not what the client understands.
    :param body: the answer's body (or what went wrong); only an excerpt is kept.
    :param action: what was being done, e.g. ``"GET dag run intent_pipeline/manual__..."``.
    """

    def __init__(self, status: int, body: str = "", action: str = "") -> None:
        self.status = status
        self.body = (body or "")[:EXCERPT]
        self.action = action
        what = f"{action}: " if action else ""
        answer = f"HTTP {status}" if status else "no valid answer"
        super().__init__(f"{what}{answer}: {self.body}" if self.body else f"{what}{answer}")


def api_base_url(host: str, scheme: str | None = None, port: int | None = None) -> str:
    """The api-server's base URL from a host that is either a URL or a bare host name.

    :param host: ``https://airflow.example[:port][/prefix]`` or ``airflow.example``.
    :param scheme: used when ``host`` has none (default ``http``).
    :param port: used when ``host`` has none.
    :raises ValueError: for a scheme other than http(s), credentials in the URL, or no host.
    """
    host = (host or "").strip().rstrip("/")
    if not host:
        raise ValueError("no host: give the api-server's URL, e.g. https://airflow.example")
    if "://" not in host:
        host = f"{scheme or 'http'}://{host}"
    try:
        parts = urllib.parse.urlsplit(host)
        has_port = parts.port is not None
    except ValueError:
        raise ValueError("the host is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the URL's scheme must be http or https, not {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL must not contain credentials: put them in login and password")
    if not parts.hostname:
        raise ValueError("the URL has no host name")
    if parts.query or parts.fragment:
        raise ValueError("the URL must not have a query or a fragment")
    netloc = parts.netloc if has_port or not port else f"{parts.netloc}:{int(port)}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def as_dict(model: BaseModel) -> dict[str, Any]:
    """A response model as plain JSON data: every field (``None`` included), dates as ISO strings.

    (The models' own ``to_dict()`` drops ``None`` fields, e.g. a task instance's ``state`` before
    it is scheduled, and keeps ``datetime`` objects.)
    """
    return model.model_dump(mode="json", by_alias=True)


class AirflowRest:
    """A logged-in client of one api-server.

    :param url: the api-server's base URL (see :func:`api_base_url`).
    :param username: the login.
    :param password: the password, used only for ``POST /auth/token``.
    :param timeout: seconds per request.
    :param verify_ssl: check the server's TLS certificate (https).
    :param ca_cert: a CA bundle file for https, instead of the system's.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float = 30.0,
        verify_ssl: bool = True,
        ca_cert: str | None = None,
    ) -> None:
        self.url = api_base_url(url)
        self.username = username
        self._password = password
        self.timeout = float(timeout)  # the generated methods accept floats only (StrictFloat)
        # A Configuration sets the process-wide "urllib3" and "airflow_client.client" loggers to
        # WARNING (its debug=False): put their levels back.
        loggers = [logging.getLogger(name) for name in ("urllib3", "airflow_client.client")]
        levels = [logger.level for logger in loggers]
        configuration = Configuration(host=self.url, ssl_ca_cert=ca_cert)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        configuration.verify_ssl = verify_ssl
        # Redirects are not followed (a token request must not go elsewhere); connections are
        # retried twice, requests never re-sent.
        configuration.retries = urllib3.Retry(total=2, connect=2, read=0, redirect=False, status=0)
        self.configuration = configuration
        self.api_client = ApiClient(configuration)
        self.dags = DAGApi(self.api_client)
        self.dag_runs = DagRunApi(self.api_client)
        self.task_instances_api = TaskInstanceApi(self.api_client)
        self.xcoms = XComApi(self.api_client)

    def __repr__(self) -> str:
        return f"AirflowRest({self.url!r}, {self.username!r})"

    def __enter__(self) -> AirflowRest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.api_client.rest_client.pool_manager.clear()

    # -- errors ----------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without the password or the token (a validation error may echo a request)."""
        for secret in (self._password, self.configuration.access_token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _error(self, exc: Exception, action: str) -> AirflowRestError:
        if isinstance(exc, ApiException):
            body = exc.body if isinstance(exc.body, str) else (exc.reason or "")
            return AirflowRestError(exc.status or 0, self._scrub(" ".join(str(body).split())), action)
        if isinstance(exc, ValidationError):
            # The client's pydantic validation refused the arguments or the answer ("title" names the
            # method or the model): say which fields, not their values.
            fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))
            return AirflowRestError(0, f"validation by the client failed: {exc.title} ({fields})", action)
        return AirflowRestError(0, self._scrub(f"{self.url} cannot be reached: {type(exc).__name__}"), action)

    # -- authentication --------------------------------------------------------------------------

    def login(self) -> None:
        """``POST /auth/token``; the JWT goes into ``Configuration.access_token``.

        The endpoint belongs to the auth manager, not to the ``/api/v2`` spec, so the client has no
        method for it: the request goes through the client's own HTTP layer.
        """
        action = f"login of {self.username!r} (POST /auth/token)"
        self.configuration.access_token = None
        try:
            method, url, headers, body, _ = self.api_client.param_serialize(
                "POST",
                "/auth/token",
                header_params={"Content-Type": "application/json", "Accept": "application/json"},
                body={"username": self.username, "password": self._password},
            )
            reply = self.api_client.call_api(method, url, headers, body, _request_timeout=self.timeout)
            reply.read()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error(exc, action) from None
        text = (reply.data or b"").decode(errors="replace")
        if not 200 <= reply.status <= 299:
            raise AirflowRestError(reply.status, self._scrub(" ".join(text.split())), action)
        try:
            token = json.loads(text)["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AirflowRestError(0, "the answer has no access_token", action) from None
        if not isinstance(token, str) or not token:
            raise AirflowRestError(0, "the answer has no access_token", action)
        self.configuration.access_token = token
        log.debug("Logged in to %s as %s", self.url, self.username)

    def access_token(self) -> str:
        """The JWT, logging in first when there is none yet."""
        if not self.configuration.access_token:
            self.login()
        return self.configuration.access_token

    def _call(self, action: str, call: Callable[[], T]) -> T:
        """``call()`` logged in; once more after a fresh login when the token was refused (expired),
        and again after each pause of :data:`DATABASE_ERROR_PAUSES` while the api-server answers
        with a database error."""
        relogged = not self.configuration.access_token
        self.access_token()
        pauses = iter(DATABASE_ERROR_PAUSES)
        while True:
            try:
                return call()
            except ApiException as exc:
                if exc.status == 401 and not relogged:
                    relogged = True
                    log.info("The api-server at %s refused the token; logging in again", self.url)
                    self.login()
                    continue
                pause = next(pauses, None) if _database_error(exc) else None
                if pause is None:
                    raise self._error(exc, action) from None
                log.warning("The api-server had a database error (%s); trying again in %g s", action, pause)
                time.sleep(pause)
            except (ValidationError, urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._error(exc, action) from None

    # -- DAGs ------------------------------------------------------------------------------------

    def get_dag(self, dag_id: str) -> DAGResponse:
        """``GET /api/v2/dags/{dag_id}``: 404 until the dag-processor has parsed it."""
        return self._call(
            f"GET dag {dag_id}", lambda: self.dags.get_dag(dag_id, _request_timeout=self.timeout)
        )

    def list_dags(self, dag_id_pattern: str | None = None) -> list[DAGResponse]:
        """``GET /api/v2/dags``, every page.

        :param dag_id_pattern: a case-insensitive SQL ``LIKE`` substring of the DAG ids.
        """
        dags: list[DAGResponse] = []
        while True:
            page = self._call(
                "GET dags",
                lambda: self.dags.get_dags(
                    limit=PAGE, offset=len(dags), dag_id_pattern=dag_id_pattern, _request_timeout=self.timeout
                ),
            )
            dags.extend(page.dags)
            if not page.dags or len(dags) >= page.total_entries:
                return dags

    def wait_for_dag(self, dag_id: str, timeout: float = 90, interval: float = 0.5) -> DAGResponse:
        """Poll :meth:`get_dag` while it answers 404 (not parsed yet), for up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get_dag(dag_id)
            except AirflowRestError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(interval)

    # -- DAG runs --------------------------------------------------------------------------------

    def trigger_dag_run(
        self, dag_id: str, conf: dict[str, Any] | None = None, *, run_id: str | None = None
    ) -> DAGRunResponse:
        """``POST /api/v2/dags/{dag_id}/dagRuns`` with ``logical_date`` null (a run "now").

        :param run_id: the run's id; by default Airflow makes one (``manual__<time>``).
        """
        body = TriggerDAGRunPostBody(conf=conf or {}, dag_run_id=run_id, logical_date=None)
        return self._call(
            f"trigger {dag_id}",
            lambda: self.dag_runs.trigger_dag_run(dag_id, body, _request_timeout=self.timeout),
        )

    def get_dag_run(self, dag_id: str, run_id: str) -> DAGRunResponse:
        """``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}``."""
        return self._call(
            f"GET run {run_id} of {dag_id}",
            lambda: self.dag_runs.get_dag_run(dag_id, run_id, _request_timeout=self.timeout),
        )

    def set_dag_run_state(self, dag_id: str, run_id: str, state: str) -> DAGRunResponse:
        """``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}`` with ``{"state": state}``.

        :param state: ``queued``, ``success`` or ``failed`` (anything else is refused before a request).
        """
        try:
            body = DAGRunPatchBody(state=state)
        except ValidationError:
            raise ValueError(f"state must be queued, success or failed, not {state!r}") from None
        return self._call(
            f"PATCH run {run_id} of {dag_id} to {state}",
            lambda: self.dag_runs.patch_dag_run(dag_id, run_id, body, _request_timeout=self.timeout),
        )

    # -- task instances and XComs ----------------------------------------------------------------

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstanceResponse]:
        """``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances``, every page."""
        found: list[TaskInstanceResponse] = []
        while True:
            page = self._call(
                f"GET task instances of run {run_id} of {dag_id}",
                lambda: self.task_instances_api.get_task_instances(
                    dag_id, run_id, limit=PAGE, offset=len(found), _request_timeout=self.timeout
                ),
            )
            found.extend(page.task_instances)
            if not page.task_instances or page.total_entries is None or len(found) >= page.total_entries:
                return found

    def get_xcom_entry(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str = "return_value",
        *,
        map_index: int | None = None,
    ) -> XComResponseNative | XComResponseString:
        """``GET .../taskInstances/{task_id}/xcomEntries/{key}``, deserialised: ``.value`` is the
        JSON value the task pushed."""
        entry = self._call(
            f"GET XCom {key} of {task_id} in run {run_id} of {dag_id}",
            lambda: self.xcoms.get_xcom_entry(
                dag_id,
                task_id,
                run_id,
                key,
                map_index=map_index,
                deserialize=True,
                stringify=False,
                _request_timeout=self.timeout,
            ),
        )
        return entry.actual_instance

    # -- human-in-the-loop (a wave's approval) ---------------------------------------------------

    def hitl_details(self, dag_id: str, run_id: str) -> list[Any]:
        """``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/hitlDetails``: the run's required actions."""
        found = self._call(
            f"GET required actions of run {run_id} of {dag_id}",
            lambda: self.task_instances_api.get_hitl_details(dag_id, run_id, _request_timeout=self.timeout),
        )
        return list(found.hitl_details)

    def answer_hitl(
        self, dag_id: str, run_id: str, task_id: str, chosen: list[str], *, map_index: int = -1
    ) -> Any:
        """``PATCH .../taskInstances/{task_id}/{map_index}/hitlDetails``: answer a required action."""
        from airflow_client.client.models.update_hitl_detail_payload import UpdateHITLDetailPayload

        payload = UpdateHITLDetailPayload(chosen_options=chosen, params_input={})
        return self._call(
            f"answer the required action of {task_id} in run {run_id} of {dag_id}",
            lambda: self.task_instances_api.update_hitl_detail(
                dag_id, run_id, task_id, map_index, payload, _request_timeout=self.timeout
            ),
        )

    # -- anything else ---------------------------------------------------------------------------

    def request_json(self, method: str, path: str, body: Any = None) -> Any:
        """Any JSON endpoint of the api-server, logged in, without a model: the decoded answer.

        :param path: from the server's root, with its query, e.g. ``/api/v2/dags/x/dagRuns?limit=5``.
        """

        def call() -> Any:
            request = self.api_client.param_serialize(
                method,
                path,
                header_params={"Content-Type": "application/json", "Accept": "application/json"},
                body=body,
                auth_settings=AUTH,
            )
            reply = self.api_client.call_api(*request[:4], _request_timeout=self.timeout)
            reply.read()
            if not 200 <= reply.status <= 299:
                raise ApiException(http_resp=reply)
            try:
                return json.loads(reply.data) if reply.data else None
            except ValueError:
                raise AirflowRestError(reply.status, "the answer is not JSON", action) from None

        action = f"{method} {path.split('?')[0]}"
        return self._call(action, call)
