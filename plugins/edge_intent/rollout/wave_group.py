"""The task-group factory of a rollout's wave: ``approve → sites[site] → gate → restore_failed``,
where ``sites`` is a task group mapped over the wave's sites (each instance labelled by its site in
the grid): ``deliver → wait_for_sync → wait_for_o2ims → verify_slos``. ``approve`` gives the wave's
sites (after a person's approval, when the strategy asks); the gate reverts alone a failed site within
maxFailures and ``restore_failed`` waits for that revert to sync (skipped by the gate when there is
none). The SLO window starts when the waits saw the change live, so the scheduler's steps between
them and the verification are inside the window, not added to it.

A site's failure fails its own task (red in the grid: the phase that failed) and no other site's;
the gate folds the wave into the rollout record and says whether the next wave starts. The pipeline
DAG has one such group per wave the catalogue allows (``wave_1``, ``wave_2``, ...); a wave the plan
does not have, or that a stopped rollout never reaches, is skipped whole by the last gate that ran.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TaskGroup, TriggerRule, XComArg, get_current_context, task, task_group

from edge_intent.dagparams import wait_timeout
from edge_intent.operators.approval import WaveApprovalOperator
from edge_intent.operators.slo_verify import SLOVerifyOperator
from edge_intent.rollout.group import WAIT_RETRIES
from edge_intent.sensors.site_wait import ProvisioningRequestSensor, RestoreSensor, RootSyncSensor
from include.lifecycle import (
    APPROVE,
    DELIVER,
    GATE,
    RESTORE_FAILED,
    SITES,
    VERIFY_SLOS,
    WAIT_FOR_O2IMS,
    WAIT_FOR_SYNC,
    Key,
    wave_group,
)

SITE_LABEL = "{{ task.targets.keys() | first if task.targets else '' }}"
"""The grid's label of a site wait's or verification's mapped instance: its site."""


def wave(index: int, *, rendered: XComArg, compiled: XComArg, plan: XComArg, profile: str) -> TaskGroup:
    """The task group of wave ``index`` (1-based), its last task's output returned for wiring."""

    with TaskGroup(wave_group(index), tooltip=f"Wave {index} of the rollout") as group:
        sites = WaveApprovalOperator(
            task_id=APPROVE,
            task_display_name=f"Wave {index}: approve and start",
            wave=index,
            plan=plan,
            # after the previous wave's restore wait, or its gate's skipping it: nothing to restore
            trigger_rule=TriggerRule.NONE_FAILED,
        )

        @task(
            task_id=DELIVER,
            task_display_name="Delivering",
            execution_timeout=timedelta(minutes=1),
            map_index_template="{{ site }}",
            multiple_outputs=False,
        )
        def deliver(site: str, rendered: dict, plan: dict) -> dict:
            from edge_intent import pipeline

            context = get_current_context()
            context["site"] = site  # the instance's label in the grid
            return pipeline.deliver(rendered, site, plan=plan, run_id=context["run_id"], ti=context["ti"])

        @task_group(group_id=SITES)
        def site_flow(site: str, rendered: dict, plan: dict, compiled: dict):
            delivered = deliver(site, rendered, plan)
            synced, fulfilled = (
                sensor(
                    task_id=task_id,
                    task_display_name=f"Reconciling: {what}",
                    targets=delivered,
                    timeout=wait_timeout(),
                    map_index_template=SITE_LABEL,
                    **WAIT_RETRIES,
                )
                for task_id, sensor, what in (
                    (WAIT_FOR_SYNC, RootSyncSensor, "RootSync"),
                    (WAIT_FOR_O2IMS, ProvisioningRequestSensor, "O2IMS"),
                )
            )
            verified = SLOVerifyOperator(
                task_id=VERIFY_SLOS,
                task_display_name="Verifying: SLOs",
                targets=delivered,
                compiled=compiled,
                profile=profile,
                rollout=plan,
                live=[synced.output, fulfilled.output],
                fail_on_breach=True,
                execution_timeout=timedelta(minutes=11),
                # A breach fails it at once (SLOBreached is never retried); the retry is for a task
                # failed from outside, as the waits' (apache/airflow#66374): the same window again.
                **WAIT_RETRIES,
                map_index_template=SITE_LABEL,
            )
            synced >> fulfilled >> verified

        ran = site_flow.partial(rendered=rendered, plan=plan, compiled=compiled).expand(site=sites.output)

        @task(
            task_id=GATE,
            task_display_name=f"Wave {index}: gate",
            trigger_rule=TriggerRule.ALL_DONE,
            multiple_outputs=False,
        )
        def gate() -> dict[str, Any]:
            from edge_intent.rollout import waves

            context = get_current_context()
            return waves.gate(context["ti"], context["run_id"], index, bool(context["params"].get("dry_run")))

        gated = gate()
        restored = RestoreSensor(
            task_id=RESTORE_FAILED,
            task_display_name=f"Wave {index}: restore failed sites",
            targets=XComArg(gated.operator, key=Key.RESTORE),
            timeout=wait_timeout(),
            **WAIT_RETRIES,
        )
        ran >> gated >> restored
    return group
