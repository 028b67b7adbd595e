"""Config Sync's RootSync, simulated: pull the site's repository, apply it, report the status.

Every ``period`` seconds the syncer fetches the branch. A new commit is parsed (every ``.yaml``,
``.yml`` and ``.json`` file, skipping local config such as Kptfiles); if every object can be
applied, the store is made exactly those objects (pruning what the commit removed) and the RootSync
reports the commit as synced. If any cannot (a YAML error, an unknown kind, a missing name, a
namespace that is not declared), nothing is applied, the last good state stays, and the RootSync
reports the commit with its errors, as Config Sync does (``KNV`` codes, error counts, a ``Stalled``
condition). The status fields are Config Sync's ``configsync.gke.io/v1beta1`` ones.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .resources import GENERATED_KINDS
from .store import Key, Store, resource_type, timestamp

log = logging.getLogger(__name__)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ROOTSYNC_NAMESPACE = "config-management-system"
ROOTSYNC_NAME = "root-sync"
RECONCILER_NAME = "root-reconciler"  # Config Sync's reconciler Deployment of the RootSync root-sync
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
LOCAL_CONFIG = "config.kubernetes.io/local-config"


@dataclass
class SyncError:
    code: str
    message: str
    path: str = ""

    def as_status(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "errorMessage": self.message}
        if self.path:
            error["resources"] = [{"sourcePath": self.path}]
        return error


@dataclass
class SyncState:
    source_commit: str = ""
    sync_commit: str = ""
    last_synced: str = ""
    errors: list[SyncError] = field(default_factory=list)
    source_errors: list[SyncError] = field(default_factory=list)
    updated: float = field(default_factory=time.time)
    generation: int = 1
    syncing: bool = False


def parse_manifests(root: Path) -> tuple[list[dict[str, Any]], list[SyncError]]:
    """Every object under ``root`` that Config Sync would apply, and what it could not."""
    objects: list[dict[str, Any]] = []
    errors: list[SyncError] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or path.suffix not in (
            ".yaml",
            ".yml",
            ".json",
        ):
            continue
        if not path.is_file():
            continue
        try:
            documents = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER))  # noqa: S506
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            errors.append(
                SyncError(
                    "KNV1007", f"failed to parse {relative}: {' '.join(str(exc).split())}", str(relative)
                )
            )
            continue
        for document in documents:
            if document is None:
                continue
            problem = _problem(document)
            if problem == "skip":
                continue
            if problem:
                errors.append(SyncError(problem[0], f"{relative}: {problem[1]}", str(relative)))
                continue
            objects.append(document)
    declared = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        rtype = resource_type(obj)
        if rtype and rtype.namespaced and namespace and namespace not in declared and namespace != "default":
            errors.append(
                SyncError(
                    "KNV2009",
                    f"failed to apply {obj['kind']} {namespace}/{obj['metadata']['name']}:"
                    f' namespaces "{namespace}" not found',
                )
            )
    return objects, errors


def _problem(document: Any) -> tuple[str, str] | str | None:
    if not isinstance(document, dict):
        return "KNV1007", "a document is not a Kubernetes object"
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    if document.get("kind") == "Kptfile" or str(annotations.get(LOCAL_CONFIG, "")).lower() == "true":
        return "skip"
    if not document.get("apiVersion") or not document.get("kind"):
        return "KNV1007", "object without apiVersion or kind"
    name = (document.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        return "KNV1031", f"{document['kind']} has no metadata.name"
    rtype = resource_type(document)
    if rtype is None or rtype.kind in GENERATED_KINDS:
        return (
            "KNV1021",
            f"{document['apiVersion']}/{document['kind']} {name}: the server has no resource "
            f"type {document['kind']} in {document['apiVersion']}",
        )
    if not rtype.namespaced and document["metadata"].get("namespace"):
        return "KNV1052", f"cluster-scoped {document['kind']} {name} must not set metadata.namespace"
    if rtype.namespaced and not document["metadata"].get("namespace"):
        document["metadata"]["namespace"] = "default"
    return None


class Syncer:
    """Pulls one repository into one store, like a RootSync reconciler.

    :param store: the site's object store.
    :param repo_url: the site's config repository (no credentials in it).
    :param git_env: environment for git (credentials as ``http.extraHeader`` configuration).
    :param workdir: where the local clone lives.
    :param period: seconds between pulls (``RootSync.spec.git.period``).
    """

    def __init__(
        self,
        store: Store,
        repo_url: str,
        git_env: dict[str, str],
        workdir: Path,
        *,
        branch: str = "main",
        period: float = 15.0,
    ) -> None:
        self.store = store
        self.repo_url = repo_url
        self.git_env = git_env
        self.clone = workdir / "repo"
        self.branch = branch
        self.period = period
        self.state = SyncState()
        self.paused = False
        self.created = time.time()
        self.restarts: list[str] = []  # restartedAt annotations received, oldest first
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="configsync", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def force(self) -> None:
        """Pull now and re-apply the current commit (the simulator's ``sync.gke.io/force``)."""
        with self._lock:
            self.state.source_commit = ""
        self._wake.set()

    def restart(self, restarted_at: str) -> None:
        """A rollout restart of the reconciler Deployment (``kubectl rollout restart``): the new
        reconciler starts without the old one's state, so a paused (hung) sync resumes, the last
        pulled commit is forgotten, and it pulls and applies the current commit at once."""
        with self._lock:
            self.restarts.append(restarted_at)
            self.state.source_commit = ""
            self.state.source_errors = []
            self.state.updated = time.time()
        self.paused = False
        self._wake.set()

    def reconciler_deployment(self) -> dict[str, Any]:
        """The ``config-management-system/root-reconciler`` Deployment, as Config Sync runs it."""
        with self._lock:
            restarts = list(self.restarts)
        template_annotations = {RESTARTED_AT: restarts[-1]} if restarts else {}
        labels = {"app": "reconciler", "configsync.gke.io/reconciler": RECONCILER_NAME}
        stamp = timestamp(self.created)
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": RECONCILER_NAME,
                "namespace": ROOTSYNC_NAMESPACE,
                "labels": {**labels, "configsync.gke.io/sync-name": ROOTSYNC_NAME},
                "uid": f"root-reconciler-{self.store.site}",
                "generation": 1 + len(restarts),
                "creationTimestamp": stamp,
                "resourceVersion": str(1 + len(restarts)),
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels, "annotations": template_annotations},
                    "spec": {"containers": [{"name": "reconciler", "image": "edgesim/reconciler"}]},
                },
            },
            "status": {
                "observedGeneration": 1 + len(restarts),
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
            },
        }

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.clone,
            env=self.git_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(" / ".join(done.stderr.strip().splitlines()[-3:]) or f"git {args[0]} failed")
        return done.stdout.strip()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.paused:
                try:
                    self.pull()
                except Exception as exc:  # a failed pull is a source error, as in Config Sync
                    with self._lock:
                        self.state.source_errors = [
                            SyncError("KNV2004", f"failed to fetch {self.repo_url}: {exc}")
                        ]
                        self.state.updated = time.time()
            self._wake.wait(self.period)
            self._wake.clear()

    def pull(self) -> None:
        if not (self.clone / ".git").is_dir():
            self.clone.parent.mkdir(parents=True, exist_ok=True)
            self._git(
                "clone",
                "--quiet",
                "--branch",
                self.branch,
                "--single-branch",
                self.repo_url,
                str(self.clone),
                cwd=self.clone.parent,
            )
        self._git(
            "fetch", "--quiet", "origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}"
        )
        commit = self._git("rev-parse", f"origin/{self.branch}")
        with self._lock:
            self.state.source_errors = []
            if commit == self.state.source_commit:
                return
            self.state.source_commit = commit
            self.state.syncing = True
            self.state.updated = time.time()
        self._git("reset", "--hard", "--quiet", commit)
        objects, errors = parse_manifests(self.clone)
        if not errors:
            self.store.apply_all(objects, keep=self._own_keys())
        with self._lock:
            self.state.sync_commit = commit
            self.state.errors = errors
            if not errors:
                self.state.last_synced = commit
            self.state.syncing = False
            self.state.updated = time.time()
        log.info(
            "%s: commit %s %s",
            self.store.site,
            commit[:12],
            f"not applied: {len(errors)} error(s)" if errors else f"synced, {len(objects)} objects",
        )

    def _own_keys(self) -> set[Key]:
        return {("configsync.gke.io/v1beta1", "RootSync", ROOTSYNC_NAMESPACE, ROOTSYNC_NAME)}

    def rootsync(self) -> dict[str, Any]:
        """The RootSync object with its current status."""
        with self._lock:
            state = self.state
            stamp = timestamp(state.updated)
            git_status = {"repo": self.repo_url, "revision": "HEAD", "branch": self.branch, "dir": "."}
            source_errors = [e.as_status() for e in state.source_errors]
            sync_errors = [e.as_status() for e in state.errors]
            stalled = bool(sync_errors or source_errors)
            reconciling = state.syncing
            conditions = [
                {
                    "type": "Reconciling",
                    "status": "True" if reconciling else "False",
                    "reason": "Syncing" if reconciling else "Sync",
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Stalled",
                    "status": "True" if stalled else "False",
                    "reason": "Validation" if stalled else "",
                    "message": (sync_errors or source_errors)[0]["errorMessage"] if stalled else "",
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Syncing",
                    "status": "True" if reconciling else "False",
                    "commit": state.sync_commit or state.source_commit,
                    "message": (
                        "Sync Completed"
                        if not stalled and not reconciling
                        else "Syncing"
                        if reconciling
                        else "Sync failed"
                    ),
                    "errorSummary": _summary(sync_errors + source_errors),
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                },
            ]
            return {
                "apiVersion": "configsync.gke.io/v1beta1",
                "kind": "RootSync",
                "metadata": {
                    "name": ROOTSYNC_NAME,
                    "namespace": ROOTSYNC_NAMESPACE,
                    "generation": state.generation,
                    "uid": f"rootsync-{self.store.site}",
                    "resourceVersion": str(int(state.updated * 1000)),
                },
                "spec": {
                    "sourceFormat": "unstructured",
                    "sourceType": "git",
                    "git": {
                        "repo": self.repo_url,
                        "branch": self.branch,
                        "dir": ".",
                        "period": f"{self.period:g}s",
                        "auth": "token",
                        "secretRef": {"name": "git-creds"},
                    },
                },
                "status": {
                    "observedGeneration": state.generation,
                    "source": {
                        "commit": state.source_commit,
                        "gitStatus": git_status,
                        "lastUpdate": stamp,
                        "errorSummary": _summary(source_errors),
                        **({"errors": source_errors} if source_errors else {}),
                    },
                    "rendering": {
                        "commit": state.source_commit,
                        "gitStatus": git_status,
                        "lastUpdate": stamp,
                        "message": "Rendering not required but is currently enabled",
                        "errorSummary": _summary([]),
                    },
                    "sync": {
                        "commit": state.sync_commit,
                        "gitStatus": git_status,
                        "lastUpdate": stamp,
                        "errorSummary": _summary(sync_errors),
                        **({"errors": sync_errors} if sync_errors else {}),
                    },
                    "lastSyncedCommit": state.last_synced,
                    "conditions": conditions,
                },
            }


def _summary(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalCount": len(errors), "truncated": False, "errorCountAfterTruncation": len(errors)}
