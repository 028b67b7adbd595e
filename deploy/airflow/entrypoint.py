#!/usr/bin/env python3
"""Entrypoint of the edge-intent Airflow containers (docker-compose.yaml).

Completes the credentials that exist only at run time, then hands over to the Airflow image's own
``/entrypoint`` with the same arguments:

* ``AIRFLOW_CONN_GITEA_DEFAULT`` receives the pipeline's Gitea access token as its password:
  ``GITEA_PIPELINE_TOKEN`` when set (a Gitea run elsewhere), else the file
  ``GITEA_PIPELINE_TOKEN_FILE`` that gitea-init writes. A connection that already has a password
  is left alone.
* The simple auth manager's passwords file (``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE``,
  mode 0600) is written from ``AIRFLOW_<USER>_PASSWORD`` for every user of
  ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS``; those variables are then removed from the
  environment Airflow runs with.

Nothing secret is printed. Errors name the variable or file to fix and exit with status 2.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

AIRFLOW_ENTRYPOINT = "/entrypoint"
GITEA_CONN = "AIRFLOW_CONN_GITEA_DEFAULT"


class SetupError(Exception):
    """The container's environment is incomplete."""


def gitea_token(env: Mapping[str, str]) -> str | None:
    """The pipeline's Gitea token, or None when the environment offers none."""
    if env.get("GITEA_PIPELINE_TOKEN"):
        return env["GITEA_PIPELINE_TOKEN"].strip()
    path = env.get("GITEA_PIPELINE_TOKEN_FILE")
    if not path:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise SetupError(
            f"cannot read the Gitea token file {path} ({exc.strerror}); gitea-init writes it"
        ) from None
    if not token:
        raise SetupError(f"the Gitea token file {path} is empty; run gitea-init again")
    return token


def gitea_connection(env: Mapping[str, str]) -> str | None:
    """``AIRFLOW_CONN_GITEA_DEFAULT`` with the token as password (None: leave it unchanged)."""
    raw = env.get(GITEA_CONN)
    if not raw:
        return None
    try:
        conn = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SetupError(f"{GITEA_CONN} is not JSON: {exc.msg} at position {exc.pos}") from None
    if conn.get("password"):
        return None
    token = gitea_token(env)
    if token is None:
        raise SetupError(
            f"{GITEA_CONN} has no password: set GITEA_PIPELINE_TOKEN or GITEA_PIPELINE_TOKEN_FILE"
        )
    conn["password"] = token
    return json.dumps(conn)


def password_variable(user: str) -> str:
    return f"AIRFLOW_{user.upper().replace('-', '_')}_PASSWORD"


def simple_auth_passwords(env: Mapping[str, str]) -> dict[str, str] | None:
    """``{user: password}`` for the simple auth manager (None when it is not configured)."""
    users = env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "").strip()
    if not users or not env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"):
        return None
    passwords = {}
    for entry in users.split(","):
        user = entry.split(":", 1)[0].strip()
        if not user:
            continue
        password = env.get(password_variable(user), "")
        if not password:
            raise SetupError(f"{password_variable(user)} is not set: the password of Airflow user {user!r}")
        passwords[user] = password
    return passwords


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def prepare(env: dict[str, str]) -> dict[str, str]:
    """The environment to run Airflow with; writes the passwords file."""
    env = dict(env)
    conn = gitea_connection(env)
    if conn is not None:
        env[GITEA_CONN] = conn
    passwords = simple_auth_passwords(env)
    if passwords is not None:
        write_private(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]), json.dumps(passwords))
        for user in passwords:
            env.pop(password_variable(user), None)
    env.pop("GITEA_PIPELINE_TOKEN", None)
    return env


def main(argv: list[str]) -> int:
    try:
        env = prepare(dict(os.environ))
    except SetupError as exc:
        sys.stderr.write(f"edge-intent entrypoint: {exc}\n")
        return 2
    os.execve(AIRFLOW_ENTRYPOINT, [AIRFLOW_ENTRYPOINT, *argv], env)  # noqa: S606 (a fixed path)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
