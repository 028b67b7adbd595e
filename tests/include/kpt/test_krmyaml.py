"""The exec functions' own YAML (krmyaml) against PyYAML, and their runtime (krmfn) as kpt runs it."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import yaml

from include.compiler import render

sys.path.insert(0, str(render.FUNCTIONS))

import krmyaml  # noqa: E402

LOADER = yaml.CSafeLoader
DUMPER = yaml.CSafeDumper
FUNCTION = render.FUNCTIONS / "apply_and_validate.py"
TRICKY = [
    "", " ", "a", "a b", "a: b", "a:b", "a #b", "a#b", "#a", "-", "- a", "-a", "--a", "?", "? a", ":", "a:",
    "'", '"', "''", "it's", "~", "null", "Null", "true", "True", "yes", "On", "off", "y", "n", "0", "00",
    "007", "08", "1", "-1", "+1", "1.5", "1.", ".5", "1e5", "1.0e+5", "1_000", "0x1F", "0b11", "1:20",
    "1:20.5", ".inf", "-.inf", ".nan", "2024-01-01", "2024-1-1 10:00:00", "<<", "=", "---", "...", "a\nb",
    "a\n b", "a \nb", "\na", "a\n", "tab\there", "é", "naïve text", "${site}", "pre-${site}", "[a]", "{a}",
    "a, b", "*a", "&a", "!a", "|", ">", "%a", "@a", "`a", "10.0.0.1", "v1.0.0", "1500m", "9216Mi", "'85'",
    'say "hi"', "back\\slash", "x" * 120, "\x07", "\u2028", "😀",
]  # fmt: skip


def _styles(node):
    if isinstance(node, yaml.ScalarNode):
        return [(node.tag, node.value, node.style or "")]
    if isinstance(node, yaml.MappingNode):
        return [s for key, value in node.value for s in _styles(key) + _styles(value)]
    return [s for value in node.value for s in _styles(value)]


def _random_document(rng: random.Random, depth: int = 0):
    pick = rng.random()
    if depth > 3 or pick < 0.45:
        return rng.choice([*TRICKY, 0, 7, -3, 99.999, 1e17, 1e-05, True, False, None, {}, []])
    if pick < 0.8:
        return {rng.choice(TRICKY[2:40]): _random_document(rng, depth + 1) for _ in range(rng.randint(1, 4))}
    return [_random_document(rng, depth + 1) for _ in range(rng.randint(1, 4))]


def test_writes_each_scalar_in_the_style_pyyaml_writes_it():
    for value in TRICKY:
        for document in ({"key": value}, {value: "v"} if value else {"k": [value]}):
            try:
                ours = krmyaml.dump(document)
            except krmyaml.Unsupported:
                continue
            theirs = yaml.dump(document, Dumper=DUMPER, sort_keys=False, default_flow_style=False)
            assert _styles(yaml.compose(ours, Loader=LOADER)) == _styles(yaml.compose(theirs, Loader=LOADER))


def test_random_documents_read_and_write_as_with_pyyaml():
    rng = random.Random(1)
    written = 0
    for _ in range(1500):
        document = {"items": [_random_document(rng) for _ in range(3)]}
        for options in ({}, {"indent": 4}, {"allow_unicode": True}):
            text = yaml.dump(document, Dumper=DUMPER, sort_keys=False, default_flow_style=False, **options)
            try:
                read = krmyaml.Document(text).data
            except krmyaml.Unsupported:
                continue
            assert repr(read) == repr(yaml.load(text, Loader=LOADER)), text
        try:
            ours = krmyaml.dump(document)
        except krmyaml.Unsupported:
            continue
        written += 1
        theirs = yaml.dump(document, Dumper=DUMPER, sort_keys=False, default_flow_style=False)
        assert repr(yaml.load(ours, Loader=LOADER)) == repr(document)
        assert _styles(yaml.compose(ours, Loader=LOADER)) == _styles(yaml.compose(theirs, Loader=LOADER))
    assert written > 300


@pytest.mark.parametrize(
    "text",
    [
        "a: |\n  literal\n",
        "a: &x 1\nb: *x\n",
        "a: [1, 2]\n",
        "a: plain\n  continued\n",
        "a: 0755\n",
        "a: 2024-01-01\n",
        "a:\n\tb: 1\n",
        "---\na: 1\n",
        "a: 'one\n  two'\n",
        "? a\n: b\n",
    ],
)
def test_yaml_it_does_not_read_is_left_to_pyyaml(text):
    with pytest.raises(krmyaml.Unsupported):
        krmyaml.Document(text)


RESOURCE_LIST = """apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- # Caps what the slice may use.
  # Second line.
  apiVersion: v1
  kind: ResourceQuota
  metadata:
    name: slice-quota
    annotations:
      config.kubernetes.io/path: 'resourcequota.yaml'
      internal.config.kubernetes.io/id: '1'
      config.k8s.io/id: '1'
  spec:
    hard:
      pods: ${quota-pods}
- apiVersion: v1
  kind: Service
  metadata:
    name: svc
    annotations:
      config.kubernetes.io/path: 'service.yaml'
      internal.config.kubernetes.io/id: '2'
      config.k8s.io/id: '2'
  spec:
    type: ClusterIP # the default
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: intent-setters
  data:
    intent-id: a1
    namespace: intent-a1
    site: edge1
    slice-type: urllc
    quota-pods: '9'
"""


def _run_function(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(FUNCTION)], input=text, capture_output=True, text=True, env=render.kpt_env(), check=False
    )


def test_function_writes_head_comments_itself_and_leaves_other_comments_to_kpt():
    done = _run_function(RESOURCE_LIST)
    assert done.returncode == 0, done.stderr
    quota, service = yaml.safe_load(done.stdout)["items"]
    assert "- # Caps what the slice may use.\n  # Second line.\n  apiVersion: v1\n" in done.stdout
    assert quota["spec"]["hard"]["pods"] == 9
    assert set(quota["metadata"]["annotations"]) == {"config.kubernetes.io/path"}  # kpt skips its copy
    assert service["metadata"]["annotations"]["config.k8s.io/id"] == "2"  # kpt copies this comment


def test_function_falls_back_on_pyyaml_for_yaml_it_does_not_read():
    text = RESOURCE_LIST.replace("type: ClusterIP # the default", "type: |\n      ClusterIP\n")
    done = _run_function(text)
    assert done.returncode == 0, done.stderr
    service = yaml.safe_load(done.stdout)["items"][1]
    assert service["spec"]["type"] == "ClusterIP\n"
    assert service["metadata"]["annotations"]["config.k8s.io/id"] == "2"


def test_function_imports_neither_third_party_modules_nor_re():
    done = subprocess.run(
        [sys.executable, "-IS", "-X", "importtime", str(FUNCTION)],
        input=RESOURCE_LIST,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert {"krmyaml", "krmfn", "include.compiler.names"} <= modules
    assert not modules & {"yaml", "re", "json", "typing", "site"}
