#!/usr/bin/env python3
"""kpt mutator: apply the intent to every resource of the package.

functionConfig: the package's ``setters.yaml`` ConfigMap. For every resource that is not
local config it
* fills each ``${name}`` in string values with the setter ``name`` (a value that is only
  ``${name}`` and whose setter is a whole number becomes a number),
* sets the intent labels (intent id, site, slice type, managed-by) on the resource and on the
  pod template of workloads,
* sets ``metadata.namespace`` to the intent's namespace on namespaced resources.
"""

from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from krmfn import CLUSTER_SCOPED, is_local_config, pod_template_metadata, result, run  # noqa: E402

from include.compiler import names  # noqa: E402

SETTER = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")
REQUIRED = ("intent-id", "namespace", "site", "slice-type")


def substitute(node, setters):
    if isinstance(node, dict):
        return {key: substitute(value, setters) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(value, setters) for value in node]
    if isinstance(node, str):
        whole = SETTER.fullmatch(node)
        if whole and whole.group(1) in setters and setters[whole.group(1)].isdigit():
            return int(setters[whole.group(1)])
        return SETTER.sub(lambda m: setters.get(m.group(1), m.group(0)), node)
    return node


def process(items, setters):
    missing = [key for key in REQUIRED if not setters.get(key)]
    if missing:
        return [result(f"functionConfig (setters.yaml) lacks {', '.join(missing)}")]
    labels = {
        names.INTENT_LABEL: setters["intent-id"],
        names.SITE_LABEL: setters["site"],
        names.SLICE_LABEL: setters["slice-type"],
        names.MANAGED_BY: names.MANAGER,
    }
    changed = 0
    for index, item in enumerate(items):
        if is_local_config(item):
            continue
        item = items[index] = substitute(item, setters)
        metadata = item.setdefault("metadata", {})
        metadata.setdefault("labels", {}).update(labels)
        if item.get("kind") not in CLUSTER_SCOPED:
            metadata["namespace"] = setters["namespace"]
        template = pod_template_metadata(item)
        if template is not None:
            template.setdefault("labels", {}).update(labels)
        changed += 1
    return [result(f"applied intent {setters['intent-id']} to {changed} resources", severity="info")]


if __name__ == "__main__":
    run(process)
