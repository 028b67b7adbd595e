"""The resource types the simulator serves: API group, version, kind, plural, scope."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False),
    ResourceType("", "v1", "ConfigMap", "configmaps", True),
    ResourceType("", "v1", "Secret", "secrets", True),
    ResourceType("", "v1", "Service", "services", True),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True),
    ResourceType("", "v1", "Pod", "pods", True),
    ResourceType("", "v1", "ResourceQuota", "resourcequotas", True),
    ResourceType("", "v1", "LimitRange", "limitranges", True),
    ResourceType("apps", "v1", "Deployment", "deployments", True),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True),
    ResourceType("configsync.gke.io", "v1beta1", "RootSync", "rootsyncs", True),
    ResourceType(
        "o2ims.provisioning.oran.org", "v1alpha1", "ProvisioningRequest", "provisioningrequests", False
    ),
)
BY_KIND = {(t.api_version, t.kind): t for t in TYPES}
BY_PLURAL = {(t.group, t.version, t.plural): t for t in TYPES}
GENERATED_KINDS = {"Pod"}  # made by the simulator from Deployments, never read from Git
