"""Kubernetes names and labels, all derived deterministically from the intent id.

Intent ids are DNS-1123 labels of at most 50 characters (see ``tmf921.INTENT_ID``), so every name
below is a valid label or subdomain without truncation or hashing.
"""

from __future__ import annotations

LABEL_PREFIX = "edge-intent.io"
INTENT_LABEL = f"{LABEL_PREFIX}/intent-id"
SITE_LABEL = f"{LABEL_PREFIX}/site"
SLICE_LABEL = f"{LABEL_PREFIX}/slice-type"
MAX_REPLICAS = "max-replicas"
"""The Deployment annotation (under :data:`LABEL_PREFIX`) with the most replicas scaling may reach."""
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "edge-intent"
WORKLOAD = "slice-workload"
INTENT_CONFIGMAP = "intent-28312"
NETWORK_POLICY = "slice-isolation"
QUOTA = "slice-quota"
SETTERS = "intent-setters"


def namespace(intent_id: str) -> str:
    return f"intent-{intent_id}"


def provisioning_request(intent_id: str, site: str) -> str:
    return f"{intent_id}-{site}"
