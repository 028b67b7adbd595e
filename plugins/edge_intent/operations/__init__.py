"""Bodies of the operations DAGs: withdraw an intent, re-verify deployed intents' SLOs, and the
emergency procedures (fail a stuck run, force a GitOps resync, checkpoint, reset to a checkpoint).

Git is the source of truth: what is deployed is what ``intents/<id>/`` holds on each site
repository's ``main``. Every change is a commit that only adds to history (``git revert`` of named
commits, an annotated tag); nothing is ever force-pushed or reset. Parameters are checked again
here (the DAG's Params already check them): a refused parameter names its field, and nothing is
changed. Reverting, the restore wait and evidence are the rollout engine's
(:mod:`edge_intent.rollout`); these modules only plan.
"""

from edge_intent.operations.params import InvalidParam, OperationFailed

__all__ = ["InvalidParam", "OperationFailed"]
