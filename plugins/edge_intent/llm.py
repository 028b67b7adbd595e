"""The optional language model for natural-language intents, configured as an Airflow connection.

Connection ``edge_intent_llm`` (optional; without it every text is read by the deterministic
parser, with the fallback reason ``no LLM connection configured``):

* type ``http`` (or any type): ``host`` is the OpenAI-compatible API root with its scheme, e.g.
  ``https://api.example/v1`` or ``http://127.0.0.1:11434/v1`` (``/chat/completions`` is appended;
  a host without a scheme takes ``schema`` as the scheme, default ``https``, and ``port``);
* ``password``: the API key, sent only as ``Authorization: Bearer <key>`` (may be empty);
* extra: ``{"model": "<name>"}`` (required), ``"timeout"`` (seconds for the whole request,
  default 10, at most 120), ``"max_response_bytes"`` (default 65536), ``"json_mode"`` (default
  true: ask for ``response_format: json_object``).

For example ``AIRFLOW_CONN_EDGE_INTENT_LLM='{"conn_type": "http", "host": "https://api.example/v1",
"password": "<key>", "extra": {"model": "<name>"}}'``. The connection is read through the Task
SDK's ``BaseHook.get_connection``, which works in task processes (through the supervisor), in the
api-server (metadata database and secrets backends) and anywhere else from environment variables.

Stable entry point, for the pipeline and the intent REST API::

    outcome = edge_intent.llm.parse_text(text, settings, sites=None)
    outcome.intent            # TMF921 Intent (include.compiler.tmf921.Intent)
    outcome.path              # "llm" or "deterministic"
    outcome.fallback_reason   # None on the llm path, else why the model was not used
    outcome.model             # the model whose answer built the intent, or None

It raises :class:`include.compiler.errors.IntentValidationError` exactly when the deterministic
parser refuses the text and the model's answer could not be used.
"""

from __future__ import annotations

import logging

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from include.compiler import llm as compiler_llm
from include.compiler.config import Settings
from include.compiler.llm import LLMConfig, ParseOutcome

log = logging.getLogger(__name__)

LLM_CONN_ID = "edge_intent_llm"
NO_CONNECTION = "no LLM connection configured"

__all__ = ["LLM_CONN_ID", "NO_CONNECTION", "LLMConfig", "ParseOutcome", "llm_config", "parse_text"]


class LLMConnectionError(ValueError):
    """The connection exists but cannot be used; the message names what is wrong (never the key)."""


def llm_config(conn_id: str = LLM_CONN_ID) -> LLMConfig | None:
    """The model configured in connection ``conn_id``; None when there is no such connection.

    :raises LLMConnectionError: the connection exists but cannot be used.
    """
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # a secrets backend or database failure: say what, not its details
        raise LLMConnectionError(f"connection {conn_id} could not be read ({type(exc).__name__})") from None
    extra = conn.extra_dejson or {}
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise LLMConnectionError(f"connection {conn_id} has no host (the API base URL)")
    if "://" not in host:
        scheme = conn.schema or "https"
        host = f"{scheme}://{host}{f':{conn.port}' if conn.port else ''}"
    model = extra.get("model")
    if not isinstance(model, str) or not model:
        raise LLMConnectionError(f'connection {conn_id} names no model (extra {{"model": "..."}})')
    try:
        return LLMConfig(
            base_url=host,
            model=model,
            api_key=conn.password or None,
            timeout=float(extra.get("timeout", 10)),
            max_response_bytes=int(extra.get("max_response_bytes", 65_536)),
            json_mode=bool(extra.get("json_mode", True)),
        )
    except (TypeError, ValueError) as exc:
        raise LLMConnectionError(f"connection {conn_id}: {exc}") from None


def parse_text(
    text: str, settings: Settings, *, sites: list[str] | None = None, conn_id: str = LLM_CONN_ID
) -> ParseOutcome:
    """Read one natural-language intent, with the connection's model when there is one.

    :param text: the operator's words.
    :param settings: site catalogue and compiler defaults.
    :param sites: site override (as for the deterministic parser).
    :param conn_id: the connection to read; default ``edge_intent_llm``.
    :raises IntentValidationError: the model was not used and the deterministic parser refuses the text.
    """
    try:
        config = llm_config(conn_id)
    except LLMConnectionError as exc:
        log.warning("LLM connection not used: %s", exc)
        return compiler_llm.deterministic(text, settings, sites=sites, reason=str(exc))
    if config is None:
        return compiler_llm.deterministic(text, settings, sites=sites, reason=NO_CONNECTION)
    return compiler_llm.parse_text(text, settings, sites=sites, llm=config)
