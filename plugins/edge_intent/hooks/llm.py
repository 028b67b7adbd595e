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

Both doors of an intent (the pipeline's ``validate`` task and the intent API) read text through
:func:`edge_intent.intake.read_intent`, which uses this hook::

    outcome = LlmHook().parse_text(text, settings, sites=None)
    outcome.intent            # TMF921 Intent (include.compiler.tmf921.Intent)
    outcome.path              # "llm" or "deterministic"
    outcome.fallback_reason   # None on the llm path, else why the model was not used
    outcome.model             # the model whose answer built the intent, or None

It raises :class:`include.compiler.errors.IntentValidationError` exactly when the deterministic
parser refuses the text and the model's answer could not be used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from include.compiler import llm as compiler_llm
from include.compiler.llm import LLMConfig, ParseOutcome

if TYPE_CHECKING:
    from include.compiler.config import Settings

NO_CONNECTION = "no LLM connection configured"

__all__ = ["NO_CONNECTION", "LLMConfig", "LLMConnectionError", "LlmHook", "ParseOutcome"]


class LLMConnectionError(ValueError):
    """The connection exists but cannot be used; the message names what is wrong (never the key)."""


class LlmHook(BaseHook):
    """Reads natural-language intents with the model of a connection, or deterministically without one.

    :param llm_conn_id: the connection naming the model; default ``edge_intent_llm``.
    """

    conn_name_attr = "llm_conn_id"
    default_conn_name = "edge_intent_llm"
    conn_type = "http"
    hook_name = "Edge intent language model"

    def __init__(self, llm_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.llm_conn_id = llm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["login"],
            "relabeling": {"host": "API root URL", "password": "API key"},
            "placeholders": {
                "host": "https://api.example/v1",
                "extra": '{"model": "<name>", "timeout": 10, "json_mode": true}',
            },
        }

    def get_conn(self) -> LLMConfig | None:
        """The model configured in the connection; None when there is no such connection.

        :raises LLMConnectionError: the connection exists but cannot be used.
        """
        name = self.llm_conn_id
        try:
            conn = self.get_connection(name)
        except AirflowNotFoundException:
            return None
        except Exception as exc:  # a secrets backend or database failure: say what, not its details
            raise LLMConnectionError(f"connection {name} could not be read ({type(exc).__name__})") from None
        extra = conn.extra_dejson or {}
        host = (conn.host or "").strip().rstrip("/")
        if not host:
            raise LLMConnectionError(f"connection {name} has no host (the API base URL)")
        if "://" not in host:
            scheme = conn.schema or "https"
            host = f"{scheme}://{host}{f':{conn.port}' if conn.port else ''}"
        model = extra.get("model")
        if not isinstance(model, str) or not model:
            raise LLMConnectionError(f'connection {name} names no model (extra {{"model": "..."}})')
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
            raise LLMConnectionError(f"connection {name}: {exc}") from None

    def parse_text(self, text: str, settings: Settings, *, sites: list[str] | None = None) -> ParseOutcome:
        """Read one natural-language intent, with the connection's model when there is one.

        :param text: the operator's words.
        :param settings: site catalogue and compiler defaults.
        :param sites: site override (as for the deterministic parser).
        :raises IntentValidationError: the model was not used and the deterministic parser refuses
            the text.
        """
        try:
            config = self.get_conn()
        except LLMConnectionError as exc:
            self.log.warning("LLM connection not used: %s", exc)
            return compiler_llm.deterministic(text, settings, sites=sites, reason=str(exc))
        if config is None:
            return compiler_llm.deterministic(text, settings, sites=sites, reason=NO_CONNECTION)
        return compiler_llm.parse_text(text, settings, sites=sites, llm=config)
