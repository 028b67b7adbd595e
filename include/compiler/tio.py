"""TM Forum Intent Ontology (TIO v3.6.0) expressions: write them from, and read them into, a
:class:`SliceIntent`.

The expression is one ``icm:Intent`` whose ``log:allOf`` holds one ``icm:DeliveryExpectation`` (the
slice) and one ``icm:ReportingExpectation``. The delivery expectation's ``log:allOf`` holds one
``icm:Condition`` per target, written the TIO way::

    set:forAll ( _:X [ icm:valuesOfTargetProperty ( e5g:DlLatency ) ]
                 quan:smaller ( _:X [ rdf:value "5"^^xsd:decimal ; quan:unit "ms" ] ) )

and one ``icm:Context`` with the slice type (``e5g:sliceType``), the sites (``e5g:site``), the
defaults that were applied (``e5g:defaultApplied``) and any further attributes, which are kept.
Writing is done with a fixed template so the same intent gives byte-identical Turtle; reading uses
rdflib and accepts Turtle and JSON-LD alike (no remote JSON-LD contexts: the reader is offline).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, NoReturn

from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection

from .errors import IntentValidationError
from .limits import MAX_TARGETS, check_range
from .slice import Requirement, SliceIntent
from .targets import (
    CANONICAL_UNIT,
    CONDITION_TO_QUAN,
    QUAN_TO_CONDITION,
    check_whole_ms,
    kind_of,
    to_canonical,
)

if TYPE_CHECKING:
    from rdflib.term import Node

TIO_VERSION = "v3.6.0"
_TIO = f"http://tio.models.tmforum.org/tio/{TIO_VERSION}"
ICM = Namespace(f"{_TIO}/IntentCommonModel/")
LOG = Namespace(f"{_TIO}/LogicalOperators/")
QUAN = Namespace(f"{_TIO}/QuantityOntology/")
SET = Namespace(f"{_TIO}/SetOperators/")
DCT = Namespace("http://purl.org/dc/terms/")
E5G = Namespace("urn:edge-intent:5g:")
"""This project's vocabulary: target properties (28.312 names) and context attributes."""

STAGE = "convert"
_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
FIELD = "expression.expressionValue"

_PREFIXES = {
    "icm": str(ICM),
    "log": str(LOG),
    "quan": str(QUAN),
    "set": str(SET),
    "dct": str(DCT),
    "rdf": str(RDF),
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "e5g": str(E5G),
}


def _literal(value: str) -> str:
    return Literal(value).n3()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def intent_iri(intent_id: str) -> str:
    """The IRI of the intent's ``icm:Intent`` node in its expression (``ei:I``): the expression's
    TMF921 ``iri``."""
    return f"urn:edge-intent:intent:{intent_id}:I"


def to_turtle(intent: SliceIntent, intent_id: str) -> str:
    """Write ``intent`` as a TIO Turtle expression (deterministic)."""
    lines = [f"@prefix {prefix}: <{iri}> ." for prefix, iri in _PREFIXES.items()]
    lines.append(f"@prefix ei: <{intent_iri(intent_id).removesuffix('I')}> .")
    lines += ["", "ei:I a icm:Intent ;", "    log:allOf ( ei:DE ei:RE ) .", ""]
    members = [f"ei:C{index}" for index in range(1, len(intent.requirements) + 1)] + ["ei:CX"]
    lines += [
        "ei:DE a icm:DeliveryExpectation ;",
        "    icm:target e5g:NetworkSlice ;",
        f"    dct:description {_literal(intent.description)} ;",
        f"    log:allOf ( {' '.join(members)} ) .",
        "",
    ]
    for index, req in enumerate(intent.requirements, start=1):
        unit = f" ; quan:unit {_literal(req.unit)}" if req.unit else ""
        lines += [
            f"ei:C{index} a icm:Condition ;",
            f"    set:forAll ( _:X [ icm:valuesOfTargetProperty ( e5g:{req.name} ) ]",
            f"        quan:{CONDITION_TO_QUAN[req.condition]} ( _:X [ rdf:value "
            f'"{_number(req.value)}"^^xsd:decimal{unit} ] ) ) .',
            "",
        ]
    context = [f"e5g:sliceType {_literal(intent.slice_type)}"]
    context += [f"e5g:site {_literal(site)}" for site in intent.sites]
    context += [f"e5g:defaultApplied {_literal(name)}" for name in intent.defaults_applied]
    context += [f"e5g:{attribute} {_literal(value)}" for attribute, value in intent.contexts]
    lines.append("ei:CX a icm:Context ;")
    lines += [f"    {item} ;" for item in context[:-1]]
    lines += [f"    {context[-1]} .", ""]
    lines += [
        "ei:RE a icm:ReportingExpectation ;",
        "    icm:target e5g:NetworkSlice ;",
        f"    dct:description {_literal('Report the fulfilment of every condition of ei:DE.')} .",
    ]
    return "\n".join(lines) + "\n"


def parse_turtle(text: str) -> Graph:
    return _parse(text, "turtle")


def parse_jsonld(document: dict) -> Graph:
    _refuse_remote_context(document)
    return _parse(json.dumps(document), "json-ld")


def _parse(data: str, fmt: str) -> Graph:
    graph = Graph()
    try:
        graph.parse(data=data, format=fmt)
    except RecursionError:
        raise IntentValidationError.single(FIELD, f"{fmt} nests too deeply", stage=STAGE) from None
    except Exception as exc:  # rdflib raises many parser-specific types
        reason = " ".join(str(exc).split())[:300]
        raise IntentValidationError.single(FIELD, f"{fmt} does not parse: {reason}", stage=STAGE) from None
    return graph


def _refuse_remote_context(node: object) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("@context", "@import") and _names_remote(value):
                raise IntentValidationError.single(
                    FIELD,
                    "JSON-LD refers to a remote @context; the reader is offline, inline the context",
                    stage=STAGE,
                )
            _refuse_remote_context(value)
    elif isinstance(node, list):
        for item in node:
            _refuse_remote_context(item)


def _names_remote(context: object) -> bool:
    if isinstance(context, str):
        return True
    if isinstance(context, list):
        return any(_names_remote(item) for item in context)
    if isinstance(context, dict):
        return "@import" in context
    return False


def from_graph(graph: Graph) -> SliceIntent:
    """Read the slice intent out of a TIO graph; every condition and context attribute is kept.

    Site names are returned as written; the caller checks them against the site catalogue.
    """
    intent = _one(graph, list(graph.subjects(RDF.type, ICM.Intent)), "icm:Intent")
    members = _list(graph, graph.value(intent, LOG.allOf), "the icm:Intent's log:allOf")
    deliveries = [m for m in members if (m, RDF.type, ICM.DeliveryExpectation) in graph]
    delivery = _one(graph, deliveries, "icm:DeliveryExpectation in the intent's log:allOf")
    description = str(graph.value(delivery, DCT.description) or "")

    requirements: list[Requirement] = []
    contexts: list[Node] = []
    for index, item in enumerate(
        _list(graph, graph.value(delivery, LOG.allOf), "the expectation's log:allOf")
    ):
        if (item, RDF.type, ICM.Condition) in graph:
            requirements.append(_condition(graph, item, index))
        elif (item, RDF.type, ICM.Context) in graph:
            contexts.append(item)
        else:
            _fail(
                f"element {index + 1} of the expectation's log:allOf is neither an icm:Condition "
                "nor an icm:Context"
            )
    if len(requirements) > MAX_TARGETS:
        _fail(f"has {len(requirements)} conditions; the limit is {MAX_TARGETS}")
    names = [req.name for req in requirements]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        _fail(f"gives target {duplicates[0]} in more than one condition")

    slice_types, sites, defaults, extra = [], [], [], []
    for context in contexts:
        for predicate, obj in sorted(graph.predicate_objects(context)):
            if predicate == RDF.type:
                continue
            value = str(obj)
            if predicate == E5G.sliceType:
                slice_types.append(value)
            elif predicate == E5G.site:
                sites.append(value)
            elif predicate == E5G.defaultApplied:
                defaults.append(value)
            else:
                attribute = _local_name(predicate)
                if not _ATTRIBUTE.fullmatch(attribute):
                    _fail(f"context attribute {attribute!r} is not a plain name (letters, digits, '_')")
                extra.append((attribute, value))
    if len(slice_types) != 1:
        _fail(f"the icm:Context must give exactly one e5g:sliceType, found {len(slice_types)}")
    if not sites:
        _fail("the icm:Context gives no e5g:site")
    try:
        return SliceIntent(
            slice_type=slice_types[0],
            sites=tuple(dict.fromkeys(sites)),
            requirements=tuple(requirements),
            defaults_applied=tuple(defaults),
            contexts=tuple(extra),
            description=description,
        )
    except ValueError:
        _fail(f"e5g:sliceType {slice_types[0]!r} is not one of eMBB, URLLC, mMTC")


def _condition(graph: Graph, node: Node, index: int) -> Requirement:
    where = f"condition {index + 1}"
    parts = _list(graph, graph.value(node, SET.forAll), f"{where}'s set:forAll")
    if len(parts) != 4 or not isinstance(parts[2], URIRef):
        _fail(f"{where}: set:forAll must be ( _:X [ icm:valuesOfTargetProperty ( P ) ] quan:OP ( _:X Q ) )")
    variable, selector, operator, arguments = parts
    properties = _list(graph, graph.value(selector, ICM.valuesOfTargetProperty), f"{where}'s property")
    if len(properties) != 1 or not isinstance(properties[0], URIRef):
        _fail(f"{where}: icm:valuesOfTargetProperty must hold one property")
    name = _local_name(properties[0])
    kind = kind_of(name, field=FIELD, stage=STAGE)
    if not str(properties[0]).startswith(str(E5G)):
        _fail(f"{where}: property {properties[0]} is not in the {E5G} vocabulary")
    if not str(operator).startswith(str(QUAN)) or _local_name(operator) not in QUAN_TO_CONDITION:
        known = ", ".join(f"quan:{op}" for op in QUAN_TO_CONDITION)
        _fail(f"{where}: operator {operator} is not supported; use one of {known}")
    args = _list(graph, arguments, f"{where}'s operator arguments")
    if len(args) != 2 or args[0] != variable:
        _fail(f"{where}: quan:{_local_name(operator)} takes ( _:X quantity )")
    quantity = args[1]
    raw = graph.value(quantity, RDF.value)
    try:
        value = float(raw.toPython() if isinstance(raw, Literal) else "x")
    except (TypeError, ValueError):
        _fail(f"{where} ({name}): rdf:value {raw!s} is not a number")
    if value != value or value in (float("inf"), float("-inf")):
        _fail(f"{where} ({name}): rdf:value must be a finite number")
    unit = str(graph.value(quantity, QUAN.unit) or "")
    canonical = to_canonical(value, unit, kind, field=FIELD, stage=STAGE)
    check_range(
        canonical,
        kind.dimension,
        field=FIELD,
        stage=STAGE,
        what=name,
        unit=CANONICAL_UNIT[kind.dimension] or "UEs",
    )
    if kind.dimension == "count" and not value.is_integer():
        _fail(f"{where} ({name}): {value:g} is not a whole number")
    check_whole_ms(name, value, unit, field=FIELD, stage=STAGE, where=f"{where}: ")
    return Requirement(name=name, condition=QUAN_TO_CONDITION[_local_name(operator)], value=value, unit=unit)


def _list(graph: Graph, head: Node | None, what: str) -> list[Node]:
    if head is None:
        _fail(f"{what} is missing")
    if head == RDF.nil:
        return []
    if not isinstance(head, BNode | URIRef) or graph.value(head, RDF.first) is None:
        _fail(f"{what} is not an RDF list")
    items = list(Collection(graph, head))
    if len(items) > 4 * MAX_TARGETS:
        _fail(f"{what} has {len(items)} items")
    return items


def _one(graph: Graph, nodes: list[Node], what: str) -> Node:
    if len(nodes) != 1:
        _fail(f"must contain exactly one {what}, found {len(nodes)}")
    return nodes[0]


def _local_name(iri: Node) -> str:
    text = str(iri)
    for separator in ("#", "/", ":"):
        if separator in text:
            text = text.rsplit(separator, 1)[1]
    return text


def _fail(reason: str) -> NoReturn:
    raise IntentValidationError.single(FIELD, reason, stage=STAGE)
