"""28.312 to each site's package, before rendering."""

from __future__ import annotations

import json

import yaml

from include.compiler import api, names


def _objects(files):
    return {
        doc["kind"]: doc
        for name, text in files.items()
        if name.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    }


def test_package_per_site(settings, many_targets_intent):
    intent = api.to_28312(many_targets_intent, settings)
    site_packages = api.packages(intent, settings)
    assert list(site_packages) == ["edge1", "edge2", "edge3"]
    for site, files in site_packages.items():
        assert {
            "Kptfile",
            "setters.yaml",
            "namespace.yaml",
            "provisioningrequest.yaml",
            "deployment.yaml",
            "service.yaml",
            "networkpolicy.yaml",
            "intent-configmap.yaml",
            "resourcequota.yaml",
        } <= set(files)
        objects = _objects(files)
        assert objects["Namespace"]["metadata"]["name"] == f"intent-{intent.id}"
        pr = objects["ProvisioningRequest"]
        assert pr["apiVersion"] == "o2ims.provisioning.oran.org/v1alpha1"
        assert pr["metadata"]["name"] == f"{intent.id}-{site}"
        assert "namespace" not in pr["metadata"]  # cluster-scoped
        params = pr["spec"]["templateParameters"]
        assert params["site"] == site
        profile = params["sliceProfile"]
        assert profile["sliceType"] == "URLLC" and profile["sst"] == 2
        assert profile["dLLatency"] == 5 and profile["uLLatency"] == 10
        assert profile["dLThptPerUE"] == {"guaThpt": 300000}
        assert profile["maxNumberofUEs"] == 1500 and profile["jitter"] == 2
        assert profile["dLReliability"] == 99.999 and profile["availability"] == 99.99
        assert profile["fiveQI"] == 85
        configmap = yaml.safe_load(files["intent-configmap.yaml"])
        assert configmap["metadata"]["name"] == names.INTENT_CONFIGMAP
        assert json.loads(configmap["data"]["intent.json"]) == intent.to_json()
        setters = yaml.safe_load(files["setters.yaml"])
        assert setters["data"]["intent-id"] == intent.id and setters["data"]["site"] == site


def test_deployment_sized_and_limited(settings, many_targets_intent):
    intent = api.to_28312(many_targets_intent, settings)
    deployment = _objects(api.packages(intent, settings)["edge1"])["Deployment"]
    assert deployment["spec"]["replicas"] == 8  # ceil(1500 / 200 UEs per URLLC replica)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1500m", "memory": "1Gi"}
    assert deployment["metadata"]["annotations"][f"{names.LABEL_PREFIX}/5qi"] == "85"
    assert {"name": "FIVE_QI", "value": "85"} in container["env"]


def test_packages_are_deterministic(settings, many_targets_intent):
    intent = api.to_28312(many_targets_intent, settings)
    assert api.packages(intent, settings) == api.packages(intent, settings)
