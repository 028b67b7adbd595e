"""The simulated site accepts exactly a rollout restart of Config Sync's root-reconciler (the call
``kubectl rollout restart`` makes), through the official kubernetes client, and re-syncs."""

from __future__ import annotations

import os
import time

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from include.edgesim.api import SiteServer
from include.edgesim.configsync import RESTARTED_AT, Syncer
from include.edgesim.faults import Faults
from include.edgesim.loadmodel import LoadModel
from include.edgesim.store import Store, Timings
from include.gitops.auth import GitAuth
from include.gitops.repo import SiteRepo
from include.gitserver.server import GitHTTPServer, User

NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-{}\n"
STRATEGIC = "application/strategic-merge-patch+json"


@pytest.fixture
def site(tmp_path):
    git = GitHTTPServer(
        tmp_path / "git", [User("pipeline", "p", True), User("configsync", "c", False)]
    ).start()
    git.create_repository("edge1-config")
    store = Store("edge1", Timings(pod_ready_s=0.2, provisioning_s=0.2))
    syncer = Syncer(
        store,
        git.repo_url("edge1-config"),
        {**os.environ, **GitAuth("configsync", "c").env()},
        tmp_path / "sim",
        period=0.2,
    )
    faults = Faults()
    server = SiteServer(
        store, syncer, faults, LoadModel(store, faults), api_token="api-token", control_token="control"
    ).start()
    syncer.start()
    repo = SiteRepo(git.repo_url("edge1-config"), GitAuth("pipeline", "p"), tmp_path / "cache")
    yield server, syncer, repo
    syncer.stop()
    server.stop()
    git.stop()


def apps(server, token="api-token"):
    config = kubernetes.client.Configuration()
    config.host = server.url
    config.api_key = {"authorization": f"Bearer {token}"}
    return kubernetes.client.AppsV1Api(kubernetes.client.ApiClient(config))


def restart_body(at="2026-01-01T00:00:00Z"):
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}


def synced_commit(syncer):
    status = syncer.rootsync()["status"]
    return status["lastSyncedCommit"] if status["sync"]["commit"] == status["lastSyncedCommit"] else None


def test_a_rollout_restart_resumes_a_hung_sync(site):
    server, syncer, repo = site
    first = repo.deliver("a", {"namespace.yaml": NS.format("a")}, message="a").sha
    deadline = time.time() + 10
    while synced_commit(syncer) != first:
        assert time.time() < deadline
        time.sleep(0.1)
    syncer.paused = True  # the reconciler hangs
    second = repo.deliver("b", {"namespace.yaml": NS.format("b")}, message="b").sha
    time.sleep(0.6)
    assert synced_commit(syncer) == first

    client = apps(server)
    reconciler = client.read_namespaced_deployment("root-reconciler", "config-management-system")
    assert reconciler.metadata.generation == 1 and not reconciler.spec.template.metadata.annotations
    patched = client.patch_namespaced_deployment(
        "root-reconciler", "config-management-system", restart_body(), _content_type=STRATEGIC
    )
    assert patched.spec.template.metadata.annotations == {RESTARTED_AT: "2026-01-01T00:00:00Z"}
    assert patched.metadata.generation == 2
    deadline = time.time() + 10
    while synced_commit(syncer) != second:
        assert time.time() < deadline
        time.sleep(0.1)
    listed = client.list_namespaced_deployment("config-management-system").items
    assert [d.metadata.name for d in listed] == ["root-reconciler"]


def test_only_a_restart_patch_is_accepted(site):
    server, syncer, _ = site
    client = apps(server)
    json_patch = [{"op": "add", "path": "/spec/replicas", "value": 0}]
    with pytest.raises(ApiException) as caught:
        client.patch_namespaced_deployment("root-reconciler", "config-management-system", json_patch)
    assert caught.value.status == 415
    with pytest.raises(ApiException) as caught:
        client.patch_namespaced_deployment(
            "root-reconciler", "config-management-system", {"spec": {"replicas": 0}}, _content_type=STRATEGIC
        )
    assert caught.value.status == 422 and "only a rollout restart" in caught.value.body, caught.value.body
    with pytest.raises(ApiException) as caught:
        client.patch_namespaced_deployment(
            "slice-workload", "intent-a", restart_body(), _content_type=STRATEGIC
        )
    assert caught.value.status == 405
    with pytest.raises(ApiException) as caught:
        apps(server, "wrong").patch_namespaced_deployment(
            "root-reconciler", "config-management-system", restart_body(), _content_type=STRATEGIC
        )
    assert caught.value.status == 401
    assert syncer.restarts == []
