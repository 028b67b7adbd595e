"""Shared fixtures: configuration, the standards' schemas, and a compiled sample intent."""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from include.compiler import api
from include.compiler.config import PROJECT_ROOT, Settings, load_settings
from tests.profiles import write_config

# Airflow reads its configuration when first imported, which happens while tests are collected:
# give the whole session its own AIRFLOW_HOME (SQLite) before that.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="edge-intent-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "EDGE_INTENT_GIT_CACHE": str(_AIRFLOW_HOME / "git-cache"),
        "PYTHONWARNINGS": "ignore",
    }
)
os.environ["EDGE_INTENT_SLO_CONFIG"] = str(write_config(_AIRFLOW_HOME / "slo.yaml"))  # tests/profiles.py

STANDARDS = PROJECT_ROOT / "standards"
BASE = "http://standards.invalid/"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def three_sites(tmp_path: Path) -> Settings:
    """A catalogue of three sites, one with an alias."""
    catalogue = {
        "sites": [
            {"name": "edge1", "repo": "edge1-config", "kubernetesConnId": "kubernetes_edge1"},
            {"name": "edge2", "repo": "edge2-config", "kubernetesConnId": "kubernetes_edge2"},
            {
                "name": "oslo",
                "aliases": ["oslo harbour"],
                "repo": "oslo-config",
                "kubernetesConnId": "k8s_oslo",
            },
        ]
    }
    path = tmp_path / "sites.yaml"
    path.write_text(yaml.safe_dump(catalogue))
    return load_settings(path)


def _openapi_to_jsonschema(node: Any) -> Any:
    """The 3GPP OpenAPI files use oneOf with overlapping alternatives (every list also admits the
    generic type), so strict oneOf rejects every valid instance: read it as anyOf. The specific
    target schemas are checked one by one in the tests instead."""
    if isinstance(node, dict):
        return {
            ("anyOf" if key == "oneOf" else key): _openapi_to_jsonschema(value) for key, value in node.items()
        }
    if isinstance(node, list):
        return [_openapi_to_jsonschema(item) for item in node]
    return node


def _registry() -> Registry:
    documents = {path.name: yaml.safe_load(path.read_text()) for path in STANDARDS.glob("TS*.yaml")}
    # Files the kept ones refer to but which are not kept: permissive stand-ins for the parts used.
    missing: dict[str, dict] = {}
    for text in (path.read_text() for path in STANDARDS.glob("TS*.yaml")):
        for name, pointer in re.findall(
            r"(TS[0-9A-Za-z_]+\.yaml)#/components/schemas/([A-Za-z0-9_-]+)", text
        ):
            if name not in documents:
                missing.setdefault(name, {"components": {"schemas": {}}})["components"]["schemas"][
                    pointer
                ] = {}
    documents.update(missing)
    return Registry().with_resources(
        (BASE + name, DRAFT202012.create_resource(_openapi_to_jsonschema(doc)))
        for name, doc in documents.items()
    )


@pytest.fixture(scope="session")
def standards_validator():
    """``validate(instance, "TS28312_IntentNrm.yaml", "Intent-Single")`` raises on an invalid instance."""
    registry = _registry()

    def validate(instance: Any, document: str, schema: str) -> None:
        validator = Draft202012Validator(
            {"$ref": f"{BASE}{document}#/components/schemas/{schema}"}, registry=registry
        )
        validator.validate(instance)

    return validate


TMF921_OAS = "TMF921_Intent_Management_v5.0.0.oas.yaml"


def _oas30_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema: ``nullable`` admits null; ``oneOf`` is read as ``anyOf``, because
    TMF921 picks a branch by ``@type`` (its ``discriminator``, which JSON Schema has not) and its
    branches overlap (an ``IntentRef`` is also a valid ``Intent``): the tests validate a nested
    reference or expression against the schema its ``@type`` names, on top."""
    if isinstance(node, dict):
        converted = {
            ("anyOf" if key == "oneOf" else key): _oas30_to_jsonschema(value)
            for key, value in node.items()
            if key not in ("nullable", "discriminator")
        }
        if node.get("nullable") and isinstance(node.get("type"), str):
            converted["type"] = [node["type"], "null"]
        return converted
    if isinstance(node, list):
        return [_oas30_to_jsonschema(item) for item in node]
    return node


@pytest.fixture(scope="session")
def tmf921_validator():
    """``validate(instance, "IntentReport")`` against the official TMF921 v5.0.0 OpenAPI's schema,
    then ``instance[field]`` against the schema its ``@type`` names for every ``(field, suffix)`` in
    ``nested`` (e.g. ``("expression", "_FVO")``): raises on an invalid instance."""
    document = _oas30_to_jsonschema(yaml.safe_load((STANDARDS / TMF921_OAS).read_text()))
    # the OAS refers within itself ("#/components/..."): one resource, refs resolved against it
    resource = DRAFT202012.create_resource(document)
    registry = Registry().with_resource(BASE + TMF921_OAS, resource)

    def validate(instance: Any, schema: str, nested: tuple[tuple[str, str], ...] = ()) -> None:
        def check(value: Any, name: str) -> None:
            assert name in document["components"]["schemas"], f"no schema {name} in the TMF921 OAS"
            Draft202012Validator(
                {"$ref": f"{BASE}{TMF921_OAS}#/components/schemas/{name}"}, registry=registry
            ).validate(value)

        check(instance, schema)
        for field, suffix in nested:
            value = instance[field]
            check(value, f"{value['@type']}{suffix}")

    return validate


def _closed(node: Any) -> Any:
    """A CRD's structural schema with unknown fields refused: the API server would prune them
    silently, so a misspelt field would be lost without a word."""
    if isinstance(node, dict):
        closed = {key: _closed(value) for key, value in node.items()}
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_closed(item) for item in node]
    return node


@pytest.fixture(scope="session")
def rootsync_schema() -> dict:
    """Config Sync's RootSync CRD (configsync.gke.io/v1beta1), from ``standards/rootsync-crd.yaml``."""
    crd = yaml.safe_load((STANDARDS / "rootsync-crd.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    schema = _closed(_oas30_to_jsonschema(version["schema"]["openAPIV3Schema"]))
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: not in the CRD
    return schema


@pytest.fixture(scope="session")
def provisioning_request_schema() -> dict:
    crd = yaml.safe_load((STANDARDS / "o2ims.provisioning.oran.org_provisioningrequests.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    return copy.deepcopy(version["schema"]["openAPIV3Schema"])


SAMPLE_TEXT = (
    "URLLC slice with 5 ms latency, 2 ms jitter, 99.999% reliability, 99.99% availability, "
    "300 Mbps downlink, 50 Mbps uplink and 10 ms uplink latency for 1,500 devices at all sites, priority 80"
)


@pytest.fixture(scope="session")
def many_targets_intent(settings):
    """A TMF921 intent with every target kind the compiler knows, for every catalogue site."""
    return api.parse(SAMPLE_TEXT, settings)


@pytest.fixture(scope="session")
def rendered_sample(tmp_path_factory, settings, many_targets_intent):
    """The many-targets intent compiled and rendered by the real kpt."""
    out = tmp_path_factory.mktemp("rendered") / "out"
    return api.compile_to_dir(many_targets_intent.to_json(), out, settings)


pytest_plugins = ["tests.stackfixtures"]

LONGEST_FIRST = (
    "tests/test_faults.py",
    "tests/dags/test_intent_pipeline.py",
    "tests/dags/test_progressive.py",
    "tests/test_progressive_api.py",
    "tests/test_celery_stack.py",
    "tests/test_intent_api.py",
    "tests/test_rollout_page.py",
    "tests/test_monitoring.py",
    "tests/test_running_stack.py",
    "tests/dags/test_reverify.py",
    "tests/dags/test_rollback.py",
    "tests/dags/test_scaling.py",
    "tests/plugins/test_airflow_api_hook.py",
)
"""The files that run pipelines on real stacks, longest first (``--durations``). pytest-xdist hands
whole files (``--dist loadfile``) to its workers in collection order: starting with these, the
short files fill in at the end instead of one long file running alone."""


def pytest_collection_modifyitems(config, items):
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable
