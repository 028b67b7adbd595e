"""Git smart-HTTP server: ``git http-backend`` (CGI) behind a small threaded HTTP server.

Every request needs HTTP basic auth. Users are ``read`` (clone and fetch) or ``write`` (push too).
Repositories are bare, named ``<name>.git`` under the root, and are reached at
``http://127.0.0.1:<port>/<name>.git``. Only repository names of lowercase letters, digits and
``-`` are served, so no request path can leave the root.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from include.serving import BackgroundHTTPServer

log = logging.getLogger(__name__)

REPO_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_PATH = re.compile(
    r"^/(?P<repo>[a-z0-9][a-z0-9-]{0,62})\.git(?P<rest>/(?:info/refs|git-upload-pack|"
    r"git-receive-pack|HEAD|objects/[0-9a-f/.a-z-]+))$"
)
MAX_BODY = 64 * 1024 * 1024
HTTP_BACKEND = (
    Path(subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip())
    / "git-http-backend"
)


@dataclass(frozen=True)
class User:
    name: str
    token: str
    can_push: bool


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def create_repository(root: Path, name: str, *, branch: str = "main") -> Path:
    """Create the bare repository ``root/<name>.git`` with one initial commit on ``branch``."""
    if not REPO_NAME.fullmatch(name):
        raise ValueError(f"repository name {name!r} must be lowercase letters, digits and '-'")
    bare = root / f"{name}.git"
    if bare.exists():
        return bare
    _git("init", "--bare", "--quiet", f"--initial-branch={branch}", str(bare))
    _git("config", "http.receivepack", "true", cwd=bare)
    with tempfile.TemporaryDirectory() as work:
        _git("init", "--quiet", f"--initial-branch={branch}", work)
        readme = Path(work) / "README.md"
        readme.write_text(f"# {name}\n\nSite configuration repository, synced to the site by Config Sync.\n")
        _git("add", "README.md", cwd=Path(work))
        _git(
            "-c",
            "user.name=edge-intent",
            "-c",
            "user.email=edge-intent@localhost",
            "commit",
            "--quiet",
            "-m",
            f"Create {name}",
            cwd=Path(work),
        )
        _git("push", "--quiet", str(bare), f"HEAD:{branch}", cwd=Path(work))
    return bare


class _Handler(BaseHTTPRequestHandler):
    server: GitHTTPServer
    disable_nagle_algorithm = True  # otherwise every smart-HTTP round trip stalls ~40 ms
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _reply(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _user(self) -> User | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            name, _, token = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        user = self.server.users.get(name)
        if user is None or not hmac.compare_digest(user.token.encode(), token.encode()):
            return None
        return user

    def _serve(self) -> None:
        split = urlsplit(self.path)
        match = _PATH.fullmatch(split.path)
        user = self._user()
        if user is None:
            self._reply(401, "authentication required", {"WWW-Authenticate": 'Basic realm="edge-intent git"'})
            return
        if match is None or not (self.server.root / f"{match['repo']}.git").is_dir():
            self._reply(404, "no such repository")
            return
        pushing = match["rest"] == "/git-receive-pack" or "service=git-receive-pack" in split.query
        if pushing and not user.can_push:
            self._reply(403, f"user {user.name} may not push")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(413, "request too large")
            return
        self._run_backend(split.path, split.query, user, length)

    def _run_backend(self, path: str, query: str, user: User, length: int) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "REMOTE_USER": user.name,
            "REMOTE_ADDR": self.client_address[0],
            "GATEWAY_INTERFACE": "CGI/1.1",
        }
        if length:
            env["CONTENT_LENGTH"] = str(length)
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        body = self.rfile.read(length) if length else b""
        done = subprocess.run([str(HTTP_BACKEND)], input=body, env=env, capture_output=True, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key, value.strip()))
        if done.returncode != 0 and status == 200:
            log.warning(
                "git http-backend failed for %s: %s", path, done.stderr.decode(errors="replace").strip()
            )
            self._reply(500, "git http-backend failed")
            return
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class GitHTTPServer(BackgroundHTTPServer):
    """The server; ``url`` is its base address. Call :meth:`start` and :meth:`stop`."""

    thread_name = "git-http"

    def __init__(self, root: Path, users: list[User], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.users = {user.name: user for user in users}
        super().__init__((host, port), _Handler)

    def repo_url(self, name: str) -> str:
        return f"{self.url}/{name}.git"

    def create_repository(self, name: str) -> Path:
        return create_repository(self.root, name)
