"""`make env` (deploy/make_env.py): .env for the compose stack, from .env.example, with fresh
random secrets; never over an existing file."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.test_compose import (
    CELERY_FILE,
    COMPOSE_FILE,
    ENV_EXAMPLE,
    PROJECT_ROOT,
    SECRET_NAME,
    compose,
    compose_binary,
    env_example,
    required_variables,
)

SCRIPT = PROJECT_ROOT / "deploy" / "make_env.py"


def make_env(output: Path, example: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--example", str(example), "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


@pytest.fixture
def fresh(tmp_path) -> tuple[Path, subprocess.CompletedProcess]:
    output = tmp_path / ".env"
    done = make_env(output)
    assert done.returncode == 0, done.stderr
    return output, done


def test_fresh_env_has_every_variable_of_the_example(fresh):
    output, _ = fresh
    example, env = env_example(), read_env(output)
    assert list(env) == list(example)  # same variables, same order
    for key, value in example.items():
        if value:
            assert env[key] == value, f"{key}: not the example's default"
        elif SECRET_NAME.search(key):
            assert len(env[key]) >= 32, key
    assert env["KPT_SHA256"] == ""  # a checksum, not a secret: filled in by hand
    # The example's comments (how to make each value) are kept.
    assert "# openssl rand -hex 32" in output.read_text()


def test_secrets_are_random_and_safe_in_json_and_urls(fresh, tmp_path):
    output, _ = fresh
    first = read_env(output)
    second_path = tmp_path / "second.env"
    assert make_env(second_path).returncode == 0
    second = read_env(second_path)
    secrets = [key for key in env_example() if SECRET_NAME.search(key)]
    assert len(secrets) >= 15
    for key in secrets:
        assert first[key] != second[key], f"{key} is the same in two runs"
    values = [first[key] for key in secrets]
    assert len(set(values)) == len(values), "two secrets are equal"
    for key in secrets:
        assert first[key].isascii() and not set(first[key]) & set("\"'\\ $#%@:/?&"), key


def test_fernet_key_is_valid(fresh):
    output, _ = fresh
    key = read_env(output)["AIRFLOW_FERNET_KEY"]
    fernet = Fernet(key.encode())
    assert fernet.decrypt(fernet.encrypt(b"connection password")) == b"connection password"


def test_file_is_private_and_no_secret_is_printed(fresh):
    output, done = fresh
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    printed = done.stdout + done.stderr
    for key, value in read_env(output).items():
        if SECRET_NAME.search(key):
            assert value not in printed, f"{key} was printed"
    assert "KPT_SHA256" in done.stdout  # the one value left to fill in is named
    assert [p.name for p in output.parent.iterdir()] == [".env"]  # no temporary file left


def test_file_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        assert make_env(tmp_path / ".env").returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600


@pytest.mark.parametrize("existing", ["AIRFLOW_FERNET_KEY=mine\n", ""])
def test_an_existing_env_is_never_overwritten(tmp_path, existing):
    output = tmp_path / ".env"
    output.write_text(existing)
    output.chmod(0o640)
    before = output.read_bytes()
    done = make_env(output)
    assert done.returncode != 0
    assert "already exists" in done.stderr and "left untouched" in done.stderr
    assert output.read_bytes() == before
    assert stat.S_IMODE(output.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_a_symlink_named_env_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    (tmp_path / ".env").symlink_to(target)  # dangling
    done = make_env(tmp_path / ".env")
    assert done.returncode != 0
    assert not target.exists()


def test_the_file_appearing_meanwhile_is_not_overwritten(tmp_path):
    """The check before writing is not what protects the file: the link into place fails."""
    spec = importlib.util.spec_from_file_location("make_env", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = tmp_path / ".env"
    output.write_text("KEEP=1\n")
    with pytest.raises(module.EnvError, match="already exists"):
        module.write_new(output, "NEW=1\n")
    assert output.read_text() == "KEEP=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_a_bad_example_writes_nothing(tmp_path):
    example = tmp_path / "example"
    example.write_text("AIRFLOW_JWT_SECRET=not-empty\n")
    done = make_env(tmp_path / ".env", example)
    assert done.returncode != 0
    assert "must be empty" in done.stderr and "not-empty" not in done.stderr
    assert not (tmp_path / ".env").exists()


@pytest.mark.parametrize("files", [(COMPOSE_FILE,), (COMPOSE_FILE, CELERY_FILE)], ids=["local", "celery"])
def test_the_result_satisfies_every_required_variable(fresh, tmp_path, files):
    output, _ = fresh
    env = read_env(output)
    required = required_variables(*files)
    assert "AIRFLOW_FERNET_KEY" in required and "POSTGRES_PASSWORD" in required
    assert not [name for name in required if not env.get(name)]
    done = compose(tmp_path, env, "config", "-q", files=files)
    assert done.returncode == 0, done.stderr
    # The file itself, comments and all, as compose reads it.
    done = subprocess.run(
        [compose_binary(), "--project-directory", str(PROJECT_ROOT), "--env-file", str(output)]
        + [arg for file in files for arg in ("-f", str(file))]
        + ["config", "--environment"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    for name in required:
        assert f"{name}={env[name]}" in done.stdout.splitlines(), name
