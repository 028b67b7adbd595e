"""A wave's first task: its sites, after Airflow's own human-in-the-loop ``ApprovalOperator``
("Required actions" in the UI, ``/api/v2/hitlDetails`` in the REST API) when the rollout plan says
the wave needs a person's approval. No answer within the plan's ``approvalTimeout`` (or the
strategy's ``approval.timeout``) is a rejection; a rejection skips the wave's sites, and the wave's
gate stops the rollout and rolls back what was delivered. The answer, who gave it and when, is the
XCom ``approval`` and the rollout record's.

An answer is never lost to a retry. Airflow 3.3.2 can fail a task answered in the instant after it
was parked (the scheduler reads the parked process's exit after the answer already requeued it, and
takes the task for killed); its retry takes the answer its earlier try was given instead of asking
again. A task a person cleared asks again, as Airflow's own HITL does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk.exceptions import AirflowSkipException

from include.lifecycle import VALIDATE, Key


class WaveApprovalOperator(ApprovalOperator):
    """Start wave ``wave``: its sites, once a person approved it when the plan requires that.

    Returns the wave's sites (the wave's site tasks are mapped over them). Skipped when the plan has
    no such wave, the rollout stopped before it, the run is a dry run, or the wave was rejected.

    :param wave: the wave's 1-based index.
    :param plan: the rollout plan (the ``validate`` task's XCom ``rollout``).
    :param airflow_api_conn_id: Airflow's REST API, where a retry reads the answer its earlier try
        was given.
    """

    template_fields: Sequence[str] = (*ApprovalOperator.template_fields, "plan")

    def __init__(self, *, wave: int, plan: Any, airflow_api_conn_id: str = "airflow_api", **kwargs) -> None:
        kwargs.setdefault("subject", f"Approve wave {wave} of the rollout")
        super().__init__(defaults=[self.REJECT], **kwargs)
        self.wave = wave
        self.plan = plan
        self.airflow_api_conn_id = airflow_api_conn_id

    def _wave(self):
        from include.rollout.strategy import RolloutPlan

        plan = RolloutPlan.from_json(self.plan)
        return plan, plan.wave(self.wave)

    def execute(self, context) -> Any:
        from edge_intent import pipeline

        sites = pipeline.start_wave(
            context["ti"], context["run_id"], self.wave, bool(context["params"].get("dry_run"))
        )
        plan, wave = self._wave()
        if not wave.approval:
            return sites
        intent_id = context["ti"].xcom_pull(task_ids=VALIDATE, key=Key.INTENT_ID)
        self.subject = f"Approve wave {wave.index} ({wave.name}) of intent {intent_id}"
        self.body = (
            f"Deliver intent **{intent_id}** to **{', '.join(sites)}** "
            f"(wave {wave.index} of {len(plan.waves)}, groups {', '.join(wave.groups)}). "
            f"No answer within {plan.approvalTimeout:g} s rejects it; a rejection rolls back what "
            "earlier waves delivered."
        )
        self.response_timeout = timedelta(seconds=plan.approvalTimeout)
        given = self._answer_given_to_earlier_try(context["ti"], context)
        if given is not None:
            return self.execute_complete(context, event=given)
        return super().execute(context)

    def _answer_given_to_earlier_try(self, ti, context) -> dict[str, Any] | None:
        """The answer the previous try of this retried (not cleared) task was given, as the event
        ``execute_complete`` takes; None on a first try, after a clear, when none was given, or when
        Airflow's REST API (connection ``airflow_api_conn_id``) cannot say (then it asks again)."""
        # a clear sets max_tries to the cleared try plus the task's retries; retries leave it alone
        if ti.try_number <= 1 or ti.max_tries > self.retries:
            return None
        from edge_intent.hooks.airflow_api import AirflowApiHook

        try:
            # read before this try asks: asking clears the answer the previous try was given
            earlier = AirflowApiHook(self.airflow_api_conn_id).hitl_detail(
                ti.dag_id, context["run_id"], ti.task_id, map_index=ti.map_index
            )
        except Exception as exc:  # no connection, no api-server, refused: a person is asked again
            self.log.warning(
                "Cannot read the answer given to try %d (%s): asking again", ti.try_number - 1, exc
            )
            return None
        if not (earlier.get("response_received") and earlier.get("chosen_options")):
            return None
        user = earlier.get("responded_by_user")
        at = earlier.get("responded_at")
        self.log.info(
            "Try %d takes the answer %s its earlier try was given at %s by %s",
            ti.try_number,
            earlier["chosen_options"],
            at,
            (user or {}).get("name", "the timeout"),
        )
        return {
            "chosen_options": list(earlier["chosen_options"]),
            "params_input": earlier.get("params_input") or {},
            "responded_at": datetime.fromisoformat(at) if isinstance(at, str) else at,
            "responded_by_user": {"id": user["id"], "name": user["name"]} if user else None,
            "timedout": user is None,
        }

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        # HITLOperator's own completion (validation, summary), not ApprovalOperator's skipping of the
        # direct downstream: a rejected wave's task is skipped itself and the skip flows down the wave.
        result = HITLOperator.execute_complete(self, context, event)
        chosen = result["chosen_options"][0]
        timed_out = bool(event.get("timedout")) or (
            event.get("responded_by_user") is None and chosen == self.REJECT
        )
        answer = {
            "required": True,
            "decision": "TimedOut" if timed_out else chosen,
            "by": (result.get("responded_by_user") or {}).get("name"),
            "at": result["responded_at"].isoformat() if result.get("responded_at") else None,
        }
        self.hitl_summary_extra["approved"] = chosen == self.APPROVE
        context["ti"].xcom_push(key=Key.APPROVAL, value=answer)
        if chosen != self.APPROVE:
            raise AirflowSkipException(
                f"wave {self.wave} {'timed out' if timed_out else 'rejected'}"
                + (f" by {answer['by']}" if answer["by"] else "")
                + ": its sites are not delivered and the rollout is rolled back"
            )
        return list(self._wave()[1].sites)
