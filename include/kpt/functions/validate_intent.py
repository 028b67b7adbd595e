#!/usr/bin/env -S python3 -IS
"""kpt validator: refuse a package that is not safe to deliver to an edge site.

It reports, as kpt error results:
* names that are not DNS-1123 (labels for Namespaces and Services, subdomains otherwise);
* resources without the intent label of this intent, or without the site label;
* namespaced resources outside the intent's namespace;
* containers (and init containers) of workloads without CPU and memory limits;
* setters left unfilled (``${name}``).

Started with ``python3 -IS`` (no site-packages): it imports only the standard library and this
project's small modules (see krmfn).
"""

from __future__ import annotations

import os
import sys

sys.path[:0] = [os.path.realpath(f"{__file__}/{up}") for up in ("..", "../../../..")]  # krmfn; the project

from krmfn import CLUSTER_SCOPED, is_local_config, pod_specs, result, run  # noqa: E402

from include.compiler import names  # noqa: E402

LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
LABEL_NAMED = {"Namespace", "Service"}


def is_dns_label(name):
    """``[a-z0-9]([-a-z0-9]*[a-z0-9])?`` (the length limit is checked apart)."""
    return bool(name) and LABEL_CHARS.issuperset(name) and name[0] != "-" and name[-1] != "-"


def is_dns_subdomain(name):
    """DNS-1123 labels joined by dots."""
    return all(is_dns_label(label) for label in name.split("."))


def check_name(item):
    name = (item.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        return [result("has no metadata.name", item=item, field="metadata.name")]
    if item.get("kind") in LABEL_NAMED:
        if len(name) > 63 or not is_dns_label(name):
            return [result(f"name {name!r} is not a DNS-1123 label", item=item, field="metadata.name")]
    elif len(name) > 253 or not is_dns_subdomain(name):
        return [result(f"name {name!r} is not a DNS-1123 subdomain", item=item, field="metadata.name")]
    return []


def check_labels(item, setters):
    labels = (item.get("metadata") or {}).get("labels") or {}
    found = []
    if labels.get(names.INTENT_LABEL) != setters.get("intent-id"):
        found.append(
            result(
                f"lacks label {names.INTENT_LABEL}={setters.get('intent-id')}",
                item=item,
                field="metadata.labels",
            )
        )
    if not labels.get(names.SITE_LABEL):
        found.append(result(f"lacks label {names.SITE_LABEL}", item=item, field="metadata.labels"))
    return found


def check_namespace(item, setters):
    namespace = (item.get("metadata") or {}).get("namespace")
    if item.get("kind") in CLUSTER_SCOPED:
        if item.get("kind") == "Namespace" and item["metadata"].get("name") != setters.get("namespace"):
            return [
                result(f"Namespace is not the intent's namespace {setters.get('namespace')!r}", item=item)
            ]
        return []
    if namespace != setters.get("namespace"):
        return [
            result(
                f"is in namespace {namespace!r}, not the intent's {setters.get('namespace')!r}",
                item=item,
                field="metadata.namespace",
            )
        ]
    return []


def check_limits(item):
    found = []
    for path, spec in pod_specs(item):
        for group in ("initContainers", "containers"):
            for index, container in enumerate(spec.get(group) or []):
                limits = (container.get("resources") or {}).get("limits") or {}
                missing = [key for key in ("cpu", "memory") if not limits.get(key)]
                if missing:
                    found.append(
                        result(
                            f"container {container.get('name', index)!r} has no {' or '.join(missing)} limit",
                            item=item,
                            field=f"{path}.{group}[{index}].resources.limits",
                        )
                    )
    return found


def has_setter_syntax(node):
    """Whether a key or string value anywhere in ``node`` holds ``${``."""
    if isinstance(node, dict):
        return any(has_setter_syntax(key) or has_setter_syntax(value) for key, value in node.items())
    if isinstance(node, list):
        return any(has_setter_syntax(value) for value in node)
    return isinstance(node, str) and "${" in node


def check_setters(item):
    if not has_setter_syntax(item):  # the usual case; spares importing json and re
        return []
    import json
    import re

    leftover = sorted(set(re.findall(r"\$\{([^}]*)\}", json.dumps(item))))
    return [result(f"setter ${{{name}}} is not filled", item=item) for name in leftover]


def process(items, setters):
    found = []
    for item in items:
        if is_local_config(item):
            continue
        found += check_name(item) + check_labels(item, setters) + check_namespace(item, setters)
        found += check_limits(item) + check_setters(item)
    if not found:
        found.append(result(f"{sum(not is_local_config(i) for i in items)} resources valid", severity="info"))
    return found


if __name__ == "__main__":
    run(process)
