"""A minimal KRM function runtime for kpt exec functions written in Python.

kpt sends a ``ResourceList`` (``items`` and ``functionConfig``) as YAML on stdin and reads the
changed list back from stdout. A function returns its ``results`` (kpt's structured results); any
result of severity ``error`` fails the function, and kpt shows the results to the user.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
LOCAL_CONFIG = "config.kubernetes.io/local-config"
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ProvisioningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "RuntimeClass",
    }
)

Resource = dict[str, Any]
Result = dict[str, Any]


def is_local_config(item: Resource) -> bool:
    annotations = (item.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(LOCAL_CONFIG, "")).lower() == "true" or item.get("kind") == "Kptfile"


def pod_specs(item: Resource) -> Iterator[tuple[str, Resource]]:
    """Every pod spec of a workload, with its field path."""
    kind = item.get("kind")
    spec = item.get("spec") or {}
    if kind == "Pod":
        yield "spec", spec
    elif kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        yield "spec.jobTemplate.spec.template.spec", template.get("spec") or {}
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        yield "spec.template.spec", (spec.get("template") or {}).get("spec") or {}


def pod_template_metadata(item: Resource) -> Resource | None:
    spec = item.get("spec") or {}
    if item.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return spec.setdefault("template", {}).setdefault("metadata", {})
    if item.get("kind") == "CronJob":
        job = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        return job.setdefault("template", {}).setdefault("metadata", {})
    return None


def result(
    message: str, severity: str = "error", item: Resource | None = None, field: str | None = None
) -> Result:
    entry: Result = {"message": message, "severity": severity}
    if item is not None:
        metadata = item.get("metadata") or {}
        ref = {
            "apiVersion": item.get("apiVersion", ""),
            "kind": item.get("kind", ""),
            "name": metadata.get("name", ""),
        }
        if metadata.get("namespace"):
            ref["namespace"] = metadata["namespace"]
        entry["resourceRef"] = ref
        path = (metadata.get("annotations") or {}).get("config.kubernetes.io/path")
        if path:
            entry["file"] = {"path": path}
    if field:
        entry["field"] = {"path": field}
    return entry


def run(process: Callable[[list[Resource], dict[str, str]], list[Result]]) -> None:
    """Read the ResourceList, call ``process(items, functionConfig.data)``, write the list back."""
    resource_list = yaml.load(sys.stdin, Loader=_LOADER) or {}  # noqa: S506 (a safe loader)
    items = resource_list.get("items") or []
    config = (resource_list.get("functionConfig") or {}).get("data") or {}
    results = process(items, {str(k): str(v) for k, v in config.items()})
    resource_list["results"] = results
    yaml.dump(resource_list, sys.stdout, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)
    errors = [entry for entry in results if entry.get("severity") == "error"]
    for entry in errors:
        print(f"error: {entry['message']}", file=sys.stderr)
    sys.exit(1 if errors else 0)
