#!/usr/bin/env -S python3 -IS
"""kpt mutator: apply the intent to every resource of the package.

functionConfig: the package's ``setters.yaml`` ConfigMap. For every resource that is not
local config it
* fills each ``${name}`` in string values with the setter ``name`` (a value that is only
  ``${name}`` and whose setter is a whole number becomes a number),
* sets the intent labels (intent id, site, slice type, managed-by) on the resource and on the
  pod template of workloads,
* sets ``metadata.namespace`` to the intent's namespace on namespaced resources.

Started with ``python3 -IS`` (no site-packages): it imports only the standard library and this
project's small modules (see krmfn).
"""

from __future__ import annotations

import os
import sys

sys.path[:0] = [os.path.realpath(f"{__file__}/{up}") for up in ("..", "../../../..")]  # krmfn; the project

from krmfn import CLUSTER_SCOPED, is_local_config, pod_template_metadata, result, run  # noqa: E402

from include.compiler import names  # noqa: E402

SETTER_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
REQUIRED = ("intent-id", "namespace", "site", "slice-type")


def setter_refs(text):
    """(start, end, name) of every ``${name}`` in ``text``, name of letters, digits, ``_.-``."""
    refs, position = [], 0
    while (start := text.find("${", position)) >= 0:
        end = text.find("}", start + 2)
        name = text[start + 2 : end]
        if end < 0 or not name or not SETTER_NAME.issuperset(name):
            position = start + 1
            continue
        refs.append((start, end + 1, name))
        position = end + 1
    return refs


def substitute(node, setters):
    if isinstance(node, dict):
        return {key: substitute(value, setters) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(value, setters) for value in node]
    if isinstance(node, str) and "${" in node:
        refs = setter_refs(node)
        if len(refs) == 1 and refs[0][:2] == (0, len(node)):  # the whole value is one ${name}
            value = setters.get(refs[0][2])
            if value is not None and value.isdigit():
                return int(value)
        parts, position = [], 0
        for start, end, name in refs:
            parts += [node[position:start], setters.get(name, node[start:end])]
            position = end
        return "".join(parts) + node[position:]
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
