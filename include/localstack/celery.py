"""The local stack scaled out: Airflow with the CeleryExecutor, its metadata database on a real
PostgreSQL, Redis as Celery's broker, and two Celery workers, each a real process on a free loopback
port (``start(..., airflow=True, executor="celery")``).

PostgreSQL runs as the ``postgres`` system user when the stack runs as root (PostgreSQL refuses
root), from a data directory of its own under ``/tmp`` that is removed when it stops. Its superuser
password and the ``airflow`` role's password are random per stack and kept in files only their
owner reads; Airflow's processes get the role's password from ``PGPASSWORD`` (libpq reads it), so
the database URLs carry none, and neither does a command line or a log line.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.localstack.processes import as_user, free_port, write_secret

if TYPE_CHECKING:
    from include.localstack.stack import Stack

EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
"""The stack's executors by the name ``start(executor=...)`` and ``make demo EXECUTOR=...`` take."""
WORKERS = ("worker1", "worker2")
WORKER_CONCURRENCY = 4
HEARTBEAT_TIMEOUT_S = 10
"""A running task whose worker has not sent a heartbeat for this long is failed (and retried, when it
has retries left) by the scheduler: a killed worker's tasks run again on the other worker ~20 s
later (Airflow's default timeout is 300 s)."""
PG_SYSTEM_USER = "postgres"
DB_NAME = DB_ROLE = "airflow"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    # a throwaway cluster: nothing waits for the disk
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
REDIS_SETTINGS = {
    "bind": "127.0.0.1",
    "protected-mode": "yes",
    # a broker for one stack's life: nothing is saved
    "save": "",
    "appendonly": "no",
    "daemonize": "no",
    "loglevel": "warning",
}


@dataclass
class Backends:
    """Where the CeleryExecutor's PostgreSQL and Redis listen, and the ``airflow`` role's password."""

    postgres_port: int
    redis_port: int
    password: str

    @property
    def sql_alchemy_conn(self) -> str:
        return f"postgresql+psycopg2://{DB_ROLE}@127.0.0.1:{self.postgres_port}/{DB_NAME}"

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def airflow_env(self) -> dict[str, str]:
        """What every Airflow process of the stack adds to its environment."""
        return {
            "AIRFLOW__CORE__EXECUTOR": EXECUTORS["celery"],
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
            "PGPASSWORD": self.password,  # libpq's; the URLs carry no password
            # Redis has no password: it listens on 127.0.0.1 only, as docker-compose.celery.yaml keeps
            # it on an internal network. Celery takes a Redis password only inside the broker URL,
            # and no credential of this stack is put in a URL.
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.sql_alchemy_conn}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        }


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the stack's workers: the worker's Celery node name
    (``worker1@<host>``), so that a task instance's ``hostname`` tells which of the workers that
    share this machine ran it."""
    return os.environ.get("EDGE_INTENT_CELERY_HOSTNAME") or socket.getfqdn()


def node_name(worker: str) -> str:
    """The Celery node name of one of :data:`WORKERS`."""
    return f"{worker}@{socket.getfqdn()}"


def postgres_bindir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian's ``/usr/lib/postgresql/<major>/bin``)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(re.search(r"/(\d+)/bin/", path).group(1)),  # type: ignore[union-attr]
    )
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        raise RuntimeError("PostgreSQL is not installed: apt-get install --no-install-recommends postgresql")
    return Path(initdb).parent


def _owned_file(path: Path, text: str, owner: pwd.struct_passwd | None) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    if owner:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def _connect(port: int, password: str, deadline: float, process: subprocess.Popen, log: Path | None) -> Any:
    """The superuser's connection once PostgreSQL accepts it."""
    import psycopg2

    while True:
        if process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited with status {process.returncode}; see {log}")
        try:
            return psycopg2.connect(
                host="127.0.0.1",
                port=port,
                user="postgres",
                password=password,
                dbname="postgres",
                connect_timeout=2,
            )
        except psycopg2.OperationalError:
            if time.time() > deadline:
                raise TimeoutError(f"PostgreSQL did not accept connections in time; see {log}") from None
            time.sleep(0.2)


def start_postgres(stack: Stack, timeout: float = 60) -> tuple[int, str]:
    """Initialise a cluster, start it on 127.0.0.1 and a free port, and create the ``airflow`` role
    and database; ``(port, the role's password)``."""
    import psycopg2.extensions
    from psycopg2 import sql

    bindir = postgres_bindir()
    owner = pwd.getpwnam(PG_SYSTEM_USER) if os.geteuid() == 0 else None
    # A fresh directory under /tmp (mkdtemp: unique, mode 0700), given to the postgres user: it
    # must reach its data, and the stack's own root may be under a root-only directory (pytest's).
    where = "/tmp" if owner else None  # noqa: S108 (mkdtemp, see above)
    scratch = Path(tempfile.mkdtemp(prefix="edge-intent-postgres-", dir=where))
    try:
        if owner:
            os.chown(scratch, owner.pw_uid, owner.pw_gid)
        superuser = secrets.token_urlsafe(24)
        pwfile = _owned_file(scratch / "superuser-password", superuser, owner)
        data = scratch / "data"
        done = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=scratch,
            **as_user(PG_SYSTEM_USER),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        port = free_port()
        settings = {**SERVER_SETTINGS, "unix_socket_directories": str(scratch)}
        service = stack._spawn(
            "postgres",
            [
                str(bindir / "postgres"),
                *("-D", str(data), "-p", str(port)),
                *(arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")),
            ],
            user=PG_SYSTEM_USER,
        )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    service.scratch = scratch  # removed by stop() once PostgreSQL has stopped
    service.url = f"postgresql://127.0.0.1:{port}"
    password = secrets.token_urlsafe(24)
    write_secret(stack.root / "secrets" / "postgres.json", {DB_ROLE: password})
    conn = _connect(port, superuser, time.time() + timeout, service.process, service.log)
    try:
        conn.autocommit = True
        # The role's password reaches the server as its SCRAM verifier, never as the password itself
        # (a statement can end up in the server's log).
        verifier = psycopg2.extensions.encrypt_password(password, DB_ROLE, conn, "scram-sha-256")
        with conn.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(DB_ROLE), sql.Literal(verifier)
                )
            )
            cursor.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DB_NAME), sql.Identifier(DB_ROLE)
                )
            )
    finally:
        conn.close()
    return port, password


def start_redis(stack: Stack, timeout: float = 30) -> int:
    """Redis on 127.0.0.1 and a free port, without persistence; its port."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("Redis is not installed: apt-get install --no-install-recommends redis-server")
    port = free_port()
    workdir = stack.root / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {**REDIS_SETTINGS, "port": str(port), "dir": str(workdir)}
    service = stack._spawn(
        "redis", [binary, *(arg for name, value in settings.items() for arg in (f"--{name}", value))]
    )
    service.url = f"redis://127.0.0.1:{port}"
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=1)
    deadline = time.time() + timeout
    try:
        while True:
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"Redis exited with status {service.process.returncode}; see {service.log}"
                )
            try:
                if client.ping():
                    return port
            except redis.RedisError:
                if time.time() > deadline:
                    raise TimeoutError(
                        f"Redis did not answer within {timeout:g} s; see {service.log}"
                    ) from None
                time.sleep(0.1)
    finally:
        client.close()


def start_backends(stack: Stack) -> Backends:
    """PostgreSQL and Redis, as services of ``stack`` (its ``stop()`` ends them)."""
    postgres_port, password = start_postgres(stack)
    return Backends(postgres_port, start_redis(stack), password)


def start_workers(stack: Stack, airflow: str, env: dict[str, str]) -> list[str]:
    """``airflow celery worker`` for each of :data:`WORKERS`; their service names."""
    for worker in WORKERS:
        stack._spawn(
            worker,
            [
                airflow,
                "celery",
                "worker",
                "--celery-hostname",
                node_name(worker),
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--skip-serve-logs",  # the api-server reads the task logs from the shared log folder
                # two workers on one machine: no start-up exchange with the other, no gossip
                "--without-mingle",
                "--without-gossip",
            ],
            {
                **env,
                "EDGE_INTENT_CELERY_HOSTNAME": node_name(worker),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
            },
        )
    return list(WORKERS)


def ping(broker_url: str, workers: list[str] | tuple[str, ...] = WORKERS, timeout: float = 1.0) -> set[str]:
    """The workers (of ``workers``) that answer Celery's ping through the broker."""
    from celery import Celery

    app = Celery(broker=broker_url, set_as_current=False)
    try:
        replies = app.control.ping(destination=[node_name(w) for w in workers], timeout=timeout)
    finally:
        app.close()
    answered = {name for reply in replies for name in reply}
    return {w for w in workers if node_name(w) in answered}


def describe(stack: Stack, backends: Backends) -> dict[str, Any]:
    """The CeleryExecutor's part of :meth:`Stack.describe`: addresses, no password."""
    return {
        "postgres": backends.sql_alchemy_conn,
        "redis": backends.broker_url,
        "workers": {w: node_name(w) for w in WORKERS if w in stack.services},
        # directories outside the root that `make down` removes once the processes have stopped
        "scratch": {s.name: str(s.scratch) for s in stack.services.values() if s.scratch},
    }


def wait_for_workers(stack: Stack, broker_url: str, timeout: float) -> None:
    """Until every worker answers Celery's ping (it consumes from the broker)."""
    deadline = time.time() + timeout
    while True:
        for worker in WORKERS:
            service = stack.services[worker]
            if service.process.poll() is not None:
                raise RuntimeError(f"Celery {worker} exited; see {service.log}")
        if ping(broker_url) == set(WORKERS):
            return
        if time.time() > deadline:
            raise TimeoutError(
                f"the Celery workers did not answer within {timeout:g} s; see {stack.root / 'logs'}"
            )
        time.sleep(0.5)
