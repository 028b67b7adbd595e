"""In-memory object store with the status a real cluster would report, driven by time.

Statuses are computed when an object is read, from when it was applied: Deployments become
available and their Pods ready after ``pod_ready_s``. A Deployment scaled (only ``spec.replicas``
changed) keeps its running Pods, names and readiness included, and starts or stops only the
difference, as Kubernetes does: a Pod's name hashes the Pod template, not the replica count; any
other change replaces every Pod. ProvisioningRequests go ``progressing`` then
``fulfilled`` after ``provisioning_s``, or ``failed`` at once when their template parameters are
invalid. Faults (see :mod:`.faults`) can keep Pods from becoming ready (a crash loop).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .resources import BY_KIND, ResourceType

Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name
PR_TEMPLATES = ("edge-slice-embb", "edge-slice-urllc", "edge-slice-mmtc")


def timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Entry:
    obj: dict[str, Any]
    applied_at: float
    resource_version: int
    pods_started: list[float] = field(default_factory=list)  # a Deployment's: each Pod's start, by index

    def pod_started(self, index: int) -> float:
        """When the Deployment's Pod ``index`` started."""
        return self.pods_started[index] if index < len(self.pods_started) else self.applied_at


@dataclass
class Timings:
    pod_ready_s: float = 2.0
    provisioning_s: float = 2.0


@dataclass
class Store:
    """Objects of one simulated site."""

    site: str
    timings: Timings = field(default_factory=Timings)
    crash_looping: set[str] = field(default_factory=set)  # namespaces whose pods crash
    _entries: dict[Key, Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _version: int = 0

    @staticmethod
    def key(obj: dict[str, Any]) -> Key:
        meta = obj.get("metadata") or {}
        return obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"]

    def put(self, obj: dict[str, Any], *, managed: bool = False) -> None:
        """Create or replace one object (kept as given; status is simulated on read)."""
        with self._lock:
            self._put(obj, time.time())

    def _put(self, obj: dict[str, Any], now: float) -> None:
        key = self.key(obj)
        previous = self._entries.get(key)
        self._version += 1
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        if previous and _spec(previous.obj) == _spec(stored):
            previous.obj["metadata"]["labels"] = meta.get("labels", {})
            previous.obj["metadata"]["annotations"] = meta.get("annotations", {})
            return
        meta["uid"] = previous.obj["metadata"]["uid"] if previous else str(uuid.uuid4())
        meta["creationTimestamp"] = (
            previous.obj["metadata"]["creationTimestamp"] if previous else timestamp(now)
        )
        meta["generation"] = (previous.obj["metadata"].get("generation", 1) + 1) if previous else 1
        entry = Entry(stored, now, self._version)
        if stored["kind"] == "Deployment":
            scaled = previous is not None and _template(previous.obj) == _template(stored)
            started = previous.pods_started if scaled else []
            wanted = _replicas(stored)
            entry.pods_started = started[:wanted] + [now] * (wanted - len(started[:wanted]))
            if started:  # scaled: the Deployment counts from its first Pods, not from the scale
                entry.applied_at = previous.applied_at
        self._entries[key] = entry

    def apply_all(self, objects: list[dict[str, Any]], *, keep: set[Key]) -> None:
        """Make the managed objects exactly ``objects`` (pruning the rest), keeping ``keep``."""
        now = time.time()
        with self._lock:
            wanted = {self.key(obj) for obj in objects}
            for key in list(self._entries):
                if key not in wanted and key not in keep:
                    del self._entries[key]
            for obj in objects:
                self._put(obj, now)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return next(
            (o for o in self.list(api_version, kind, namespace) if o["metadata"]["name"] == name), None
        )

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            entries = list(self._entries.values())
        found = []
        for entry in entries:
            obj = entry.obj
            if kind == "Pod" and obj["kind"] == "Deployment":
                found += [
                    p for p in self._pods(entry, now) if namespace in (None, p["metadata"]["namespace"])
                ]
                continue
            if (obj["apiVersion"], obj["kind"]) != (api_version, kind):
                continue
            if namespace is not None and (obj["metadata"].get("namespace") or "") != namespace:
                continue
            found.append(self._with_status(entry, now))
        return sorted(found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def namespaces_with(self, kind: str) -> list[tuple[str, dict[str, Any], float]]:
        """(namespace, object, applied_at) for every object of ``kind``; used by the metrics."""
        with self._lock:
            return [
                (e.obj["metadata"].get("namespace", ""), e.obj, e.applied_at)
                for e in self._entries.values()
                if e.obj["kind"] == kind
            ]

    # -- simulated status ------------------------------------------------------------------------

    def _with_status(self, entry: Entry, now: float) -> dict[str, Any]:
        obj = copy.deepcopy(entry.obj)
        obj["metadata"]["resourceVersion"] = str(entry.resource_version)
        kind = obj["kind"]
        if kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        elif kind == "Deployment":
            obj["status"] = self._deployment_status(entry, now)
        elif kind == "ProvisioningRequest":
            obj["status"] = self._provisioning_status(entry, now)
        return obj

    def pod_ready(self, entry: Entry, index: int, now: float) -> bool:
        """Whether the Deployment's Pod ``index`` is ready: started ``pod_ready_s`` ago, not crashing."""
        namespace = entry.obj["metadata"].get("namespace", "")
        ready = now - entry.pod_started(index) >= self.timings.pod_ready_s
        return ready and namespace not in self.crash_looping

    def _deployment_status(self, entry: Entry, now: float) -> dict[str, Any]:
        replicas = _replicas(entry.obj)
        ready = sum(self.pod_ready(entry, index, now) for index in range(replicas))
        available = "True" if ready == replicas else "False"
        return {
            "observedGeneration": entry.obj["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": replicas - ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "MinimumReplicasAvailable"
                    if available == "True"
                    else "MinimumReplicasUnavailable",
                    "lastTransitionTime": timestamp(
                        max(entry.pods_started or [entry.applied_at])
                        + (self.timings.pod_ready_s if available == "True" else 0)
                    ),
                }
            ],
        }

    def _pods(self, entry: Entry, now: float) -> list[dict[str, Any]]:
        deployment = entry.obj
        namespace = deployment["metadata"].get("namespace", "")
        template = (deployment.get("spec") or {}).get("template") or {}
        digest = hashlib.sha256(repr(_template(deployment)).encode()).hexdigest()
        template_hash = digest[:10]
        crashing = namespace in self.crash_looping
        pods = []
        for index in range(_replicas(deployment)):
            ready = self.pod_ready(entry, index, now)
            started = entry.pod_started(index)
            suffix = hashlib.sha256(f"{digest}/{index}".encode()).hexdigest()[:5]
            name = f"{deployment['metadata']['name']}-{template_hash}-{suffix}"
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            labels["pod-template-hash"] = template_hash
            containers = (template.get("spec") or {}).get("containers") or []
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": labels,
                        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.site}/{namespace}/{name}")),
                        "creationTimestamp": timestamp(started),
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "ReplicaSet",
                                "name": f"{deployment['metadata']['name']}-{template_hash}",
                                "uid": deployment["metadata"]["uid"],
                                "controller": True,
                            }
                        ],
                    },
                    "spec": template.get("spec") or {},
                    "status": {
                        "phase": "Running" if ready or crashing else "Pending",
                        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                        "containerStatuses": [
                            {
                                "name": c.get("name", "main"),
                                "ready": ready,
                                "image": c.get("image", ""),
                                "imageID": "",
                                "restartCount": int(now - started) // 10 if crashing else 0,
                                "state": (
                                    {"waiting": {"reason": "CrashLoopBackOff"}}
                                    if crashing
                                    else {"running": {"startedAt": timestamp(started)}}
                                ),
                            }
                            for c in containers
                        ],
                    },
                }
            )
        return pods

    def _provisioning_status(self, entry: Entry, now: float) -> dict[str, Any]:
        problem = provisioning_problem(entry.obj)
        if problem:
            state, message, when = "failed", problem, entry.applied_at
        elif now - entry.applied_at < self.timings.provisioning_s:
            state, message, when = "progressing", "Provisioning of the slice is in progress", entry.applied_at
        else:
            state, message = "fulfilled", "Provisioning of the slice is complete"
            when = entry.applied_at + self.timings.provisioning_s
        return {
            "provisioningStatus": {
                "provisioningState": state,
                "provisioningMessage": message,
                "provisioningUpdateTime": timestamp(when),
            }
        }


def provisioning_problem(pr: dict[str, Any]) -> str | None:
    """Why the simulated O2IMS refuses a ProvisioningRequest, or None."""
    spec = pr.get("spec") or {}
    if spec.get("templateName") not in PR_TEMPLATES:
        offered = ", ".join(PR_TEMPLATES)
        return f"template {spec.get('templateName')!r} is not offered by this O-Cloud (offered: {offered})"
    params = spec.get("templateParameters")
    if not isinstance(params, dict):
        return "templateParameters is missing"
    profile = params.get("sliceProfile")
    if not isinstance(profile, dict) or not isinstance(profile.get("sst"), int):
        return "templateParameters.sliceProfile.sst is missing or not an integer"
    if not isinstance(profile.get("fiveQI"), int) or not 1 <= profile["fiveQI"] <= 255:
        return "templateParameters.sliceProfile.fiveQI must be an integer from 1 to 255"
    return None


def _spec(obj: dict[str, Any]) -> Any:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _template(deployment: dict[str, Any]) -> Any:
    """What a Deployment's Pods are made from: everything but its replica count."""
    spec = {k: v for k, v in (deployment.get("spec") or {}).items() if k != "replicas"}
    return {**_spec(deployment), "spec": spec}


def _replicas(deployment: dict[str, Any]) -> int:
    return int((deployment.get("spec") or {}).get("replicas", 1))


def resource_type(obj: dict[str, Any]) -> ResourceType | None:
    return BY_KIND.get((obj.get("apiVersion"), obj.get("kind")))
