"""Reading a finished dag.test() run: task states (a wave's mapped site tasks by site) and XComs."""

from __future__ import annotations

from typing import Any

from include.lifecycle import GATE, ROLLOUT, Key, wave_task


def states(run) -> dict[str, str]:
    """``{task id: state}``; a mapped instance as ``task id[its site]`` (an instance that never ran
    has no label of its own: its wave's deliver instance of the same map index names the site)."""
    tis = run.get_task_instances()
    labels = {
        (ti.task_id.rsplit(".", 1)[0], ti.map_index): ti.rendered_map_index
        for ti in tis
        if ti.map_index >= 0 and ti.rendered_map_index not in (None, str(ti.map_index))
    }
    found = {}
    for ti in tis:
        name = ti.task_id
        if ti.map_index >= 0:
            label = labels.get((ti.task_id.rsplit(".", 1)[0], ti.map_index))
            name = f"{ti.task_id}[{label or ti.map_index}]"
        found[name] = str(getattr(ti.state, "value", ti.state))
    return found


def site_state(run, wave: int, task: str, site: str) -> str | None:
    return states(run).get(f"{wave_task(wave, task)}[{site}]")


def xcom(run, task_id: str, key: str = Key.RETURN, site: str | None = None) -> Any:
    """An XCom of the run; of a mapped task, the instance labelled ``site``."""
    for ti in run.get_task_instances():
        if ti.task_id == task_id and (site is None or ti.rendered_map_index == site):
            index = {"map_indexes": ti.map_index} if ti.map_index >= 0 else {}
            return ti.xcom_pull(task_ids=task_id, key=key, **index)
    return None


def rollout(run) -> dict[str, Any]:
    """The run's closed rollout record (the ``rollout`` task's XCom)."""
    return xcom(run, ROLLOUT)


def gate(run, wave: int) -> dict[str, Any] | None:
    return xcom(run, wave_task(wave, GATE))
