"""Rendering with the real kpt binary and the blueprint's exec functions."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft202012Validator

from include.compiler import api, names, render
from include.compiler.errors import KptNotFoundError, RenderError

NAMESPACED_KINDS = {"Deployment", "Service", "NetworkPolicy", "ConfigMap", "ResourceQuota"}


def _documents(directory: Path):
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if (
                document
                and (document.get("metadata", {}).get("annotations") or {}).get(
                    "config.kubernetes.io/local-config"
                )
                != "true"
            ):
                yield path.name, document


def test_rendered_packages_carry_the_intent(rendered_sample):
    intent = rendered_sample.intent
    assert set(rendered_sample.sites) == {"edge1", "edge2", "edge3"}  # "at all sites"
    for site, directory in rendered_sample.sites.items():
        kinds = set()
        for _, document in _documents(directory):
            kinds.add(document["kind"])
            labels = document["metadata"]["labels"]
            assert labels[names.INTENT_LABEL] == intent.id
            assert labels[names.SITE_LABEL] == site
            assert labels[names.SLICE_LABEL] == "urllc"
            if document["kind"] in NAMESPACED_KINDS:
                assert document["metadata"]["namespace"] == f"intent-{intent.id}"
        assert kinds == NAMESPACED_KINDS | {"Namespace", "ProvisioningRequest"}
        quota = next(d for _, d in _documents(directory) if d["kind"] == "ResourceQuota")
        assert quota["spec"]["hard"] == {"pods": 9, "limits.cpu": "13500m", "limits.memory": "9216Mi"}
        deployment = next(d for _, d in _documents(directory) if d["kind"] == "Deployment")
        assert deployment["spec"]["template"]["metadata"]["labels"][names.INTENT_LABEL] == intent.id


def test_builtin_kinds_pass_kubernetes_schemas(rendered_sample):
    checked = 0
    for directory in rendered_sample.sites.values():
        for _name, document in _documents(directory):
            if document["kind"] == "ProvisioningRequest":
                continue
            kubernetes_validate.validate(document, "1.30", strict=True)
            checked += 1
    assert checked == 6 * 3  # six built-in kinds at each of the three sites


def test_kubernetes_schema_check_can_fail():
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "three"},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.30", strict=True)


def test_provisioning_request_passes_the_nephio_crd_schema(rendered_sample, provisioning_request_schema):
    validator = Draft202012Validator(provisioning_request_schema)
    for directory in rendered_sample.sites.values():
        pr = next(d for _, d in _documents(directory) if d["kind"] == "ProvisioningRequest")
        validator.validate(pr)
        assert set(pr["spec"]) == {
            "name",
            "description",
            "templateName",
            "templateVersion",
            "templateParameters",
        }


def test_render_is_deterministic(settings, many_targets_intent, rendered_sample, tmp_path):
    again = api.compile_to_dir(many_targets_intent.to_json(), tmp_path / "again", settings)
    for site, directory in rendered_sample.sites.items():
        comparison = filecmp.dircmp(directory, again.sites[site])
        assert sorted(comparison.left_list) == sorted(comparison.right_list)
        for name in comparison.left_list:
            assert (directory / name).read_bytes() == (again.sites[site] / name).read_bytes(), name


def test_rerender_replaces_a_site(settings, tmp_path):
    document = api.parse("URLLC with 5 ms latency at edge1", settings).to_json()
    out = tmp_path / "out"
    api.compile_to_dir(document, out, settings)
    (out / "edge1" / "stale.yaml").write_text("stale: true\n")
    api.compile_to_dir(document, out, settings)
    assert not (out / "edge1" / "stale.yaml").exists()
    assert sorted(p.name for p in out.iterdir()) == ["edge1"]


def _package(tmp_path: Path, settings, mutate) -> Path:
    intent = api.to_28312(api.parse("URLLC with 5 ms latency at edge1", settings), settings)
    files = api.packages(intent, settings)["edge1"]
    mutate(files)
    workspace = tmp_path / "ws"
    (workspace / "edge1").mkdir(parents=True)
    render.prepare_workspace(workspace)
    for name, text in files.items():
        (workspace / "edge1" / name).write_text(text)
    return workspace / "edge1"


def _edit(files, name, change):
    document = yaml.safe_load(files[name])
    change(document)
    files[name] = yaml.safe_dump(document)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda f: _edit(
                f,
                "deployment.yaml",
                lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits"),
            ),
            "container 'slice' has no cpu or memory limit",
        ),
        (
            lambda f: _edit(f, "service.yaml", lambda d: d["metadata"].update(name="Bad_Name")),
            "name 'Bad_Name' is not a DNS-1123 label",
        ),
        (
            lambda f: _edit(f, "setters.yaml", lambda d: d["data"].pop("intent-id")),
            "functionConfig (setters.yaml) lacks intent-id",
        ),
        (
            lambda f: f.update(
                {
                    "extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
                    "data:\n  k: ${no-such-setter}\n"
                }
            ),
            "setter ${no-such-setter} is not filled",
        ),
    ],
    ids=["no limits", "bad name", "no intent id", "unfilled setter"],
)
def test_validator_rejects_with_kpts_own_text(tmp_path, settings, mutate, message):
    package = _package(tmp_path, settings, mutate)
    with pytest.raises(RenderError) as caught:
        render.render(package)
    assert message in str(caught.value)
    assert "kpt fn render of package 'edge1' failed" in str(caught.value)


def test_validator_checks_labels_and_namespace(tmp_path, settings):
    from include.kpt.functions import validate_intent

    setters = {"intent-id": "a1", "namespace": "intent-a1", "site": "edge1"}
    item = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}}
    messages = [r["message"] for r in validate_intent.process([item], setters)]
    assert f"lacks label {names.INTENT_LABEL}=a1" in messages
    assert f"lacks label {names.SITE_LABEL}" in messages
    assert "is in namespace 'default', not the intent's 'intent-a1'" in messages


def test_missing_kpt_says_how_to_install(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("KPT_BIN", str(tmp_path / "no-kpt"))
    document = api.parse("URLLC with 5 ms latency at edge1", settings).to_json()
    with pytest.raises(KptNotFoundError, match="kpt is not installed.*KPT_BIN"):
        api.compile_to_dir(document, tmp_path / "out", settings)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_failed_render_writes_nothing(settings, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "kpt"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'simulated kpt failure' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KPT_BIN", str(fake))
    document = api.parse("URLLC with 5 ms latency at all sites", settings).to_json()
    with pytest.raises(RenderError, match="simulated kpt failure"):
        api.compile_to_dir(document, tmp_path / "out", settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_blueprint_renders_on_its_own(tmp_path):
    """The blueprint is a kpt package in its own right (rendered to stdout, so it stays unchanged)."""
    kpt = shutil.which("kpt")
    assert kpt, "kpt must be installed for the test suite"
    blueprint = render.FUNCTIONS.parent / "slice-blueprint"
    before = {p.name: p.read_bytes() for p in blueprint.iterdir()}
    import os
    import sys

    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        PYTHONPATH=str(render.PROJECT_ROOT),
    )
    done = subprocess.run(
        [kpt, "fn", "render", ".", "--allow-exec", "-o", "unwrap"],
        cwd=blueprint,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    quota = next(d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "ResourceQuota")
    assert quota["metadata"]["namespace"] == "intent-example-intent"
    assert quota["spec"]["hard"]["pods"] == 3
    assert {p.name: p.read_bytes() for p in blueprint.iterdir()} == before


def test_kpt_runs_with_its_go_runtime_settings_unless_the_environment_sets_them(monkeypatch):
    for name in render.KPT_RUNTIME:
        monkeypatch.delenv(name, raising=False)
    env = render.kpt_env()
    assert {name: env[name] for name in render.KPT_RUNTIME} == {
        "GOGC": "off",
        "GOMEMLIMIT": "512MiB",
        "GOMAXPROCS": "1",
    }
    monkeypatch.setenv("GOGC", "100")
    assert render.kpt_env()["GOGC"] == "100"


def test_kpt_renders_under_a_tight_memory_limit(settings, tmp_path, monkeypatch):
    """With its collector off kpt still collects near GOMEMLIMIT: a low limit renders the same."""
    intent = api.to_28312(api.parse("URLLC slice with 5 ms latency at edge1", settings), settings)
    packages = api.packages(intent, settings)
    free = api.render_packages(packages, tmp_path / "free")
    monkeypatch.setenv("GOMEMLIMIT", "8MiB")
    tight = api.render_packages(packages, tmp_path / "tight")
    comparison = filecmp.dircmp(free["edge1"], tight["edge1"])
    assert sorted(p.name for p in free["edge1"].iterdir()) == sorted(p.name for p in tight["edge1"].iterdir())
    assert not comparison.diff_files
