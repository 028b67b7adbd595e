"""The plugin loads what the tasks import once per Airflow process (edge_intent.preload): a process
that loads plugins at start holds those modules before it forks a task."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from edge_intent import preload
from include.compiler.config import PROJECT_ROOT

PROBE = """
import json, sys
import airflow  # with lazy_load_plugins off, this loads the plugins
print(json.dumps(sorted(name for name in sys.argv[1:] if name in sys.modules)))
"""


def test_every_module_of_the_package_and_the_heavy_third_party_ones_are_listed():
    names = preload.task_modules()
    assert names[: len(preload.THIRD_PARTY)] == list(preload.THIRD_PARTY)
    for module in ("edge_intent.pipeline", "edge_intent.sensors.site_wait", "edge_intent.rollout.verify"):
        assert module in names
    assert preload.__name__ not in names
    assert len(names) == len(set(names))


def _loaded(env_overrides: dict[str, str], names: list[str], tmp_path) -> list[str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins")]),
        **env_overrides,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *names],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_process_that_loads_plugins_at_start_holds_the_task_modules_before_any_task(tmp_path):
    names = [
        "git",
        "kubernetes",
        "airflow.providers.cncf.kubernetes.hooks.kubernetes",
        "edge_intent.pipeline",
    ]
    assert _loaded({"AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False"}, names, tmp_path) == sorted(names)
    # and the default (plugins loaded when needed) does not: what the setting changes
    assert _loaded({"AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "True"}, names, tmp_path) == []


def test_a_module_that_cannot_be_imported_is_logged_and_the_rest_still_load(monkeypatch, caplog):
    monkeypatch.setattr(preload, "THIRD_PARTY", ("no_such_module_for_preload", "colorsys"))
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    with caplog.at_level("WARNING", logger=preload.__name__):
        preload.preload()
    assert "preloading no_such_module_for_preload failed: ModuleNotFoundError" in caplog.text
    assert "colorsys" in sys.modules
