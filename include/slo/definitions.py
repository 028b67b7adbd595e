"""The SLOs, their PromQL (scoped to one intent's namespace at one site) and thresholds.

PromQL, with ``{sel}`` = ``namespace="<intent namespace>",site="<site>"`` and ``[W]`` the profile's
``rateWindow``:

* ``latency_p95`` (ms): ``1000 * histogram_quantile(0.95, sum by (le)
  (rate(http_request_duration_seconds_bucket{sel}[W])))``
* ``error_rate`` (%): ``100 * sum(rate(http_requests_total{sel,code=~"5.."}[W])) /
  sum(rate(http_requests_total{sel}[W]))``
* ``cpu_usage`` (%): ``100 * sum(rate(container_cpu_usage_seconds_total{sel}[W])) /
  sum(kube_pod_container_resource_limits{sel,resource="cpu"})``
* ``memory_usage`` (%): ``100 * sum(container_memory_working_set_bytes{sel}) /
  sum(kube_pod_container_resource_limits{sel,resource="memory"})``
* ``pod_ready`` (%): ``100 * sum(kube_pod_status_ready{sel,condition="true"}) /
  count(kube_pod_status_ready{sel,condition="true"})``

The intent's own targets are criteria next to them (``targets`` in ``config/slo.yaml``): a target
the sites' metrics observe is judged on its metric's query, with the policy ``onMiss`` on a miss
(``rollback``: it breaks like a rollback-class SLO; ``degrade``: the intent stays, reported
Degraded). A ``rollback`` target stricter than its seed SLO tightens that SLO (one criterion, named
by the SLO); any other is its own criterion, named by the target. A target that needs a volume of
requests to be shown (``reliability``) carries the query of the requests served in the window.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from include.compiler.config import PROJECT_ROOT, ConfigError

DEFAULT_FILE = PROJECT_ROOT / "config" / "slo.yaml"
_DURATION = re.compile(r"^([0-9]+)(ms|s|m|h)$")
_LABEL_VALUE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

_RATE = "rate({metric}{{{{{{sel}}{extra}}}}}[{{w}}])"
QUERIES = {
    "latency_p95": "1000 * histogram_quantile(0.95, sum by (le) ("
    + _RATE.format(metric="http_request_duration_seconds_bucket", extra="")
    + "))",
    "error_rate": "100 * sum("
    + _RATE.format(metric="http_requests_total", extra=',code=~"5.."')
    + ") / sum("
    + _RATE.format(metric="http_requests_total", extra="")
    + ")",
    "cpu_usage": "100 * sum("
    + _RATE.format(metric="container_cpu_usage_seconds_total", extra="")
    + ') / sum(kube_pod_container_resource_limits{{{sel},resource="cpu"}})',
    "memory_usage": "100 * sum(container_memory_working_set_bytes{{{sel}}})"
    ' / sum(kube_pod_container_resource_limits{{{sel},resource="memory"}})',
    "pod_ready": '100 * sum(kube_pod_status_ready{{{sel},condition="true"}})'
    ' / count(kube_pod_status_ready{{{sel},condition="true"}})',
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Profile(_Strict):
    window: float = Field(gt=0, le=600)
    interval: float = Field(gt=0, le=300)
    rateWindow: str = Field(pattern=_DURATION.pattern)
    missingData: Literal["fail", "ignore"] = "fail"
    failureLimit: int = Field(ge=1)
    consecutiveLimit: int = Field(ge=1)

    @property
    def rate_seconds(self) -> float:
        """``rateWindow`` in seconds: how long a change takes to fill the range of ``rate()``."""
        number, unit = _DURATION.fullmatch(self.rateWindow).groups()
        return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


# the requests served at the site in the window, to show a reliability target at all
VOLUME = "sum(increase(http_requests_total{{{sel}}}[{window}s]))"
Action = Literal["rollback", "alert", "scale", "degrade"]


class ScalePolicy(_Strict):
    """How a scale-class SLO's breach is remedied: the intent's workload at the site is scaled up by
    ``step`` replicas in a commit, at most ``attempts`` times and never above ``max`` replicas (nor
    the compiler's ``workload.maxReplicas``); a breach that outlasts them rolls back."""

    step: int = Field(ge=1, le=20)
    max: int = Field(ge=1, le=100)
    attempts: int = Field(ge=1, le=5)


class SLODefinition(_Strict):
    description: str
    unit: str
    condition: Literal["below", "at_least"]
    threshold: float
    action: Literal["rollback", "alert", "scale"]
    scale: ScalePolicy | None = None

    @model_validator(mode="after")
    def _scale_with_its_action(self) -> SLODefinition:
        if self.action == "scale" and self.scale is None:
            raise ValueError("action scale needs scale: {step, max, attempts}")
        if self.action != "scale" and self.scale is not None:
            raise ValueError(f"scale is only for action scale, not {self.action}")
        return self


class TargetPolicy(_Strict):
    """How one kind of intent target is verified: on the seed SLO ``slo``'s metric with the policy
    ``onMiss``, or not at all (``notObservable``: why the sites' metrics cannot show it)."""

    slo: str | None = None
    onMiss: Literal["rollback", "degrade"] | None = None
    notObservable: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> TargetPolicy:
        if (self.notObservable is None) == (self.slo is None or self.onMiss is None):
            raise ValueError("give either slo and onMiss, or notObservable")
        if self.notObservable is None and self.slo not in QUERIES:
            raise ValueError(f"slo {self.slo!r} is not one of {', '.join(QUERIES)}")
        return self


class SLOConfig(_Strict):
    profiles: dict[str, Profile]
    slos: dict[str, SLODefinition]
    targets: dict[str, TargetPolicy]

    @model_validator(mode="after")
    def _every_target_kind(self) -> SLOConfig:
        from include.compiler.targets import KINDS

        missing = sorted(set(KINDS) - set(self.targets))
        unknown = sorted(set(self.targets) - set(KINDS))
        if missing or unknown:
            raise ValueError(
                "targets must list every target kind: "
                f"missing {missing or 'none'}, unknown {unknown or 'none'}"
            )
        for name, policy in self.targets.items():
            if policy.slo is not None and policy.slo not in self.slos:
                raise ValueError(f"targets.{name}.slo: {policy.slo!r} is not an SLO of 'slos'")
        return self


class SLO(_Strict):
    """One SLO, ready to evaluate for one site.

    :param name: ``latency_p95`` ...
    :param query: the PromQL.
    :param threshold: the threshold in ``unit`` (tightened by the intent where it asks for more).
    :param basis: where the threshold comes from, in words.
    :param target: the intent target this SLO is the criterion of, if any.
    :param volume: the PromQL of the requests served in the window, and ``min_volume`` how many it
        takes to show the target at all (an unmet volume leaves the target not verifiable).
    """

    name: str
    site: str
    description: str
    query: str
    unit: str
    condition: Literal["below", "at_most", "at_least"]
    threshold: float
    basis: str
    action: Action
    target: str | None = None
    volume: str | None = None
    min_volume: float | None = None

    def met_by(self, value: float) -> bool:
        if self.condition == "below":
            return value < self.threshold
        return value <= self.threshold if self.condition == "at_most" else value >= self.threshold

    @property
    def rolls_back(self) -> bool:
        return self.action in ("rollback", "scale")


def load_config(path: str | os.PathLike | None = None) -> SLOConfig:
    source = Path(path or os.environ.get("EDGE_INTENT_SLO_CONFIG") or DEFAULT_FILE)
    try:
        return SLOConfig.model_validate(yaml.safe_load(source.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read SLO configuration {source}: {exc}") from exc
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid SLO configuration {source}: {details}") from exc


COMPLEMENTED = frozenset({"reliability"})
"""Targets whose metric measures their complement (reliability R % is an error rate of 100 - R %):
shown only over enough requests, met by a rate at most the complement."""


def on_metric(name: str, value: float) -> float:
    """A target's value on its SLO's metric, or a value of the metric in the target's terms (the
    complement is its own inverse)."""
    return round(100 - value, 9) if name in COMPLEMENTED else value


def _stricter(condition: str, a: float, b: float) -> bool:
    return a > b if condition == "at_least" else a < b


def min_volume(name: str, value: float) -> float | None:
    """Requests it takes to show a target at all: a reliability of R % over n requests with no
    failure is shown (95 % confidence, the rule of three) only when n >= 3 / (1 - R/100)."""
    if name not in COMPLEMENTED:
        return None
    return math.inf if value >= 100 else math.ceil(3 / (1 - value / 100) - 1e-9)


def slos_for(
    *, namespace: str, site: str, targets: dict[str, float], config: SLOConfig, profile: Profile
) -> list[SLO]:
    """The SLOs of one intent at one site: the seed's, then the intent's own criteria (see the
    module docstring).

    :param targets: the intent's 28.312 targets by name, in spec units (``DlLatency`` in ms).
    """
    if not (_LABEL_VALUE.fullmatch(namespace) and _LABEL_VALUE.fullmatch(site)):
        raise ValueError("namespace and site must be DNS-1123 labels")
    selector = f'namespace="{namespace}",site="{site}"'
    found = {
        name: SLO(
            name=name,
            site=site,
            description=definition.description,
            query=QUERIES[name].format(sel=selector, w=profile.rateWindow),
            unit=definition.unit,
            condition=definition.condition,
            threshold=definition.threshold,
            basis=f"seed SLO: {_words(definition.condition)} {definition.threshold:g} {definition.unit}",
            action=definition.action,
        )
        for name, definition in config.slos.items()
    }
    criteria = []
    for name, value in targets.items():
        policy = config.targets.get(name)
        if value is None or policy is None or policy.slo is None:
            continue
        seed = found[policy.slo]
        threshold = on_metric(name, value)
        basis = f"the intent's {name} target ({value:g} {_unit(name)})"
        needed = min_volume(name, value)
        if policy.onMiss == "rollback" and seed.rolls_back and needed is None:
            tighter = _stricter(seed.condition, threshold, seed.threshold)
            found[policy.slo] = seed.model_copy(
                update={
                    "target": name,
                    "threshold": threshold if tighter else seed.threshold,
                    "basis": f"{basis}, tighter than the seed's {seed.threshold:g} {seed.unit}"
                    if tighter
                    else f"{seed.basis}, which meets {basis}",
                }
            )
            continue
        criteria.append(
            seed.model_copy(
                update={
                    "name": name,
                    "description": f"the intent's {name}",
                    "threshold": threshold,
                    # reliability R % is met by an error rate of at most 100 - R %
                    "condition": "at_most" if name in COMPLEMENTED else seed.condition,
                    "basis": basis,
                    "action": policy.onMiss,
                    "target": name,
                    "volume": VOLUME.format(sel=selector, window=int(math.ceil(profile.window)))
                    if needed is not None
                    else None,
                    "min_volume": needed,
                }
            )
        )
    return [*found.values(), *criteria]


def _words(condition: str) -> str:
    return condition.replace("_", " ")


def _unit(name: str) -> str:
    from include.compiler.targets import CANONICAL_UNIT, KINDS

    kind = KINDS.get(name)
    return CANONICAL_UNIT[kind.dimension] if kind else ""
