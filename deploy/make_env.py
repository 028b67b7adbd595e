#!/usr/bin/env python3
"""Write the compose stack's ``.env`` from ``.env.example`` (``make env``).

Every secret of ``.env.example`` (a variable named like a password, token, secret or key, which the
example leaves empty) gets a fresh random value: ``AIRFLOW_FERNET_KEY`` a Fernet key, every other
one 32 random bytes in hex (no quotes, backslashes or characters JSON or a URL would need escaped).
Every other variable keeps the example's value, and the example's comments are kept. A variable the
example leaves empty that is not a secret (``KPT_SHA256``, the checksum of a download) stays empty
and is named at the end: it has to be filled in by hand.

An existing ``.env`` is never overwritten: the stack's volumes hold data encrypted or guarded by
its secrets. The file is created with mode 0600, complete or not at all (written to a temporary
file beside it, then linked into place, which fails if ``.env`` appeared meanwhile). No secret is
printed.

    python3 deploy/make_env.py [--example .env.example] [--output .env]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|FERNET|_KEY$")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
HEADER = (
    "# Written by `make env` (deploy/make_env.py) from .env.example: every secret is a fresh random\n"
    "# value. Never commit this file; keep it while the stack's volumes exist (its secrets guard them).\n"
)


class EnvError(Exception):
    """The file cannot be written."""


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def new_secret(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":
        return Fernet.generate_key().decode()
    return secrets.token_hex(32)


def render(example: str) -> tuple[str, list[str], list[str]]:
    """``.env``'s text from ``.env.example``'s; the secrets generated and the variables left empty."""
    lines, generated, empty = [HEADER], [], []
    seen: set[str] = set()
    for number, line in enumerate(example.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            lines.append(line + "\n")
            continue
        match = ASSIGNMENT.match(stripped)
        if match is None:
            raise EnvError(f".env.example line {number} is not NAME=value")
        name, value = match.groups()
        if name in seen:
            raise EnvError(f".env.example sets {name} twice (line {number})")
        seen.add(name)
        if is_secret(name):
            if value:
                raise EnvError(f".env.example has a value for the secret {name}: it must be empty")
            value = new_secret(name)
            generated.append(name)
        elif not value:
            empty.append(name)
        lines.append(f"{name}={value}\n")
    return "".join(lines), generated, empty


def write_new(path: Path, text: str) -> None:
    """Create ``path`` with ``text``, mode 0600, all at once; EnvError if it exists."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _write_fd(fd, text)
        try:
            # A hard link never replaces an existing file (or symlink): the check and the creation
            # are one step.
            os.link(tmp, path)
        except FileExistsError:
            raise EnvError(f"{path} already exists") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            _write_exclusive(path, text)  # a file system without hard links
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write_fd(fd: int, text: str) -> None:
    """Write ``text`` to ``fd`` (mode 0600) and to disk, then close it."""
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _write_exclusive(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise EnvError(f"{path} already exists") from None
    try:
        _write_fd(fd, text)
    except BaseException:
        os.unlink(path)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--example", type=Path, default=PROJECT_ROOT / ".env.example")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / ".env")
    args = parser.parse_args(argv)
    out = sys.stdout
    if os.path.lexists(args.output):
        sys.stderr.write(
            f"make env: {args.output} already exists and was left untouched. To make a new one, move it "
            "away first; the stack's volumes keep the old database password and Fernet key, so a new "
            "file also needs new volumes (docker compose down -v).\n"
        )
        return 1
    try:
        text, generated, empty = render(args.example.read_text())
        write_new(args.output, text)
    except EnvError as exc:
        sys.stderr.write(f"make env: {exc}; nothing was written.\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"make env: {exc.filename or args.output}: {exc.strerror}; nothing was written.\n")
        return 1
    out.write(f"make env: wrote {args.output} (mode 0600) with {len(generated)} new random secrets.\n")
    for name in empty:
        out.write(f"make env: {name} is empty: fill it in by hand (see its comment in the file).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
