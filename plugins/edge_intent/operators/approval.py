"""A wave's approval gate: Airflow's own human-in-the-loop ``ApprovalOperator`` ("Required actions"
in the UI, ``/api/v2/hitlDetails`` in the REST API), asked only when the rollout plan says the wave
needs it. No answer within the plan's ``approvalTimeout`` (or the strategy's ``approval.timeout``) is
a rejection; a rejection skips the wave's sites, and the wave's gate stops the rollout and rolls
back what was delivered. The answer, who gave it and when, is the task's XCom and the rollout
record's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk.exceptions import AirflowSkipException

from include.lifecycle import VALIDATE, Key


class WaveApprovalOperator(ApprovalOperator):
    """Ask a person to approve wave ``wave`` before it starts, when the plan requires it.

    :param wave: the wave's 1-based index.
    :param plan: the rollout plan (the ``validate`` task's XCom ``rollout``).
    :param sites: the wave's sites (its ``start`` task's result).
    """

    template_fields: Sequence[str] = (*ApprovalOperator.template_fields, "plan", "sites")

    def __init__(self, *, wave: int, plan: Any, sites: Any, **kwargs) -> None:
        kwargs.setdefault("subject", f"Approve wave {wave} of the rollout")
        super().__init__(defaults=[self.REJECT], **kwargs)
        self.wave = wave
        self.plan = plan
        self.sites = sites

    def execute(self, context) -> Any:
        from include.rollout.strategy import RolloutPlan

        plan = RolloutPlan.from_json(self.plan)
        wave = plan.wave(self.wave)
        if wave is None or not wave.approval:
            self.log.info("Wave %d needs no approval", self.wave)
            return {"required": False}
        intent_id = context["ti"].xcom_pull(task_ids=VALIDATE, key=Key.INTENT_ID)
        self.subject = f"Approve wave {wave.index} ({wave.name}) of intent {intent_id}"
        self.body = (
            f"Deliver intent **{intent_id}** to **{', '.join(self.sites or wave.sites)}** "
            f"(wave {wave.index} of {len(plan.waves)}, groups {', '.join(wave.groups)}). "
            f"No answer within {plan.approvalTimeout:g} s rejects it; a rejection rolls back what "
            "earlier waves delivered."
        )
        self.response_timeout = timedelta(seconds=plan.approvalTimeout)
        return super().execute(context)

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
        return answer
