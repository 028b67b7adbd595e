"""config/slo.yaml's per-SLO actions: a bad value is refused on load, naming the field and why."""

from __future__ import annotations

import pytest
import yaml

from include.compiler.config import ConfigError
from include.slo.definitions import DEFAULT_FILE, load_config


def _write(tmp_path, change):
    config = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    change(config["slos"])
    path = tmp_path / "slo.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_the_shipped_cpu_slo_scales_within_its_policy():
    cpu = load_config(DEFAULT_FILE).slos["cpu_usage"]
    assert cpu.action == "scale"
    assert cpu.scale is not None and cpu.scale.step >= 1 and cpu.scale.attempts >= 1
    assert all(
        slo.scale is None for name, slo in load_config(DEFAULT_FILE).slos.items() if name != "cpu_usage"
    )


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda s: s["cpu_usage"].pop("scale"), "slos.cpu_usage", "action scale needs scale"),
        (
            lambda s: s["latency_p95"].update(scale={"step": 1, "max": 4, "attempts": 1}),
            "slos.latency_p95",
            "scale is only for action scale, not rollback",
        ),
        (
            lambda s: s["cpu_usage"]["scale"].update(step=0),
            "slos.cpu_usage.scale.step",
            "greater than or equal to 1",
        ),
        (
            lambda s: s["cpu_usage"]["scale"].update(attempts=99),
            "slos.cpu_usage.scale.attempts",
            "less than or equal to 5",
        ),
        (lambda s: s["cpu_usage"]["scale"].update(max="many"), "slos.cpu_usage.scale.max", "valid integer"),
        (lambda s: s["cpu_usage"]["scale"].update(burst=3), "slos.cpu_usage.scale.burst", "Extra inputs"),
        (
            lambda s: s["cpu_usage"].update(action="page"),
            "slos.cpu_usage.action",
            "'rollback', 'alert' or 'scale'",
        ),
    ],
)
def test_a_bad_action_or_scale_policy_is_refused_naming_the_field(tmp_path, change, field, reason):
    with pytest.raises(ConfigError) as refused:
        load_config(_write(tmp_path, change))
    assert f"{field}: " in str(refused.value)
    assert reason in str(refused.value)
