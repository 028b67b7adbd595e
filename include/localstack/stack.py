"""Start and stop the local stack: Git smart-HTTP server, one edge-site simulator per site, and
Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor on SQLite, or the
CeleryExecutor on PostgreSQL and Redis with two workers: see :mod:`include.localstack.celery`).

Everything listens on 127.0.0.1 on ports chosen at run time. Tokens are random per stack, kept in
files readable only by the owner, and reach Airflow as connections in ``AIRFLOW_CONN_*``
variables; no credential is put on a command line or in a URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.compiler.config import PROJECT_ROOT, load_settings
from include.localstack import celery, monitoring, sqlite
from include.localstack.processes import (
    Service,
    free_port,
    kill,
    spawn,
    stop_all,
    wait_for_file,
    write_secret,
)
from include.localstack.processes import stop_pids as stop_pids

PYTHON = sys.executable
AIRFLOW = str(Path(sys.executable).parent / "airflow")
ADMIN = ("admin", "admin")
METRICS_PATH = monitoring.METRICS_PATH
OPERATOR = ("operator", "operator")
"""Role ``op``: may trigger DAGs and use the intent API."""
VIEWER = ("viewer", "viewer")
"""Role ``viewer``: may read, not trigger (the intent API answers 403)."""
USERS = {ADMIN: "admin", OPERATOR: "op", VIEWER: "viewer"}


@dataclass
class Stack:
    """A running local stack. ``stop()`` ends every process it started."""

    root: Path
    sites: list[str]
    services: dict[str, Service] = field(default_factory=dict)
    git_url: str = ""
    git_users: dict[str, dict[str, Any]] = field(default_factory=dict)
    site_secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    airflow_url: str = ""
    prometheus_url: str = ""
    alertmanager_url: str = ""
    celery_backends: celery.Backends | None = None
    """PostgreSQL and Redis of the CeleryExecutor; None: the LocalExecutor on SQLite."""
    retired_groups: list[int] = field(default_factory=list)
    """Process groups of services started again: what a crash left running in them (the
    LocalExecutor's workers of a scheduler killed alone) is stopped with the stack."""

    # -- processes -------------------------------------------------------------------------------

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None, user: str | None = None
    ) -> Service:
        service = spawn(name, args, self.root / "logs" / f"{name}.log", env, user)
        self.services[name] = service
        return service

    def kill(self, name: str, *, group: bool = True, tree: bool = False) -> None:
        """SIGKILL one service (``gitserver``, ``scheduler``, ``api-server``, a site, ``worker1`` ...);
        see :func:`include.localstack.processes.kill` for ``group`` and ``tree``."""
        kill(self.services[name], group=group, tree=tree)

    def restart(self, name: str) -> Service:
        """Start a killed service again with the same command and environment (same port: every
        service that listens is given its port on its command line or in its environment)."""
        old = self.services[name]
        if old.process.poll() is None:
            kill(old)
        self.retired_groups.append(old.process.pid)  # each service leads a process group of its own
        service = self._spawn(name, old.args, old.env, old.user)
        service.url, service.scratch = old.url, old.scratch
        return service

    def start_git(self) -> str:
        self.git_users = {
            "pipeline": {"token": secrets.token_urlsafe(24), "push": True},
            "configsync": {"token": secrets.token_urlsafe(24), "push": False},
        }
        users = write_secret(self.root / "secrets" / "git-users.json", self.git_users)
        state = self.root / "git.json"
        state.unlink(missing_ok=True)
        repos = [arg for site in self.sites for arg in ("--repo", load_settings().catalogue.get(site).repo)]
        service = self._spawn(
            "gitserver",
            [
                PYTHON,
                "-m",
                "include.gitserver",
                "--root",
                str(self.root / "git"),
                "--users-file",
                str(users),
                "--state-file",
                str(state),
                "--port",
                str(free_port()),  # fixed, so that a restart listens where the clients look
                *repos,
            ],
        )
        service.url = self.git_url = wait_for_file(state, service.process, "the Git server")["url"]
        return self.git_url

    def start_site(
        self, site: str, *, period: float = 1.0, pod_ready_s: float = 1.0, provisioning_s: float = 1.0
    ) -> str:
        repo = load_settings().catalogue.get(site).repo
        tokens = {
            "gitToken": self.git_users["configsync"]["token"],
            "apiToken": secrets.token_urlsafe(24),
            "controlToken": secrets.token_urlsafe(24),
        }
        self.site_secrets[site] = tokens
        secret_file = write_secret(self.root / "secrets" / f"{site}.json", tokens)
        state = self.root / f"{site}.json"
        state.unlink(missing_ok=True)
        service = self._spawn(
            site,
            [
                PYTHON,
                "-m",
                "include.edgesim",
                "--site",
                site,
                "--repo-url",
                f"{self.git_url}/{repo}.git",
                "--secrets-file",
                str(secret_file),
                "--period",
                str(period),
                "--pod-ready-s",
                str(pod_ready_s),
                "--provisioning-s",
                str(provisioning_s),
                "--workdir",
                str(self.root / "sites" / site),
                "--state-file",
                str(state),
                "--port",
                str(free_port()),
            ],
        )
        service.url = wait_for_file(state, service.process, f"the simulator of {site}")["url"]
        return service.url

    def metrics_token(self) -> str:
        """The bearer token of the pipeline's metrics endpoint (see :func:`monitoring.token`)."""
        return monitoring.token(self.root, "metrics-token")

    def delivery_commits(self, site: str, intent_id: str) -> list[str]:
        """The delivery commits of ``intent_id`` on the site's ``main``, newest first (read from the
        Git server's own bare repository)."""
        bare = self.root / "git" / f"{load_settings().catalogue.get(site).repo}.git"
        found = subprocess.run(
            ["git", "--git-dir", str(bare), "log", "--format=%H", f"--grep=Intent-Id: {intent_id}$", "main"],
            capture_output=True,
            text=True,
            check=True,
        )
        return found.stdout.split()

    def site_url(self, site: str) -> str:
        return self.services[site].url

    # -- Airflow ---------------------------------------------------------------------------------

    def connections_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` for the Git server and every site's Kubernetes API."""
        env = {
            "AIRFLOW_CONN_GITEA_DEFAULT": json.dumps(
                {
                    "conn_type": "http",
                    "host": self.git_url,
                    "login": "pipeline",
                    "password": self.git_users["pipeline"]["token"],
                }
            )
        }
        if self.prometheus_url:
            env["AIRFLOW_CONN_PROMETHEUS_DEFAULT"] = json.dumps(
                {"conn_type": "http", "host": self.prometheus_url}
            )
        if self.alertmanager_url:  # Verifying sends an alert-class SLO's failures there
            env["AIRFLOW_CONN_ALERTMANAGER_DEFAULT"] = json.dumps(
                {"conn_type": "http", "host": self.alertmanager_url}
            )
        if self.airflow_url:  # Airflow's own REST API, for emergency_fail_run
            env["AIRFLOW_CONN_AIRFLOW_API"] = json.dumps(
                {"conn_type": "http", "host": self.airflow_url, "login": ADMIN[0], "password": ADMIN[1]}
            )
        for site in self.sites:
            conn_id = load_settings().catalogue.get(site).kubernetesConnId
            kube_config = {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": site,
                "clusters": [{"name": site, "cluster": {"server": self.site_url(site)}}],
                "users": [{"name": "pipeline", "user": {"token": self.site_secrets[site]["apiToken"]}}],
                "contexts": [{"name": site, "context": {"cluster": site, "user": "pipeline"}}],
            }
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
                {"conn_type": "kubernetes", "extra": {"kube_config": json.dumps(kube_config)}}
            )
        return env

    def airflow_env(self, port: int | None = None) -> dict[str, str]:
        home = self.root / "airflow"
        passwords = write_secret(
            self.root / "secrets" / "airflow-passwords.json", {name: password for name, password in USERS}
        )
        jwt = self.root / "secrets" / "jwt"
        if not jwt.exists():
            write_secret(jwt, secrets.token_urlsafe(32))
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{name}:{role}" for (name, _), role in USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": json.loads(jwt.read_text()),
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            # A failed task's state reaches the scheduler once its supervisor notices the task
            # process exit, which it may only do at its next heartbeat tick (default every 5 s):
            # a breach would wait that long before its gate and rollback start.
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Every process loads the plugin at start, and with it the modules the tasks import
            # (edge_intent.preload): each forked task process inherits them.
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
            "EDGE_INTENT_GIT_CACHE": str(self.root / "git-cache"),
            "EDGE_INTENT_EVIDENCE_DIR": str(self.root / "evidence"),
            # Scheduled re-verification only when asked for (make demo does): a run at start would
            # compete with what a test or a benchmark measures.
            "EDGE_INTENT_REVERIFY_SCHEDULE": os.environ.get("EDGE_INTENT_REVERIFY_SCHEDULE", "none"),
            "EDGE_INTENT_METRICS_TOKEN": self.metrics_token(),
            "EDGE_INTENT_ALERT_TOKEN": monitoring.token(self.root, "alert-token"),
            "PYTHONWARNINGS": "ignore",
            **self.connections_env(),
            **(self.celery_backends.airflow_env() if self.celery_backends else sqlite.AIRFLOW_ENV),
        }
        if port:
            base = f"http://127.0.0.1:{port}"
            env.update(
                {
                    "AIRFLOW__API__HOST": "127.0.0.1",
                    "AIRFLOW__API__PORT": str(port),
                    "AIRFLOW__API__WORKERS": "1",
                    "AIRFLOW__API__BASE_URL": base,
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
                }
            )
        return env

    def migrate(self, env: dict[str, str]) -> None:
        done = subprocess.run(
            [AIRFLOW, "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=PROJECT_ROOT,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        if not self.celery_backends:
            sqlite.use_wal(Path(env["AIRFLOW_HOME"]) / "airflow.db")

    def start_airflow(self, timeout: float = 120, extra_env: dict[str, str] | None = None) -> str:
        port = free_port()
        self.airflow_url = f"http://127.0.0.1:{port}"  # before the environment: its airflow_api connection
        env = {**self.airflow_env(port), **(extra_env or {})}
        self.migrate(env)
        self._spawn("api-server", [AIRFLOW, "api-server"], env)
        self._spawn("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], env)
        self._spawn("dag-processor", [AIRFLOW, "dag-processor"], env)
        self._spawn("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"], env)
        components = ["api-server", "scheduler", "dag-processor", "triggerer"]
        if self.celery_backends:
            components += celery.start_workers(self, AIRFLOW, env)
        self.airflow_url = f"http://127.0.0.1:{port}"
        self.services["api-server"].url = self.airflow_url
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name in components:
                if self.services[name].process.poll() is not None:
                    raise RuntimeError(f"Airflow {name} exited; see {self.services[name].log}")
            try:
                with urllib.request.urlopen(f"{self.airflow_url}/api/v2/monitor/health", timeout=2) as reply:
                    health = json.load(reply)
                if all(
                    (health.get(part) or {}).get("status") == "healthy"
                    for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                ):
                    if self.celery_backends:
                        celery.wait_for_workers(self, self.celery_backends.broker_url, deadline - time.time())
                    if self.prometheus_url:
                        monitoring.scrape_targets(self.root, [f"127.0.0.1:{port}"])
                    return self.airflow_url
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Airflow was not healthy within {timeout:g} s; see {self.root / 'logs'}")

    # -- control ---------------------------------------------------------------------------------

    def control(
        self, site: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call a simulator's control API (faults, sync pause/force)."""
        request = urllib.request.Request(
            f"{self.site_url(site)}{path}",
            method=method,
            data=json.dumps(body or {}).encode(),
            headers={
                "Authorization": f"Bearer {self.site_secrets[site]['controlToken']}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)

    @property
    def executor(self) -> str:
        return celery.EXECUTORS["celery" if self.celery_backends else "local"]

    def describe(self) -> dict[str, Any]:
        """Addresses of every service and the demo login (no tokens, no passwords)."""
        return {
            "root": str(self.root),
            "executor": self.executor,
            **(celery.describe(self, self.celery_backends) if self.celery_backends else {}),
            "git": self.git_url,
            "prometheus": self.prometheus_url,
            "alertmanager": self.alertmanager_url or None,
            "sites": {site: self.site_url(site) for site in self.sites if site in self.services},
            "airflow": {"url": self.airflow_url, "login": {"username": ADMIN[0], "password": ADMIN[1]}}
            if self.airflow_url
            else None,
            "pids": {name: service.process.pid for name, service in self.services.items()},
            "logs": str(self.root / "logs"),
        }

    def stop(self, timeout: float = 15) -> None:
        stop_all(list(self.services.values()), timeout)
        self.services.clear()
        for group in self.retired_groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.retired_groups.clear()


def start(
    root: Path,
    sites: list[str] | None = None,
    *,
    airflow: bool = False,
    prometheus: bool = False,
    period: float = 1.0,
    airflow_env: dict[str, str] | None = None,
    executor: str = "local",
) -> Stack:
    """Start the Git server and one simulator per site (and Prometheus and Airflow when asked).

    :param executor: ``local`` (the LocalExecutor on SQLite) or ``celery`` (the CeleryExecutor on
        PostgreSQL and Redis, with two workers); only with ``airflow``.
    """
    if executor not in celery.EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(celery.EXECUTORS)}, not {executor!r}")
    stack = Stack(Path(root), sites or list(load_settings().catalogue.names))
    stack.root.mkdir(parents=True, exist_ok=True)
    try:
        stack.start_git()
        for site in stack.sites:
            stack.start_site(site, period=period)
        if prometheus or airflow:
            monitoring.start_prometheus(stack)
        if airflow and executor == "celery":
            stack.celery_backends = celery.start_backends(stack)
        if airflow:
            # Alertmanager's address is known to Airflow's connections before it starts: it needs
            # Airflow's, for the webhook its alerts reach the intent API through
            stack.alertmanager_url = f"http://127.0.0.1:{free_port()}"
            stack.start_airflow(extra_env=airflow_env)
            monitoring.start_alertmanager(stack, f"{stack.airflow_url}/api/intent/alerts")
    except BaseException:
        stack.stop()
        raise
    return stack
