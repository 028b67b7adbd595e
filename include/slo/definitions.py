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
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from include.compiler.config import PROJECT_ROOT, ConfigError

DEFAULT_FILE = PROJECT_ROOT / "config" / "slo.yaml"
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")
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


class SLODefinition(_Strict):
    description: str
    unit: str
    condition: Literal["below", "at_least"]
    threshold: float
    action: Literal["rollback", "alert", "scale"]


class SLOConfig(_Strict):
    profiles: dict[str, Profile]
    slos: dict[str, SLODefinition]


class SLO(_Strict):
    """One SLO, ready to evaluate for one site.

    :param name: ``latency_p95`` ...
    :param query: the PromQL.
    :param threshold: the threshold in ``unit`` (tightened by the intent where it asks for more).
    :param basis: where the threshold comes from, in words.
    """

    name: str
    site: str
    description: str
    query: str
    unit: str
    condition: Literal["below", "at_least"]
    threshold: float
    basis: str
    action: Literal["rollback", "alert", "scale"]

    def met_by(self, value: float) -> bool:
        return value < self.threshold if self.condition == "below" else value >= self.threshold

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


def slos_for(
    *, namespace: str, site: str, targets: dict[str, float], config: SLOConfig, profile: Profile
) -> list[SLO]:
    """The SLOs of one intent at one site.

    :param targets: the intent's 28.312 targets by name, in spec units (``DlLatency`` in ms).
    """
    if not (_LABEL_VALUE.fullmatch(namespace) and _LABEL_VALUE.fullmatch(site)):
        raise ValueError("namespace and site must be DNS-1123 labels")
    selector = f'namespace="{namespace}",site="{site}"'
    found = []
    for name, definition in config.slos.items():
        threshold, basis = (
            definition.threshold,
            f"seed SLO: {definition.condition.replace('_', ' ')} {definition.threshold:g} {definition.unit}",
        )
        if (
            name == "latency_p95"
            and targets.get("DlLatency") is not None
            and targets["DlLatency"] < threshold
        ):
            threshold = targets["DlLatency"]
            basis = (
                f"the intent's DlLatency target ({threshold:g} ms), tighter than the seed's "
                f"{definition.threshold:g} ms"
            )
        found.append(
            SLO(
                name=name,
                site=site,
                description=definition.description,
                query=QUERIES[name].format(sel=selector, w=profile.rateWindow),
                unit=definition.unit,
                condition=definition.condition,
                threshold=threshold,
                basis=basis,
                action=definition.action,
            )
        )
    return found
