"""TMF921 Intent Management API v5 models, and the TMF921 side of the compiler.

Field names are TMF921's own (``@type`` and friends through aliases). Base path of the API:
``/tmf-api/intentManagement/v5``. An ``Intent`` needs ``name``, ``expression`` and ``@type``; its
``expression`` is a ``TurtleExpression`` (``expressionValue`` a Turtle string) or a
``JsonLdExpression`` (``expressionValue`` a JSON-LD object), in the TM Forum intent ontology.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import Settings
from .errors import FieldError, IntentValidationError
from .limits import (
    MAX_DESCRIPTION_CHARS,
    MAX_EXPRESSION_CHARS,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_NAME_CHARS,
    check_size,
)
from .nl import ParsedText
from .slice import SliceIntent
from .tio import from_graph, intent_iri, parse_jsonld, parse_turtle, to_turtle

BASE_PATH = "/tmf-api/intentManagement/v5"
INTENT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")
RESERVED_IDS = {"alerts": "/api/intent/alerts is Alertmanager's webhook, not an intent"}
"""Intent ids are DNS-1123 labels of at most 50 characters: every Kubernetes name is derived from
them, and they name directories and Git paths, so nothing else may pass."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _TmfModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class TimePeriod(_TmfModel):
    startDateTime: datetime | None = None
    endDateTime: datetime | None = None


class EntityRef(_TmfModel):
    id: str = Field(max_length=256)
    href: str | None = Field(None, max_length=1024)
    name: str | None = Field(None, max_length=MAX_NAME_CHARS)
    type: str | None = Field(None, alias="@type", max_length=64)
    referredType: str | None = Field(None, alias="@referredType", max_length=64)


class IntentRef(EntityRef):
    """TMF921 v5 ``IntentRef``: a reference to an intent, with its ``@type`` (an ``IntentReport``'s
    ``intent`` is an ``IntentRefOrValue``, told apart by ``@type``)."""

    type: Literal["IntentRef"] = Field("IntentRef", alias="@type")


class TurtleExpression(_TmfModel):
    type: Literal["TurtleExpression"] = Field(alias="@type")
    expressionValue: str = Field(max_length=MAX_EXPRESSION_CHARS)
    iri: str | None = Field(None, max_length=1024)
    baseType: str | None = Field(None, alias="@baseType", max_length=64)
    schemaLocation: str | None = Field(None, alias="@schemaLocation", max_length=1024)


class JsonLdExpression(_TmfModel):
    type: Literal["JsonLdExpression"] = Field(alias="@type")
    expressionValue: dict[str, Any]
    iri: str | None = Field(None, max_length=1024)
    baseType: str | None = Field(None, alias="@baseType", max_length=64)
    schemaLocation: str | None = Field(None, alias="@schemaLocation", max_length=1024)


Expression = Annotated[TurtleExpression | JsonLdExpression, Field(discriminator="type")]


class Intent(_TmfModel):
    """TMF921 v5 ``Intent``."""

    id: str | None = None
    href: str | None = Field(None, max_length=1024)
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)
    version: str | None = Field(None, max_length=64)
    validFor: TimePeriod | None = None
    isBundle: bool | None = None
    priority: str | None = None
    context: str | None = Field(None, max_length=256)
    expression: Expression
    intentSpecification: EntityRef | None = None
    lifecycleStatus: str | None = Field(None, max_length=64)
    statusChangeDate: datetime | None = None
    creationDate: datetime | None = None
    lastUpdate: datetime | None = None
    characteristic: list[dict[str, Any]] | None = Field(None, max_length=256)
    relatedParty: list[dict[str, Any]] | None = Field(None, max_length=256)
    attachment: list[dict[str, Any]] | None = Field(None, max_length=256)
    intentRelationship: list[dict[str, Any]] | None = Field(None, max_length=256)
    type: Literal["Intent"] = Field(alias="@type")
    baseType: str | None = Field(None, alias="@baseType", max_length=64)
    schemaLocation: str | None = Field(None, alias="@schemaLocation", max_length=1024)

    @field_validator("id")
    @classmethod
    def _dns_safe_id(cls, value: str | None) -> str | None:
        if value is not None and not INTENT_ID.fullmatch(value):
            raise ValueError(
                "must be a DNS-1123 label of 1 to 50 characters (lowercase letters, digits, '-', "
                "starting and ending with a letter or digit)"
            )
        if value in RESERVED_IDS:
            raise ValueError(f"{value!r} is reserved: {RESERVED_IDS[value]}")
        return value

    @field_validator("name", "description")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str | None) -> str | None:
        if value is not None and (not value.isdigit() or not 1 <= int(value) <= 100):
            raise ValueError("must be a whole number from 1 to 100, as a string (TS 28.312 intentPriority)")
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class IntentReport(_TmfModel):
    """TMF921 v5 ``IntentReport``."""

    type: Literal["IntentReport"] = Field("IntentReport", alias="@type")
    id: str
    href: str | None = None
    name: str
    creationDate: datetime
    expression: Expression
    intent: IntentRef

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def build_intent(parsed: ParsedText) -> Intent:
    """The TMF921 intent for a parsed text: a TurtleExpression in the TM Forum intent ontology."""
    return Intent.model_validate(
        {
            "@type": "Intent",
            "id": parsed.intent_id,
            "href": f"{BASE_PATH}/intent/{parsed.intent_id}",
            "name": parsed.name,
            "description": parsed.intent.description[:MAX_DESCRIPTION_CHARS],
            "version": "1",
            "isBundle": False,
            "priority": str(parsed.priority),
            "expression": {
                "@type": "TurtleExpression",
                "iri": intent_iri(parsed.intent_id),  # TMF921 v5 create bodies (*_FVO) require it
                "expressionValue": to_turtle(parsed.intent, parsed.intent_id),
            },
        }
    )


def load_intent(document: str | bytes | dict[str, Any]) -> Intent:
    """Validate a TMF921 intent given as JSON text or as an already decoded object."""
    if isinstance(document, str | bytes):
        check_size(document, MAX_JSON_BYTES, field="intent", stage="convert", unit="bytes")
        document = _decode_json(document)
    if not isinstance(document, dict):
        raise IntentValidationError.single("intent", "must be a JSON object", stage="convert")
    _check_depth(document)
    try:
        return Intent.model_validate(document)
    except ValidationError as exc:
        raise IntentValidationError([_field_error(err) for err in exc.errors()], stage="convert") from None


def read_slice_intent(intent: Intent, settings: Settings) -> SliceIntent:
    """Read what ``intent``'s expression asks for, checking its sites against the catalogue."""
    expression = intent.expression
    if isinstance(expression, TurtleExpression):
        graph = parse_turtle(expression.expressionValue)
    else:
        check_size(
            json.dumps(expression.expressionValue),
            MAX_EXPRESSION_CHARS,
            field="expression.expressionValue",
            stage="convert",
        )
        graph = parse_jsonld(expression.expressionValue)
    found = from_graph(graph)
    known = settings.catalogue.names
    unknown = [site for site in found.sites if site not in known]
    if unknown:
        raise IntentValidationError.single(
            "expression.expressionValue",
            f"unknown site {unknown[0]!r}; known sites are {', '.join(known)}",
            stage="convert",
        )
    ordered = tuple(name for name in known if name in found.sites)
    return found.model_copy(update={"sites": ordered})


def decode_json(raw: str | bytes, *, field: str = "intent", stage: str = "convert") -> Any:
    """Strict JSON: no duplicate keys, no NaN or Infinity, bounded nesting; errors name ``field``."""
    try:
        document = _decode_json(raw)
    except IntentValidationError as exc:
        raise IntentValidationError.single(field, exc.errors[0].reason, stage=stage) from None
    _check_depth(document, field=field, stage=stage)
    return document


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate key {duplicates[0]!r}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def strict_loads(raw: str | bytes) -> Any:
    """``json.loads`` that refuses duplicate keys, ``NaN``/``Infinity`` and numbers too large for a
    float (``1e999``, which Python would read as infinity) (ValueError)."""
    return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite)


def _decode_json(raw: str | bytes) -> Any:
    try:
        return strict_loads(raw)
    except RecursionError:
        raise IntentValidationError.single("intent", "JSON nests too deeply", stage="convert") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntentValidationError.single("intent", f"is not valid JSON: {exc}", stage="convert") from None


def _check_depth(document: Any, *, field: str = "intent", stage: str = "convert") -> None:
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise IntentValidationError.single(
                field, f"nests deeper than {MAX_JSON_DEPTH} levels", stage=stage
            )
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def _field_error(error: dict[str, Any]) -> FieldError:
    location = [str(part) for part in error["loc"]]
    # Drop the discriminator tag pydantic inserts into union locations.
    location = [part for part in location if part not in ("TurtleExpression", "JsonLdExpression")]
    message = error["msg"]
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not a TMF921 Intent field"
    elif error["type"] == "union_tag_invalid":
        message = "@type must be TurtleExpression or JsonLdExpression"
    elif error["type"] == "union_tag_not_found":
        message = "needs an @type: TurtleExpression or JsonLdExpression"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return FieldError(".".join(location) or "intent", message)
