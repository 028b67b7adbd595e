"""The simulated site through the official kubernetes client: sync, status, errors, metrics, faults."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import kubernetes
import pytest
from prometheus_client.parser import text_string_to_metric_families

from include.compiler import api
from include.edgesim.api import SiteServer
from include.edgesim.configsync import Syncer, parse_manifests
from include.edgesim.faults import Faults
from include.edgesim.loadmodel import LoadModel
from include.edgesim.store import Store, Timings
from include.gitops.auth import GitAuth
from include.gitops.repo import SiteRepo
from include.gitserver.server import GitHTTPServer, User


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    git = GitHTTPServer(root / "git", [User("pipeline", "p", True), User("configsync", "c", False)]).start()
    git.create_repository("edge1-config")
    store = Store("edge1", Timings(pod_ready_s=0.5, provisioning_s=0.5))
    syncer = Syncer(
        store,
        git.repo_url("edge1-config"),
        {**os.environ, **GitAuth("configsync", "c").env()},
        root / "sim",
        period=0.2,
    )
    faults = Faults()
    server = SiteServer(
        store,
        syncer,
        faults,
        LoadModel(store, faults, seed=7),
        api_token="api-token",
        control_token="control-token",
    ).start()
    syncer.start()
    repo = SiteRepo(git.repo_url("edge1-config"), GitAuth("pipeline", "p"), root / "cache")
    yield {"server": server, "syncer": syncer, "repo": repo, "git": git}
    syncer.stop()
    server.stop()
    git.stop()


def client(server, token="api-token"):
    config = kubernetes.client.Configuration()
    config.host = server.url
    config.api_key = {"authorization": f"Bearer {token}"}
    return kubernetes.client.ApiClient(config)


def rootsync(server):
    return kubernetes.client.CustomObjectsApi(client(server)).get_namespaced_custom_object(
        "configsync.gke.io", "v1beta1", "config-management-system", "rootsyncs", "root-sync"
    )


def wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def delivered(site, settings):
    intent = api.to_28312(api.parse("URLLC slice with 5 ms latency at edge1", settings), settings)
    files = api.packages(intent, settings)["edge1"]
    files = {name: text for name, text in files.items()}
    delivery = site["repo"].deliver(intent.id, _rendered(files, tmp=site["git"].root.parent), message="m")
    wait_for(lambda: rootsync(site["server"])["status"]["lastSyncedCommit"] == delivery.sha)
    return {"intent": intent, "sha": delivery.sha}


def _rendered(files, tmp):
    rendered = api.render_packages({"edge1": files}, tmp / "rendered")
    return {p.name: p.read_text() for p in rendered["edge1"].iterdir()}


def test_rootsync_reports_the_commit(site, delivered):
    status = rootsync(site["server"])["status"]
    assert (
        status["source"]["commit"]
        == status["sync"]["commit"]
        == status["lastSyncedCommit"]
        == delivered["sha"]
    )
    assert status["sync"]["errorSummary"]["totalCount"] == 0
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Stalled"] == "False" and conditions["Reconciling"] == "False"


def test_the_served_rootsync_validates_against_the_config_sync_crd(site, delivered, rootsync_schema):
    import jsonschema

    jsonschema.validate(rootsync(site["server"]), rootsync_schema)  # its status, as the CRD says


def test_objects_are_served_in_the_wire_format(site, delivered):
    api_client = client(site["server"])
    namespace = f"intent-{delivered['intent'].id}"
    core = kubernetes.client.CoreV1Api(api_client)
    assert core.read_namespace(namespace).status.phase == "Active"
    deployment = wait_for(
        lambda: (
            (
                d := kubernetes.client.AppsV1Api(api_client).read_namespaced_deployment(
                    "slice-workload", namespace
                )
            ).status.ready_replicas
            == 3
            and d
        )
    )
    assert deployment.metadata.labels["edge-intent.io/intent-id"] == delivered["intent"].id
    pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=slice-workload").items
    assert len(pods) == 3 and all(p.status.conditions[0].status == "True" for p in pods)
    assert core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=other").items == []
    pr = kubernetes.client.CustomObjectsApi(api_client).get_cluster_custom_object(
        "o2ims.provisioning.oran.org", "v1alpha1", "provisioningrequests", f"{delivered['intent'].id}-edge1"
    )
    assert pr["status"]["provisioningStatus"]["provisioningState"] in ("progressing", "fulfilled")
    wait_for(
        lambda: (
            kubernetes.client.CustomObjectsApi(api_client).get_cluster_custom_object(
                "o2ims.provisioning.oran.org",
                "v1alpha1",
                "provisioningrequests",
                f"{delivered['intent'].id}-edge1",
            )["status"]["provisioningStatus"]["provisioningState"]
            == "fulfilled"
        )
    )


def test_discovery(site):
    groups = kubernetes.client.ApisApi(client(site["server"])).get_api_versions()
    assert {"configsync.gke.io", "o2ims.provisioning.oran.org", "apps"} <= {g.name for g in groups.groups}
    resources = kubernetes.client.CoreV1Api(client(site["server"])).get_api_resources()
    assert "pods" in {r.name for r in resources.resources}


def test_errors_are_kubernetes_statuses(site):
    core = kubernetes.client.CoreV1Api(client(site["server"]))
    with pytest.raises(kubernetes.client.exceptions.ApiException) as caught:
        core.read_namespace("no-such-namespace")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["reason"] == "NotFound"
    unauthorised = kubernetes.client.CoreV1Api(client(site["server"], token="wrong"))
    with pytest.raises(kubernetes.client.exceptions.ApiException) as caught:
        unauthorised.list_namespace()
    assert caught.value.status == 401
    with pytest.raises(kubernetes.client.exceptions.ApiException) as caught:
        core.delete_namespace("anything")
    assert caught.value.status == 405


def test_unappliable_manifest_is_reported_and_last_good_state_kept(site, delivered):
    repo = site["repo"]
    bad = repo.deliver(
        "broken",
        {"widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"},
        message="bad",
    )
    status = wait_for(lambda: (s := rootsync(site["server"])["status"])["sync"]["commit"] == bad.sha and s)
    assert status["sync"]["errorSummary"]["totalCount"] == 1
    assert "Widget" in status["sync"]["errors"][0]["errorMessage"]
    assert status["lastSyncedCommit"] == delivered["sha"]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Stalled"] == "True"
    namespace = f"intent-{delivered['intent'].id}"
    assert kubernetes.client.CoreV1Api(client(site["server"])).read_namespace(namespace)
    # a commit that removes the bad manifest syncs again
    subprocess.run(["git", "rm", "-rq", "intents/broken"], cwd=repo.path, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fix"],
        cwd=repo.path,
        check=True,
    )
    subprocess.run(
        ["git", "push", "-q", "origin", "HEAD:main"],
        cwd=repo.path,
        check=True,
        env={**os.environ, **GitAuth("pipeline", "p").env()},
    )
    fixed = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo.path, capture_output=True, text=True
    ).stdout.strip()
    wait_for(lambda: rootsync(site["server"])["status"]["lastSyncedCommit"] == fixed)


def test_metrics(site, delivered):
    namespace = f"intent-{delivered['intent'].id}"
    wait_for(
        lambda: any(
            p["status"]["conditions"][0]["status"] == "True"
            for p in site["server"].store.list("v1", "Pod", namespace)
        )
    )
    time.sleep(0.3)
    text = urllib.request.urlopen(f"{site['server'].url}/metrics", timeout=5).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["edgesim_info"].samples[0].labels == {"site": "edge1", "simulator": "true"}
    counts = [
        s
        for s in families["http_request_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels["namespace"] == namespace
    ]
    assert len(counts) == 3 and all(s.value > 0 for s in counts)
    assert {"site", "namespace", "pod"} <= set(counts[0].labels)
    for name in (
        "http_requests",
        "container_cpu_usage_seconds",
        "container_memory_working_set_bytes",
        "kube_pod_container_resource_limits",
        "kube_pod_status_ready",
    ):
        assert name in families, name


def _control(server, method, path, body=None, token="control-token"):
    request = urllib.request.Request(
        f"{server.url}{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_fault_control(site, delivered):
    server = site["server"]
    namespace = f"intent-{delivered['intent'].id}"
    assert (
        _control(server, "PUT", f"/control/faults/{namespace}", {"latencyMs": 200}, token="api-token")[0]
        == 401
    )
    assert _control(server, "PUT", f"/control/faults/{namespace}", {"latencyMs": -1})[0] == 400
    assert _control(server, "PUT", f"/control/faults/{namespace}", {"bogus": 1})[0] == 400
    assert _control(server, "PUT", "/control/faults/..%2Fx", {"latencyMs": 1})[0] == 400
    status, body = _control(
        server, "PUT", f"/control/faults/{namespace}", {"latencyMs": 200, "errorRate": 0.5}
    )
    assert status == 200 and body["fault"]["latencyMs"] == 200

    def totals():
        mine = [s for s in server.model.advance() if s.namespace == namespace]
        return sum(s.count for s in mine), sum(s.total_seconds for s in mine)

    count_before, seconds_before = totals()
    time.sleep(0.5)
    count_after, seconds_after = totals()
    added, added_seconds = count_after - count_before, seconds_after - seconds_before
    assert added > 0 and added_seconds / added > 0.2  # every request now takes 200 ms more
    assert _control(server, "PUT", f"/control/faults/{namespace}", {"crashLoop": True})[0] == 200
    pods = server.store.list("v1", "Pod", namespace)
    assert all(p["status"]["conditions"][0]["status"] == "False" for p in pods)
    assert _control(server, "DELETE", f"/control/faults/{namespace}")[1]["cleared"] is True
    assert all(
        p["status"]["conditions"][0]["status"] == "True" for p in server.store.list("v1", "Pod", namespace)
    )


def test_manifest_parsing(tmp_path):
    (tmp_path / "ok.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: a\n"
    )
    (tmp_path / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: k\n")
    (tmp_path / "local.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: l\n  annotations:\n"
        "    config.kubernetes.io/local-config: 'true'\n"
    )
    objects, errors = parse_manifests(tmp_path)
    assert [o["kind"] for o in objects] == ["Namespace", "ConfigMap"] and errors == []
    (tmp_path / "bad.yaml").write_text("a: [unclosed\n")
    (tmp_path / "orphan.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\n  namespace: zz\n"
    )
    (tmp_path / "noname.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    _, errors = parse_manifests(tmp_path)
    assert sorted(e.code for e in errors) == ["KNV1007", "KNV1031", "KNV2009"]
