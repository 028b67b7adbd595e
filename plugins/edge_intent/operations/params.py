"""The operations DAGs' parameter checks: each refusal names its field and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.compiler.config import load_settings

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
RUN_ID = re.compile(r"[A-Za-z0-9_.:+-]{1,250}")
INTENT_ID_MAX = 50
CHECKPOINT_MAX = 40
REASON_MAX = 500


class InvalidParam(AirflowFailException):
    """A parameter is refused; the message names the field. Nothing was changed."""


class OperationFailed(AirflowFailException):
    """An operation cannot go on (nothing deployed, an unknown checkpoint, a refused run); no retry."""


def shown(value: Any) -> str:
    """``value`` as a short, safe excerpt for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def check_label(value: Any, field: str, limit: int) -> str:
    """A DNS-1123 label of at most ``limit`` characters (no ``/``, no ``..``), or :class:`InvalidParam`."""
    if not isinstance(value, str) or not value or len(value) > limit or not DNS_LABEL.fullmatch(value):
        raise InvalidParam(
            f"{field}: must be a DNS-1123 label of at most {limit} characters "
            f"(lower-case letters, digits and '-'), got {shown(value)}"
        )
    return value


def check_run_id(value: Any, field: str = "run_id") -> str:
    if not isinstance(value, str) or not RUN_ID.fullmatch(value) or ".." in value:
        raise InvalidParam(
            f"{field}: must be a DAG run id (letters, digits, '_.:+-', at most 250), got {shown(value)}"
        )
    return value


def check_text(value: Any, field: str, limit: int = REASON_MAX) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or any(ord(c) < 32 and c not in "\t" for c in value):
        raise InvalidParam(f"{field}: must be one line of text of at most {limit} characters")
    return value.strip()


def check_sites(value: Any, field: str = "sites") -> list[str]:
    """Catalogue sites; an empty value means every site of the catalogue."""
    catalogue = load_settings().catalogue
    if value in (None, "", []):
        return list(catalogue.names)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > len(catalogue.names):
        raise InvalidParam(f"{field}: must be a list of catalogue sites ({', '.join(catalogue.names)})")
    for site in value:
        if not isinstance(site, str) or catalogue.get(site) is None:
            raise InvalidParam(
                f"{field}: {shown(site)} is not in the site catalogue ({', '.join(catalogue.names)})"
            )
    return sorted(set(value))
