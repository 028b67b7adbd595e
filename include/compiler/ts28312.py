"""3GPP TS 28.312 Rel-18 intent models (OpenAPI 18.2.0), with the spec's own field names.

The spec's spellings are kept on purpose, typos included: ``expectaitonId`` in
``ExpectationFulfilmentResult`` and ``notFullfilledState`` in ``FulfilmentInfo``. Edge intents use
the scenario-specific object type ``EdgeService_Support`` (TS28312_IntentExpectations.yaml).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Condition = Literal[
    "IS_EQUAL_TO",
    "IS_LESS_THAN",
    "IS_GREATER_THAN",
    "IS_WITHIN_RANGE",
    "IS_OUTSIDE_RANGE",
    "IS_ONE_OF",
    "IS_NOT_ONE_OF",
    "IS_EQUAL_TO_OR_LESS_THAN",
    "IS_EQUAL_TO_OR_GREATER_THAN",
    "IS_ALL_OF",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Context(_Model):
    contextAttribute: str
    contextCondition: Condition
    contextValueRange: Any


class ExpectationObject(_Model):
    objectType: Literal["EdgeService_Support"]
    objectInstance: str | None = None
    objectContexts: list[Context] = Field(default_factory=list)


class ExpectationTarget(_Model):
    targetName: str
    targetCondition: Condition
    targetValueRange: Any
    targetContexts: list[Context] = Field(default_factory=list)


class IntentExpectation(_Model):
    expectationId: str
    expectationVerb: Literal["DELIVER", "ENSURE"]
    expectationObject: ExpectationObject
    expectationTargets: list[ExpectationTarget] = Field(default_factory=list)
    expectationContexts: list[Context] = Field(default_factory=list)

    def context(self, attribute: str) -> Any:
        return _context_value(self.expectationObject.objectContexts, attribute)


class Intent(_Model):
    """TS 28.312 ``Intent`` (the attributes of ``Intent-Single``; ``id`` comes from ``Top``)."""

    id: str
    userLabel: str | None = None
    intentExpectations: list[IntentExpectation] = Field(min_length=1)
    intentContexts: list[Context] = Field(default_factory=list)
    intentAdminState: Literal["ACTIVATED", "DEACTIVATED"] = "ACTIVATED"
    intentPriority: int = Field(ge=1, le=100)
    observationPeriod: int | None = None

    def context(self, attribute: str) -> Any:
        return _context_value(self.intentContexts, attribute)

    def expectation_for(self, site: str) -> IntentExpectation | None:
        return next((e for e in self.intentExpectations if e.context("edgeIdentificationId") == site), None)

    @property
    def sites(self) -> list[str]:
        return [e.context("edgeIdentificationId") for e in self.intentExpectations]


class FulfilmentInfo(_Model):
    fulfilmentStatus: Literal["FULFILLED", "NOT_FULFILLED"]
    notFullfilledState: (
        Literal["ACKNOWLEDGED", "COMPLIANT", "DEGRADED", "SUSPENDED", "TERMINATED", "FULFILMENTFAILED"] | None
    ) = None
    notFulfilledReasons: list[str] | None = None


class TargetFulfilmentResult(_Model):
    targetName: str
    targetFulfilmentInfo: FulfilmentInfo
    targetAchievedValue: float | None = None


class ExpectationFulfilmentResult(_Model):
    expectaitonId: str  # sic: TS 28.312 spells it so
    expectationFulfilmentInfo: FulfilmentInfo
    targetFulfilmentResult: list[TargetFulfilmentResult] = Field(default_factory=list)


class IntentFulfilmentReport(_Model):
    intentFulfilmentInfo: FulfilmentInfo
    expectationFulfilmentResult: list[ExpectationFulfilmentResult] = Field(default_factory=list)


def _context_value(contexts: list[Context], attribute: str) -> Any:
    return next((c.contextValueRange for c in contexts if c.contextAttribute == attribute), None)
