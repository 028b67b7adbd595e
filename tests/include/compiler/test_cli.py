"""The command line, run as a user runs it: a separate process, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(*args, stdin=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "include.compiler", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def tmf_file(tmp_path_factory):
    done = cli(
        "parse", "Setup ultra-low latency URLLC slice with 5ms latency for autonomous vehicles at edge2"
    )
    assert done.returncode == 0, done.stderr
    path = tmp_path_factory.mktemp("cli") / "intent.json"
    path.write_text(done.stdout)
    return path


def test_parse_prints_tmf921(tmf_file):
    intent = json.loads(tmf_file.read_text())
    assert intent["@type"] == "Intent" and intent["expression"]["@type"] == "TurtleExpression"


def test_parse_site_override():
    done = cli("parse", "URLLC slice with 5ms latency at edge2", "--site", "edge1,edge2")
    assert done.returncode == 0, done.stderr
    assert 'e5g:site "edge1"' in json.loads(done.stdout)["expression"]["expressionValue"]


def test_convert_prints_28312(tmf_file):
    done = cli("convert", str(tmf_file))
    assert done.returncode == 0, done.stderr
    intent = json.loads(done.stdout)
    target = intent["intentExpectations"][0]["expectationTargets"][0]
    assert target == {
        "targetName": "DlLatency",
        "targetCondition": "IS_LESS_THAN",
        "targetValueRange": 5,
        "targetContexts": [],
    }


def test_convert_reads_stdin(tmf_file):
    done = cli("convert", "-", stdin=tmf_file.read_text())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["intentExpectations"][0]["expectationId"] == "edge2-edge-service"


def test_compile_writes_each_site(tmf_file, tmp_path):
    done = cli("compile", str(tmf_file), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "edge2:" in done.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["edge2"]
    assert (tmp_path / "out" / "edge2" / "deployment.yaml").is_file()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("parse", ""), None, "text: is empty"),
        (("parse", "URLLC at edge9"), None, "text: unknown site 'edge9'"),
        (("convert", "-"), "{not json", "intent: is not valid JSON"),
        (("convert", "/no/such/file.json"), None, "FILE: cannot read /no/such/file.json"),
        (("compile", "-", "--out", "OUT"), '{"@type": "Intent", "name": "x"}', "expression: is required"),
        (
            ("compile", "-", "--out", "OUT"),
            '{"@type": "Intent", "id": "../../etc", "name": "x", '
            '"expression": {"@type": "TurtleExpression", "expressionValue": ""}}',
            "id: must be a DNS-1123 label",
        ),
    ],
)
def test_invalid_input_exits_2_and_writes_nothing(tmp_path, args, stdin, message):
    out = tmp_path / "out"
    args = tuple(str(out) if a == "OUT" else a for a in args)
    done = cli(*args, stdin=stdin)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_huge_file_is_refused(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b'{"name": "' + b"x" * 5_000_000 + b'"}')
    done = cli("convert", str(big))
    assert done.returncode == 2
    assert "larger than the limit of 1000000 bytes" in done.stderr


def test_bad_configuration_exits_2(tmp_path):
    sites = tmp_path / "sites.yaml"
    sites.write_text("sites:\n  - name: Edge_1\n    repo: r\n    kubernetesConnId: k\n")
    done = cli("--sites-file", str(sites), "parse", "URLLC at edge1")
    assert done.returncode == 2
    assert "sites.0.name" in done.stderr and "DNS-1123 label" in done.stderr


def test_works_from_any_directory(tmp_path):
    """The package is installed into the venv: no PYTHONPATH or project working directory needed."""
    env_free = subprocess.run(
        [sys.executable, "-c", "import include.compiler.api, include.demo; print('ok')"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert env_free.stdout.strip() == "ok", env_free.stderr


def test_airflow_processes_share_the_interpreter(tmp_path):
    """Every Airflow component starts from the venv's `airflow` script; its interpreter imports the code."""
    from pathlib import Path

    script = Path(sys.executable).parent / "airflow"
    assert script.is_file(), "apache-airflow must be installed in the test venv"
    interpreter = script.read_text().splitlines()[0].removeprefix("#!").strip()
    done = subprocess.run(
        [interpreter, "-c", "import include.compiler.api; print('ok')"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == "ok", done.stderr
