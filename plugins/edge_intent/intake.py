"""The one intake of an intent, whichever door it came through.

The pipeline's ``validate`` task (:func:`validate`) and the intent API both read an intent with
:func:`read_intent`: natural-language text (through the language model of the ``edge_intent_llm``
connection when it exists, else the deterministic parser) or a TMF921 Intent (an object, or JSON
text of one), then validated through TS 28.312. The same input gives the same TMF921 intent and the
same intent id at either door.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from edge_intent.hooks.llm import LlmHook
from include import lifecycle
from include.compiler import api
from include.compiler.errors import IntentValidationError

if TYPE_CHECKING:
    from include.compiler import tmf921, ts28312
    from include.compiler.config import Settings
    from include.rollout.strategy import RolloutPlan

log = logging.getLogger(__name__)

TMF921_PATH = "tmf921"
"""The parser path of an intent given as a TMF921 Intent (no text was read)."""


class InvalidIntent(AirflowFailException):
    """The intent is invalid; the message lists every field and reason."""


@dataclass(frozen=True)
class Intake:
    """An intent read and validated.

    :param tmf: the TMF921 intent.
    :param intent: the TS 28.312 intent it converts to (its ``id`` is the intent's id).
    :param parser: how it was read: ``path`` (``tmf921``, ``llm`` or ``deterministic``), and
        ``fallbackReason`` and ``model`` when they apply.
    """

    tmf: tmf921.Intent
    intent: ts28312.Intent
    parser: dict[str, str] = field(default_factory=dict)
    rollout: RolloutPlan | None = None

    @property
    def intent_id(self) -> str:
        return self.intent.id

    @property
    def parser_path(self) -> str:
        return self.parser.get("path", TMF921_PATH)

    @property
    def document(self) -> dict[str, Any]:
        """The TMF921 JSON of the intent, with its id (derived when the given intent had none)."""
        return {**self.tmf.to_json(), "id": self.intent.id}


def read_intent(
    raw: Any,
    sites: list[str] | None,
    *,
    settings: Settings,
    strategy: dict[str, Any] | None = None,
    llm_conn_id: str = LlmHook.default_conn_name,
) -> Intake:
    """Read an intent: text, a TMF921 Intent object, or a TMF921 Intent as JSON text.

    :param raw: the intent as given.
    :param sites: site override of a text intent (empty or None: the sites the text names).
    :param settings: site catalogue and compiler defaults.
    :param strategy: the rollout strategy (None: a TMF921 intent's ``rolloutStrategy``
        characteristic, else the configured default), resolved into waves over the intent's sites.
    :param llm_conn_id: the connection of the language model that reads text, when it exists.
    :raises IntentValidationError: the intent or its strategy is invalid; its errors name each field
        and reason.
    """
    chosen = list(sites or []) or None
    if isinstance(raw, dict) or (isinstance(raw, str) and raw.lstrip().startswith("{")):
        if chosen:
            raise IntentValidationError.single(
                "sites",
                "the site override applies to natural-language intents; a TMF921 intent names its "
                "sites in its expression",
                stage="parse",
            )
        # A decoded object goes through the same size and strict-JSON checks as JSON text.
        tmf = api.load_intent(json.dumps(raw) if isinstance(raw, dict) else raw)
        parser = {"path": TMF921_PATH}
    elif isinstance(raw, str):
        outcome = LlmHook(llm_conn_id).parse_text(raw, settings, sites=chosen)
        tmf = outcome.intent
        parser = {key: value for key, value in outcome.summary().items() if value is not None}
    else:
        raise IntentValidationError.single(
            "intent", "give natural-language text or a TMF921 Intent object", stage="parse"
        )
    intent = api.to_28312(tmf, settings)
    rollout = rollout_plan(tmf, intent, strategy, settings)
    return Intake(tmf=tmf, intent=intent, parser=parser, rollout=rollout)


def rollout_plan(
    tmf: tmf921.Intent, intent: ts28312.Intent, strategy: dict[str, Any] | None, settings: Settings
) -> RolloutPlan:
    """The intent's waves: ``strategy``, else its TMF921 ``rolloutStrategy`` characteristic (an
    ``ObjectCharacteristic``), else the configured default."""
    from include.rollout.strategy import FIELD, resolve

    if strategy is None:
        for characteristic in tmf.characteristic or []:
            if isinstance(characteristic, dict) and characteristic.get("name") == FIELD:
                strategy = characteristic.get("value")
                if not isinstance(strategy, dict):
                    raise IntentValidationError.single(
                        f"characteristic[{FIELD}].value", "must be a rollout strategy object", stage="rollout"
                    )
    return resolve(strategy, list(intent.sites), settings.catalogue)


def refuse(exc: IntentValidationError, ti: Any | None) -> InvalidIntent:
    """The task failure for an invalid intent: each field error logged and in the XCom ``errors``."""
    for error in exc.errors:
        log.error("Invalid intent: %s: %s", error.field, error.reason)
    if ti is not None:
        ti.xcom_push(key=lifecycle.Key.ERRORS, value=exc.as_dict())
    return InvalidIntent(str(exc))


def validate(params: dict[str, Any], ti: Any | None = None) -> dict[str, Any]:
    """Pending: read the intent of the run's params and validate it through TS 28.312.

    :param params: the run's params (``intent``, ``sites``).
    :param ti: the task instance, for the XComs ``intent_id`` (valid) or ``errors`` (invalid).
    :return: the TMF921 JSON of the intent, with its id.
    :raises InvalidIntent: the intent is invalid (no retry can fix it).
    """
    from include.compiler.config import load_settings

    try:
        intake = read_intent(
            params.get("intent"),
            params.get("sites"),
            settings=load_settings(),
            strategy=params.get("rollout_strategy") or None,
        )
    except IntentValidationError as exc:
        raise refuse(exc, ti) from None
    log.info(
        "Intent %s (%s) is valid: sites %s (read by %s)",
        intake.intent_id,
        intake.intent.userLabel,
        ", ".join(intake.intent.sites),
        intake.parser_path,
    )
    waves = intake.rollout.waves if intake.rollout else ()
    log.info(
        "Rollout %s: %s",
        intake.rollout.type if intake.rollout else "-",
        "; ".join(f"wave {w.index} {w.name}: {', '.join(w.sites)}" for w in waves),
    )
    if ti is not None:  # the index by which the intent API finds every run of an intent
        ti.xcom_push(key=lifecycle.Key.INTENT_ID, value=intake.intent_id)
        ti.xcom_push(key=lifecycle.Key.ROLLOUT, value=intake.rollout.to_json() if intake.rollout else None)
    return intake.document
