"""A scale step of a rendered package: the Deployment's replicas and the quota sized for them, one
line each, nothing else; kpt renders the scaled package to itself; the ceiling holds."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from include.compiler import api
from include.compiler.config import load_settings
from include.rollout.scale import ScaleError, ceiling, packaged_ceiling, replicas, scale_up


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    """edge1's rendered package of a URLLC intent (3 replicas, 1 CPU and 1 GiB limits each)."""
    settings = load_settings()
    intent = api.to_28312(
        api.build_intent(api.parse_text("URLLC slice with 10 ms latency at edge1", settings)), settings
    )
    out = api.render_packages(api.packages(intent, settings), tmp_path_factory.mktemp("rendered"))["edge1"]
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(out.iterdir()) if path.is_file()}


def changed_lines(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    found = {}
    for name in before:
        diff = difflib.unified_diff(before[name].splitlines(), after[name].splitlines(), lineterm="", n=0)
        lines = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        if lines:
            found[name] = lines
    return found


def test_one_step_changes_the_replicas_and_the_quota_sized_for_them_only(rendered):
    assert replicas(rendered) == 3
    step = scale_up(rendered, step=1, ceiling=10)
    assert (step.before, step.after, step.scaled) == (3, 4, True)
    assert changed_lines(rendered, step.files) == {
        "deployment.yaml": ["-  replicas: 3", "+  replicas: 4"],
        "resourcequota.yaml": [
            "-    pods: 4",
            "-    limits.cpu: 4",
            "-    limits.memory: 4096Mi",
            "+    pods: 5",
            "+    limits.cpu: 5",
            "+    limits.memory: 5120Mi",
        ],
        "setters.yaml": [
            "-  quota-pods: '4'",
            "-  quota-cpu: '4'",
            "-  quota-memory: 4096Mi",
            "+  quota-pods: '5'",
            "+  quota-cpu: '5'",
            "+  quota-memory: 5120Mi",
        ],
    }
    assert yaml.safe_load(step.files["setters.yaml"])["data"]["quota-memory"] == "5120Mi"


def test_kpt_renders_the_scaled_package_to_itself(rendered, tmp_path):
    """The setters agree with the edited quota: rendering the package again changes nothing."""
    scaled = scale_up(rendered, step=2, ceiling=10).files
    package = tmp_path / "package"
    package.mkdir()
    for name, text in scaled.items():
        (package / name).write_text(text, encoding="utf-8")
    again = api.render_packages({"edge1": {n: (package / n).read_text() for n in scaled}}, tmp_path / "again")
    assert {
        p.name: p.read_text(encoding="utf-8") for p in Path(again["edge1"]).iterdir() if p.is_file()
    } == scaled


def test_the_ceiling_holds(rendered):
    assert scale_up(rendered, step=5, ceiling=5).after == 5
    at_ceiling = scale_up(rendered, step=1, ceiling=3)
    assert not at_ceiling.scaled and at_ceiling.files == rendered
    assert scale_up(rendered, step=1, ceiling=2).after == 3, "never below what the intent was sized for"
    assert ceiling(10, 20) == 10 and ceiling(50, 20) == 20


def package(text: str, tmp_path: Path) -> dict[str, str]:
    settings = load_settings()
    intent = api.to_28312(api.build_intent(api.parse_text(text, settings)), settings)
    out = api.render_packages(api.packages(intent, settings), tmp_path)["edge1"]
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(out.iterdir()) if path.is_file()}


def test_the_package_s_own_ceiling_holds(rendered, tmp_path):
    """URLLC's profile allows 8 replicas; 220 UEs keep at most ceil(220 / 50) = 5 busy."""
    assert packaged_ceiling(rendered) == 8
    assert scale_up(rendered, step=20, ceiling=10).after == 8
    few = package("URLLC slice with 10 ms latency for 220 devices at edge1", tmp_path / "few")
    assert (replicas(few), packaged_ceiling(few)) == (3, 5)
    assert scale_up(few, step=20, ceiling=10).after == 5
    many = package("URLLC slice with 10 ms latency for 1800 devices at edge1", tmp_path / "many")
    assert (replicas(many), packaged_ceiling(many)) == (9, 9)  # sized past the profile's 8: not scaled
    assert not scale_up(many, step=1, ceiling=10).scaled
    unannotated = {
        **rendered,
        "deployment.yaml": rendered["deployment.yaml"].replace("edge-intent.io/max-replicas", "x"),
    }
    assert packaged_ceiling(unannotated) is None and scale_up(unannotated, step=20, ceiling=10).after == 10
    broken = {
        **rendered,
        "deployment.yaml": rendered["deployment.yaml"].replace("max-replicas: '8'", "max-replicas: '-1'"),
    }
    with pytest.raises(ScaleError, match="max-replicas must be a whole number"):
        scale_up(broken, step=1, ceiling=10)


# two lines that set the replicas: which one a line edit should change is not clear
TWICE = (
    "kind: Deployment\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{}]\n  replicas: 2\n"
)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({}, "no Deployment"),
        ({"deployment.yaml": "kind: Service\n"}, "no Deployment"),
        ({"deployment.yaml": "kind: [unclosed\n"}, "not YAML"),
        ({"deployment.yaml": TWICE}, "expected one line 'replicas'"),
    ],
)
def test_a_package_it_cannot_read_is_refused_whole(files, reason):
    with pytest.raises(ScaleError, match=reason):
        scale_up(files, step=1, ceiling=5)
