"""TMF921 intent to TS 28.312 Rel-18 intent.

One ``IntentExpectation`` per target site (verb ``DELIVER``, object ``EdgeService_Support`` with an
``edgeIdentificationId`` object context), each carrying every target of the intent. Values are
converted to the units the spec uses (latency in ms; throughput as ``XLThpt`` in kbit/s);
extension targets say their unit in a ``unit`` target context. The slice type travels as the
``ServiceType`` intent context (the S-NSSAI SST), the defaults that were applied as
``defaultsApplied``, and any further context attribute of the TMF921 expression unchanged.
"""

from __future__ import annotations

import hashlib
import json

from . import ts28312
from .config import Settings
from .slice import Requirement, SliceIntent
from .targets import KINDS, WHOLE_MS, check_whole_ms, to_canonical, whole_ms
from .tmf921 import Intent, read_slice_intent

STAGE = "convert"


def convert(intent: Intent, settings: Settings) -> ts28312.Intent:
    """Convert a validated TMF921 intent; raises IntentValidationError for what cannot be met."""
    wanted = read_slice_intent(intent, settings)
    defaults = list(wanted.defaults_applied)
    if intent.priority is None:
        priority = settings.compiler.defaults.priority
        defaults.append("priority")
    else:
        priority = int(intent.priority)
    defaults.append("observationPeriod")
    intent_id = intent.id or _derived_id(intent)
    return ts28312.Intent(
        id=intent_id,
        userLabel=intent.name,
        intentExpectations=[_expectation(site, wanted, intent) for site in wanted.sites],
        intentContexts=_intent_contexts(wanted, settings, list(dict.fromkeys(defaults))),
        intentAdminState="ACTIVATED",
        intentPriority=priority,
        observationPeriod=settings.compiler.defaults.observationPeriod,
    )


def _derived_id(intent: Intent) -> str:
    canonical = json.dumps(intent.to_json(), sort_keys=True, separators=(",", ":"))
    return "intent-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _expectation(site: str, wanted: SliceIntent, intent: Intent) -> ts28312.IntentExpectation:
    contexts = []
    if intent.validFor and intent.validFor.startDateTime:
        contexts.append(_ctx("ServiceStartTime", "IS_EQUAL_TO", intent.validFor.startDateTime.isoformat()))
    if intent.validFor and intent.validFor.endDateTime:
        contexts.append(_ctx("ServiceEndTime", "IS_EQUAL_TO", intent.validFor.endDateTime.isoformat()))
    return ts28312.IntentExpectation(
        expectationId=f"{site}-edge-service",
        expectationVerb="DELIVER",
        expectationObject=ts28312.ExpectationObject(
            objectType="EdgeService_Support",
            objectInstance=f"SubNetwork={site}",
            objectContexts=[_ctx("edgeIdentificationId", "IS_EQUAL_TO", site)],
        ),
        expectationTargets=[target(req) for req in wanted.requirements],
        expectationContexts=contexts,
    )


def target(req: Requirement) -> ts28312.ExpectationTarget:
    """The 28.312 target for one requirement, in the spec's units (latency as a whole number of ms)."""
    kind = KINDS[req.name]
    field = "expression.expressionValue"
    value = to_canonical(req.value, req.unit, kind, field=field, stage=STAGE)
    number: float = int(value) if float(value).is_integer() else round(value, 9)
    if req.name in WHOLE_MS:
        check_whole_ms(req.name, req.value, req.unit, field=field, stage=STAGE)
        number = whole_ms(value) or int(value)
    if kind.dimension == "throughput":
        value_range: object = {"guaThpt": number}
    else:
        value_range = number
    contexts = (
        [] if kind.standard else [_ctx("unit", "IS_EQUAL_TO", "%" if kind.dimension == "percent" else "ms")]
    )
    return ts28312.ExpectationTarget(
        targetName=req.name,
        targetCondition=req.condition,
        targetValueRange=value_range,
        targetContexts=contexts,
    )


def target_value(target_: ts28312.ExpectationTarget) -> float:
    """The plain number of a 28.312 target (``guaThpt`` for throughputs)."""
    value = target_.targetValueRange
    return float(value["guaThpt"] if isinstance(value, dict) else value)


def _intent_contexts(wanted: SliceIntent, settings: Settings, defaults: list[str]) -> list[ts28312.Context]:
    sst = settings.compiler.sliceTypes[wanted.slice_type].sst
    contexts = [_ctx("ServiceType", "IS_EQUAL_TO", sst)]
    if defaults:
        contexts.append(_ctx("defaultsApplied", "IS_ALL_OF", defaults))
    contexts += [_ctx(attribute, "IS_EQUAL_TO", value) for attribute, value in wanted.contexts]
    return contexts


def _ctx(attribute: str, condition: str, value: object) -> ts28312.Context:
    return ts28312.Context(contextAttribute=attribute, contextCondition=condition, contextValueRange=value)
