"""
### Emergency: force a GitOps resync of a site

Recovers a site whose Config Sync is stuck (not pulling, or still on an old commit): restarts the
site's reconciler and waits until its RootSync is synced to the commit `main` points at, with no
errors.

| task | what | timeout |
|---|---|---|
| `restart` | reads `main`'s commit; restarts the site's `root-reconciler` (Kubernetes connection) | 1 min |
| `wait_for_sync` | the RootSync synced to that commit (or a later one), no errors, not stalled | 5 min |

The restart is the Kubernetes API call `kubectl rollout restart` makes: a strategic merge patch of
the Deployment setting `spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]`.
The new reconciler Pod starts without the old one's state and pulls and applies the current commit.
By hand, against a real Config Sync:

```sh
kubectl --context edge1 -n config-management-system rollout restart deployment root-reconciler
kubectl --context edge1 -n config-management-system rollout status deployment root-reconciler
kubectl --context edge1 -n config-management-system get rootsync root-sync \
  -o jsonpath='{.status.sync.commit} {.status.lastSyncedCommit} {.status.sync.errorSummary}'
```

(`root-reconciler` is the reconciler of the RootSync named `root-sync`; another RootSync's is
`root-reconciler-<name>`.) If the reconciler-manager resets the annotation in your Config Sync
version, delete the reconciler Pod instead (`kubectl -n config-management-system delete pod -l
configsync.gke.io/reconciler=root-reconciler`). A sync that reports errors for the commit (a broken
manifest) is not cured by a restart: the wait fails with the site's own messages; fix or revert the
commit. The connection's service account needs `patch` on `deployments` in
`config-management-system`.

Trigger with `{"site": "edge1"}`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task

from edge_intent.dagparams import dag_settings, label_param, wait_timeout
from edge_intent.rollout.group import WAIT_RETRIES
from edge_intent.sensors.site_wait import RootSyncSensor
from include.lifecycle import WAIT_FOR_SYNC, Dag


@dag(
    dag_id=Dag.RESYNC.value,
    schedule=None,
    **dag_settings(doc=__doc__, tags=["emergency", "gitops", "operations"]),
    params={"site": label_param("Site", "The catalogue site whose Config Sync to restart.", max_length=63)},
)
def emergency_resync():
    @task(
        task_display_name="Restart the reconciler",
        execution_timeout=timedelta(minutes=1),
        multiple_outputs=False,
    )
    def restart() -> dict:
        from edge_intent.operations.emergency import resync_restart

        return resync_restart(get_current_context()["params"])

    RootSyncSensor(
        task_id=WAIT_FOR_SYNC,
        task_display_name="RootSync synced",
        targets=restart(),
        timeout=wait_timeout(),
        **WAIT_RETRIES,
    )


emergency_resync()
