"""Git HTTP credentials, given to git through its environment, never through a URL."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class CredentialsInURLError(ValueError):
    """A remote URL carries a user name or password."""


@dataclass(frozen=True)
class GitAuth:
    """HTTP basic auth for a Git server (Gitea accepts a user name and an access token).

    :param username: the user.
    :param token: the password or access token; never shown by ``repr``.
    """

    username: str
    token: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """git configuration as environment variables: an ``Authorization`` header on every request."""
        basic = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }


def check_url(url: str) -> str:
    """Refuse a remote URL with credentials in it; return it unchanged otherwise."""
    parts = urlsplit(url)
    if parts.username or parts.password or "@" in parts.netloc:
        raise CredentialsInURLError(
            "the Git remote URL must not carry credentials; put them in the Airflow connection instead"
        )
    if parts.scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported Git remote scheme {parts.scheme!r}; use https (or http on loopback)")
    return url
