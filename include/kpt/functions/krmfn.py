"""A minimal KRM function runtime for kpt exec functions written in Python.

kpt sends a ``ResourceList`` (``items`` and ``functionConfig``) as YAML on stdin and reads the
changed list back from stdout. A function returns its ``results`` (kpt's structured results); any
result of severity ``error`` fails the function, and kpt shows the results to the user.

The functions start with ``python3 -IS`` and import the standard library alone: they read and write
the list with :mod:`krmyaml`, and only a document it does not cover brings in PyYAML.

kpt marks each input resource with an id annotation and, for every output resource that still
carries one, copies the input's comments onto it. That copy is kpt's slowest step (its first use
loads the Kubernetes OpenAPI schema, about 100 ms). So the runtime drops the ids and writes the
comments itself where it can: the comment above a resource. A resource with comments anywhere
else keeps its ids, and kpt copies them as before.
"""

from __future__ import annotations

import sys

import krmyaml

TYPE_CHECKING = False  # typing is slow to import
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Resource = dict[str, Any]
    Result = dict[str, Any]

LOCAL_CONFIG = "config.kubernetes.io/local-config"
IDS = ("config.k8s.io/id", "internal.config.kubernetes.io/id")
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
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


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
    elif kind in WORKLOADS:
        yield "spec.template.spec", (spec.get("template") or {}).get("spec") or {}


def pod_template_metadata(item: Resource) -> Resource | None:
    spec = item.get("spec") or {}
    if item.get("kind") in WORKLOADS:
        return spec.setdefault("template", {}).setdefault("metadata", {})
    if item.get("kind") == "CronJob":
        job = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        return job.setdefault("template", {}).setdefault("metadata", {})
    return None


def result(
    message: str, severity: str = "error", item: Resource | None = None, field: str | None = None
) -> Result:
    """A kpt structured result; ``item`` and ``field`` say which resource and field it is about."""
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
    text = sys.stdin.buffer.read().decode("utf-8")
    try:
        document = krmyaml.Document(text)
        resource_list = document.data or {}
    except krmyaml.Unsupported:
        yaml = _pyyaml()
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
        document, resource_list = None, yaml.load(text, Loader=loader) or {}  # noqa: S506 (a safe loader)
    items = resource_list.get("items") or []
    count = len(items)
    config = (resource_list.get("functionConfig") or {}).get("data") or {}
    results = process(items, {str(k): str(v) for k, v in config.items()})
    resource_list["results"] = results
    usable = document is not None and len(items) == count
    sys.stdout.buffer.write(_dump(resource_list, items, document if usable else None).encode("utf-8"))
    errors = [entry for entry in results if entry.get("severity") == "error"]
    for entry in errors:
        print(f"error: {entry['message']}", file=sys.stderr)
    sys.exit(1 if errors else 0)


def _dump(resource_list, items, document) -> str:
    """The list as YAML, without the ids of the items whose comments this output carries."""
    if document is None:
        return _pyyaml_dump(resource_list)
    heads, stripped = {}, []
    for index, item in enumerate(items):
        head = _own_comments(document, index)
        metadata = item.get("metadata") if head is not None and type(item) is dict else None
        annotations = metadata.get("annotations") if type(metadata) is dict else None
        if type(annotations) is not dict or not any(key in annotations for key in IDS):
            continue
        kept = {key: value for key, value in annotations.items() if key not in IDS}
        if kept:  # kpt's own annotations are always there; never leave an empty map behind
            metadata["annotations"] = kept
            stripped.append((metadata, annotations))
            if head:
                heads[id(item)] = head
    try:
        return krmyaml.dump(resource_list, heads)
    except krmyaml.Unsupported:
        for metadata, annotations in stripped:
            metadata["annotations"] = annotations
        return _pyyaml_dump(resource_list)


def _own_comments(document, index):
    """The head comment of item ``index`` ([] if none), or None when it has comments elsewhere."""
    entry = ("items", index)
    for path in document.comments:
        if path in ((), ("items",)) or path[:2] == entry:
            return None
    for path in document.heads:
        if len(path) > 2 and path[:2] == entry:
            return None
    return document.heads.get(entry, [])


def _pyyaml():
    """PyYAML, from the interpreter's site-packages (the functions start without them)."""
    try:
        import yaml
    except ImportError:
        import site

        site.main()
        site.addsitedir(site.getusersitepackages())  # installs with pip --user (Airflow's image)
        import yaml
    return yaml


def _pyyaml_dump(resource_list) -> str:
    yaml = _pyyaml()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(resource_list, Dumper=dumper, sort_keys=False, default_flow_style=False)
