"""The RootSync generator: field names as Config Sync's RootSync API defines them, every site of the
catalogue, the git-creds Secret as Kubernetes validates it, and no token in any output."""

from __future__ import annotations

import subprocess
import sys

import jsonschema
import kubernetes_validate
import pytest
import yaml

from include.compiler.config import PROJECT_ROOT, load_settings
from include.gitops import rootsync

GIT_URL = "https://gitea.example/edge-intent"

# configsync.gke.io/v1beta1 RootSync, from Config Sync's API reference (RootSync and RepoSync
# fields) and its Go types: spec.git has these keys, `repo` and `auth` required.
SPEC_KEYS = {"sourceType", "sourceFormat", "git", "oci", "helm", "override"}
GIT_KEYS = {
    "repo", "branch", "revision", "dir", "period", "auth", "gcpServiceAccountEmail", "proxy",
    "secretRef", "noSSLVerify", "caCertSecretRef",
}  # fmt: skip
AUTH_VALUES = {"ssh", "cookiefile", "gcenode", "gcpserviceaccount", "githubapp", "token", "none"}


def _catalogue():
    return load_settings().catalogue


def _documents(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


@pytest.mark.parametrize("name", _catalogue().names)
def test_rootsync_of_every_site_has_config_sync_fields(name):
    site = _catalogue().get(name)
    sync = rootsync.rootsync(site, GIT_URL)
    assert sync["apiVersion"] == "configsync.gke.io/v1beta1"
    assert sync["kind"] == "RootSync"
    assert sync["metadata"]["name"] == "root-sync"
    assert sync["metadata"]["namespace"] == "config-management-system"
    spec = sync["spec"]
    assert set(spec) <= SPEC_KEYS
    assert spec["sourceFormat"] == "unstructured"
    assert spec["sourceType"] == "git"
    git = spec["git"]
    assert set(git) <= GIT_KEYS
    assert {"repo", "auth"} <= set(git)
    assert git["repo"] == f"{GIT_URL}/{site.repo}.git"
    assert git["branch"] == "main"
    assert git["dir"] == "/"
    assert git["period"] == "15s"
    assert git["auth"] == "token" and git["auth"] in AUTH_VALUES
    assert git["secretRef"] == {"name": "git-creds"}


@pytest.mark.parametrize("name", _catalogue().names)
def test_rootsync_of_every_site_validates_against_the_config_sync_crd(name, rootsync_schema):
    jsonschema.validate(rootsync.rootsync(_catalogue().get(name), GIT_URL), rootsync_schema)


def test_the_crd_check_can_fail(rootsync_schema):
    sync = rootsync.rootsync(_catalogue().get("edge1"), GIT_URL)
    sync["spec"]["git"]["secretRefs"] = {"name": "git-creds"}  # misspelt: pruned by the API server
    with pytest.raises(jsonschema.ValidationError, match="secretRefs"):
        jsonschema.validate(sync, rootsync_schema)
    sync = rootsync.rootsync(_catalogue().get("edge1"), GIT_URL)
    del sync["spec"]["git"]["repo"]
    with pytest.raises(jsonschema.ValidationError, match="repo"):
        jsonschema.validate(sync, rootsync_schema)


def test_the_sync_wait_reads_the_object_the_generator_writes():
    from edge_intent.hooks.edge_site import ROOTSYNC

    group, version, plural, name, namespace = ROOTSYNC
    sync = rootsync.rootsync(_catalogue().sites[0], GIT_URL)
    assert sync["apiVersion"] == f"{group}/{version}" and plural == "rootsyncs"
    assert (sync["metadata"]["name"], sync["metadata"]["namespace"]) == (name, namespace)


def test_git_creds_secret_is_valid_kubernetes_and_has_config_sync_keys():
    site = _catalogue().sites[0]
    without = rootsync.git_credentials_secret(site)
    assert without["metadata"] == {
        "name": "git-creds",
        "namespace": "config-management-system",
        "labels": {"app.kubernetes.io/managed-by": "edge-intent", "edge-intent/site": site.name},
    }
    assert without["stringData"] == {"username": "configsync"}
    kubernetes_validate.validate(without, "1.30", strict=True)
    # What the kubectl command of the header creates (the token comes from a file there).
    with_token = rootsync.git_credentials_secret(site, token="t0ken")
    assert set(with_token["stringData"]) == {"username", "token"}
    kubernetes_validate.validate(with_token, "1.30", strict=True)


def test_manifest_is_the_rootsync_with_the_secret_command_and_no_token():
    site = _catalogue().get("edge2")
    text = rootsync.manifest(site, GIT_URL)
    documents = _documents(text)
    assert [doc["kind"] for doc in documents] == ["RootSync"]
    assert documents[0] == rootsync.rootsync(site, GIT_URL)
    command = rootsync.secret_command()
    assert command in text
    assert "--namespace=config-management-system" in command
    assert "--from-literal=username=configsync" in command
    assert "--from-file=token=./configsync.token" in command  # the token never on a command line
    assert "token:" not in text.replace("auth: token", "")


def test_options_reach_the_rootsync():
    site = _catalogue().sites[0]
    sync = rootsync.rootsync(
        site,
        "http://gitea:3000/edge-intent/",
        branch="prod",
        directory="/intents",
        period="1m",
        secret_name="creds",
    )
    assert sync["spec"]["git"]["repo"] == f"http://gitea:3000/edge-intent/{site.repo}.git"
    assert sync["spec"]["git"]["branch"] == "prod"
    assert sync["spec"]["git"]["dir"] == "/intents"
    assert sync["spec"]["git"]["period"] == "1m"
    assert sync["spec"]["git"]["secretRef"] == {"name": "creds"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"git_url": "https://user:secret@gitea.example/edge-intent"}, "must not carry credentials"),
        ({"git_url": "file:///srv/git"}, "https://"),
        ({"directory": "intents"}, "absolute path"),
        ({"period": "soon"}, "duration"),
        ({"secret_name": "Git_Creds"}, "object name"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    site = _catalogue().sites[0]
    args = {"git_url": GIT_URL} | kwargs
    git_url = args.pop("git_url")
    with pytest.raises(ValueError, match=message):
        rootsync.rootsync(site, git_url, **args)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.gitops.rootsync", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def test_cli_one_site_to_stdout():
    done = _cli("--site", "edge1", "--git-url", GIT_URL)
    assert done.returncode == 0, done.stderr
    (sync,) = _documents(done.stdout)
    assert sync["spec"]["git"]["repo"] == f"{GIT_URL}/edge1-config.git"


def test_cli_all_sites_to_a_directory(tmp_path):
    done = _cli("--all", "--git-url", GIT_URL, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    names = _catalogue().names
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}-rootsync.yaml" for n in names)
    for name in names:
        (sync,) = _documents((tmp_path / f"{name}-rootsync.yaml").read_text())
        assert sync["metadata"]["labels"]["edge-intent/site"] == name
        assert sync["spec"]["git"]["repo"] == f"{GIT_URL}/{_catalogue().get(name).repo}.git"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--site", "edge7", "--git-url", GIT_URL],
            "unknown site 'edge7'; known sites are edge1, edge2, edge3",
        ),
        (["--site", "edge1", "--git-url", "https://u:p@gitea.example/x"], "must not carry credentials"),
    ],
)
def test_cli_refuses_with_status_2(args, message):
    done = _cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert "u:p" not in done.stderr
