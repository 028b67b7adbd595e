"""One edge site's Kubernetes API (RootSync, O2IMS ProvisioningRequests, namespaces, the Config Sync
reconciler) through the cncf-kubernetes provider's ``KubernetesHook``.

The connection of each site is named in the site catalogue (``kubernetesConnId``, e.g.
``kubernetes_edge1``): a ``kubernetes`` connection whose ``kube_config`` extra points at the site.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from edge_intent.hooks.site_repo import catalogue_site

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

ROOTSYNC = ("configsync.gke.io", "v1beta1", "rootsyncs", "root-sync", "config-management-system")
PROVISIONING = ("o2ims.provisioning.oran.org", "v1alpha1", "provisioningrequests")
RECONCILER = ("root-reconciler", "config-management-system")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class EdgeSiteHook:
    """Reads and patches one site's Kubernetes objects.

    :param site: a catalogue site.
    :param kubernetes_conn_id: the site's connection; default: the catalogue's ``kubernetesConnId``.
    """

    def __init__(self, site: str, kubernetes_conn_id: str | None = None) -> None:
        self.site = site
        self.kubernetes_conn_id = kubernetes_conn_id or catalogue_site(site).kubernetesConnId

    @cached_property
    def hook(self) -> KubernetesHook:
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

        return KubernetesHook(conn_id=self.kubernetes_conn_id)

    def rootsync(self) -> dict[str, Any]:
        group, version, plural, name, namespace = ROOTSYNC
        return self.hook.get_custom_object(
            group=group, version=version, plural=plural, name=name, namespace=namespace
        )

    def namespace_exists(self, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.hook.core_v1_client.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def provisioning_request(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        group, version, plural = PROVISIONING
        try:
            return self.hook.custom_object_client.get_cluster_custom_object(group, version, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def restart_reconciler(self, restarted_at: str) -> None:
        """``kubectl rollout restart`` of the Config Sync reconciler: a strategic merge patch of
        ``spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]``."""
        name, namespace = RECONCILER
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}}
        self.hook.apps_v1_client.patch_namespaced_deployment(
            name, namespace, body, _content_type="application/strategic-merge-patch+json"
        )
