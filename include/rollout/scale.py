"""Scaling an intent's workload at a site, as a GitOps change: the package delivered there, with more
replicas. Pure: no Git, no Airflow.

A scale step edits the rendered package in place, one line per value, so its commit's diff says
exactly what changed: the Deployment's ``spec.replicas``, and the ResourceQuota the compiler sized
for ``replicas + 1`` pods (one extra for a rolling update: ``pods``, ``limits.cpu``,
``limits.memory``), with the package's setters (``quota-*``) kept equal to it. Nothing else moves.

The ceiling is the scale policy's ``max`` (``config/slo.yaml``), never above the compiler's
``workload.maxReplicas``, nor above the ceiling the compiler wrote into the package (the
Deployment's ``edge-intent.io/max-replicas``: the slice profile's ``maxReplicas`` and, for an intent
with ``maxNumberofUEs``, one replica per ``minUesPerReplica`` UEs). An intent whose sizing already
reaches the ceiling is not scaled at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from include.compiler.names import LABEL_PREFIX, MAX_REPLICAS
from include.compiler.sizing import cpu_quantity, mebibytes, millicores

DEPLOYMENT = "deployment.yaml"
QUOTA = "resourcequota.yaml"
SETTERS = "setters.yaml"
SETTER_OF = {"pods": "quota-pods", "limits.cpu": "quota-cpu", "limits.memory": "quota-memory"}
"""The setter (``setters.yaml``) that holds each quota value."""


class ScaleError(ValueError):
    """The package cannot be scaled as it is (no Deployment, a quantity this module cannot read)."""


@dataclass(frozen=True)
class ScaleStep:
    """One scale step of a site's package.

    :param before: the Deployment's replicas before the step.
    :param after: its replicas after (``before`` when the ceiling is reached: nothing to commit).
    :param ceiling: the most replicas scaling may reach.
    :param files: the package after the step.
    """

    before: int
    after: int
    ceiling: int
    files: dict[str, str]

    @property
    def scaled(self) -> bool:
        return self.after > self.before


def ceiling(policy_max: int, max_replicas: int) -> int:
    """The most replicas a scale policy may reach: its ``max``, never above ``workload.maxReplicas``."""
    return max(1, min(policy_max, max_replicas))


def replicas(files: dict[str, str]) -> int:
    """The Deployment's replicas in a package."""
    return int(_deployment(files)["spec"].get("replicas", 1))


def packaged_ceiling(files: dict[str, str]) -> int | None:
    """The ceiling the compiler wrote into the package (None: a package compiled without one).

    :raises ScaleError: the annotation is not a whole number of at least 1.
    """
    annotations = _deployment(files).get("metadata", {}).get("annotations") or {}
    value = annotations.get(f"{LABEL_PREFIX}/{MAX_REPLICAS}")
    if value is None:
        return None
    if not str(value).isdigit() or int(value) < 1:
        raise ScaleError(
            f"{DEPLOYMENT}: {LABEL_PREFIX}/{MAX_REPLICAS} must be a whole number >= 1, not {value!r}"
        )
    return int(value)


def scale_up(files: dict[str, str], *, step: int, ceiling: int) -> ScaleStep:
    """The package with ``step`` more replicas, at most ``ceiling`` (and the package's own ceiling);
    see the module docstring.

    :raises ScaleError: the package has no Deployment, or a quota this module cannot size.
    """
    if step < 1:
        raise ValueError("step must be at least 1")
    before = replicas(files)
    ceiling = min(ceiling, packaged_ceiling(files) or ceiling)
    after = max(before, min(before + step, ceiling))
    if after == before:
        return ScaleStep(before, before, ceiling, dict(files))
    container = _deployment(files)["spec"]["template"]["spec"]["containers"][0]
    limits = (container.get("resources") or {}).get("limits") or {}
    pods = after + 1
    quota = {
        "pods": str(pods),
        "limits.cpu": cpu_quantity(pods * millicores(str(limits.get("cpu", "1")))),
        "limits.memory": f"{pods * mebibytes(str(limits.get('memory', '512Mi')))}Mi",
    }
    changed = dict(files)
    changed[DEPLOYMENT] = _set_line(files[DEPLOYMENT], "  replicas", str(after))
    if QUOTA in files:
        text = files[QUOTA]
        for key, value in quota.items():
            text = _set_line(text, f"    {key}", value)
        changed[QUOTA] = text
    if SETTERS in files:
        text = files[SETTERS]
        for key, setter in SETTER_OF.items():
            # a ConfigMap's data are strings: a number is quoted, as kpt writes it
            text = _set_line(text, f"  {setter}", quota[key], quoted=quota[key].isdigit())
        changed[SETTERS] = text
    _check(changed, after, quota)
    return ScaleStep(before, after, ceiling, changed)


def _deployment(files: dict[str, str]) -> dict[str, Any]:
    try:
        document = yaml.safe_load(files.get(DEPLOYMENT) or "")
    except yaml.YAMLError as exc:
        raise ScaleError(f"{DEPLOYMENT} is not YAML: {exc}") from None
    if not isinstance(document, dict) or document.get("kind") != "Deployment":
        raise ScaleError(f"the package has no Deployment in {DEPLOYMENT}")
    return document


def _set_line(text: str, key: str, value: str, *, quoted: bool = False) -> str:
    """``text`` with the one line ``<key>: <old>`` (this exact indentation) set to ``value``."""
    pattern = re.compile(rf"^{re.escape(key)}: .*$", re.MULTILINE)
    lines = pattern.findall(text)
    if len(lines) != 1:
        raise ScaleError(f"expected one line {key.strip()!r} at its place, found {len(lines)}")
    shown = f"'{value}'" if quoted else value
    return pattern.sub(lambda _: f"{key}: {shown}", text)


def _check(files: dict[str, str], after: int, quota: dict[str, str]) -> None:
    """The edited package says what it should (a line edit that hit the wrong place would not)."""
    if replicas(files) != after:
        raise ScaleError("the edited Deployment does not have the new replica count")
    if QUOTA in files:
        hard = (yaml.safe_load(files[QUOTA]).get("spec") or {}).get("hard") or {}
        if {k: str(hard.get(k)) for k in quota} != quota:
            raise ScaleError("the edited ResourceQuota does not have the new limits")
