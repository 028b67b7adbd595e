"""TS 28.312 intent to the KRM package of each target site.

Per site: an intent-scoped ``Namespace`` (Pod Security ``restricted``), the O2IMS
``ProvisioningRequest`` (cluster-scoped, slice profile in ``templateParameters``), the slice's
``Deployment`` and ``Service`` (sized by :mod:`.sizing`, 5QI by :mod:`.fiveqi`), a ``ConfigMap``
holding the 28.312 intent, a ``NetworkPolicy``, and the blueprint's own resources. The intent's
labels and namespace are applied by the blueprint's kpt mutator from ``setters.yaml``; kpt's
validator then checks the result (see include/kpt).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from . import fiveqi, names, sizing, ts28312
from .config import Settings, SliceType
from .convert import target_value
from .errors import IntentValidationError

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ~10x faster
BLUEPRINT = Path(__file__).resolve().parents[1] / "kpt" / "slice-blueprint"
STAGE = "compile"
PR_API_VERSION = "o2ims.provisioning.oran.org/v1alpha1"
# 28.312 target name -> TS 28.541 ServiceProfile attribute(s) in the O2IMS slice profile.
PROFILE_NAMES = {
    "DlLatency": ("dLLatency",),
    "UlLatency": ("uLLatency",),
    "DlThptPerUE": ("dLThptPerUE",),
    "UlThptPerUE": ("uLThptPerUE",),
    "maxNumberofUEs": ("maxNumberofUEs",),
    "jitter": ("jitter",),
    "availability": ("availability",),
    "reliability": ("dLReliability", "uLReliability"),
}


def slice_type_of(intent: ts28312.Intent, settings: Settings) -> SliceType:
    sst = intent.context("ServiceType")
    for name, profile in settings.compiler.sliceTypes.items():
        if profile.sst == sst:
            return name
    raise IntentValidationError.single(
        "intentContexts.ServiceType", f"SST {sst!r} is not a configured slice type", stage=STAGE
    )


def site_package(intent: ts28312.Intent, site: str, settings: Settings) -> dict[str, str]:
    """Every file of ``site``'s package before rendering, as ``{file name: YAML text}``."""
    expectation = intent.expectation_for(site)
    if expectation is None:
        raise IntentValidationError.single(
            "site", f"the intent has no expectation for site {site!r}", stage=STAGE
        )
    slice_type = slice_type_of(intent, settings)
    profile = settings.compiler.sliceTypes[slice_type]
    targets = {t.targetName: t for t in expectation.expectationTargets}
    values = {name: target_value(t) for name, t in targets.items()}

    reliability = values.get("reliability")
    choice = fiveqi.select(
        latency_ms=values.get("DlLatency"),
        reliability_pct=reliability if reliability is not None else profile.defaultReliability,
        resource_types=profile.fiveQIResourceTypes,
        default=profile.defaultFiveQI,
        reliability_is_default=reliability is None and profile.defaultReliability is not None,
    )
    throughput = values.get("DlThptPerUE", 0.0) + values.get("UlThptPerUE", 0.0)
    size = sizing.size(
        slice_type, ues=values.get("maxNumberofUEs"), throughput_kbps=throughput, settings=settings.compiler
    )
    namespace = names.namespace(intent.id)

    documents = {
        "namespace.yaml": _namespace(namespace),
        "provisioningrequest.yaml": _provisioning_request(
            intent, site, slice_type, choice, size, targets, settings
        ),
        "deployment.yaml": _deployment(intent.id, site, slice_type, choice, size, settings),
        "service.yaml": _service(),
        "networkpolicy.yaml": _network_policy(settings),
        "intent-configmap.yaml": _intent_configmap(intent, site),
    }
    files = {name: _dump(doc) for name, doc in documents.items()}
    files["Kptfile"] = _kptfile(intent)
    files["setters.yaml"] = _dump(_setters(intent.id, site, slice_type, size))
    for blueprint_file in sorted(BLUEPRINT.glob("*.yaml")):
        if blueprint_file.name != "setters.yaml":
            files[blueprint_file.name] = blueprint_file.read_text(encoding="utf-8")
    return files


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(
        document, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True
    )


def _kptfile(intent: ts28312.Intent) -> str:
    kptfile = yaml.safe_load((BLUEPRINT / "Kptfile").read_text(encoding="utf-8"))
    kptfile["metadata"]["name"] = intent.id
    kptfile["info"]["description"] = f"Edge slice package of intent {intent.id}, compiled from TS 28.312"
    return _dump(kptfile)


def _setters(intent_id: str, site: str, slice_type: SliceType, size: sizing.Size) -> dict[str, Any]:
    headroom = size.replicas + 1  # one extra pod for a rolling update
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names.SETTERS, "annotations": {"config.kubernetes.io/local-config": "true"}},
        "data": {
            "intent-id": intent_id,
            "namespace": names.namespace(intent_id),
            "site": site,
            "slice-type": slice_type.lower(),
            "quota-pods": str(headroom),
            "quota-cpu": sizing.cpu_quantity(headroom * sizing.millicores(size.cpu_limit)),
            "quota-memory": f"{headroom * sizing.mebibytes(size.memory_limit)}Mi",
        },
    }


def _namespace(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }


def _provisioning_request(
    intent: ts28312.Intent,
    site: str,
    slice_type: SliceType,
    choice: fiveqi.Choice,
    size: sizing.Size,
    targets: dict[str, ts28312.ExpectationTarget],
    settings: Settings,
) -> dict[str, Any]:
    profile = settings.compiler.sliceTypes[slice_type]
    slice_profile: dict[str, Any] = {"sliceType": slice_type, "sst": profile.sst, "fiveQI": choice.row.value}
    for name, target in targets.items():
        for attribute in PROFILE_NAMES.get(name, (name,)):
            slice_profile[attribute] = target.targetValueRange
    return {
        "apiVersion": PR_API_VERSION,
        "kind": "ProvisioningRequest",
        "metadata": {"name": names.provisioning_request(intent.id, site)},
        "spec": {
            "name": f"{intent.userLabel or intent.id} ({site})",
            "description": f"{slice_type} slice of intent {intent.id} at {site}, compiled from TS 28.312",
            "templateName": profile.templateName,
            "templateVersion": profile.templateVersion,
            "templateParameters": {
                "intentId": intent.id,
                "site": site,
                "namespace": names.namespace(intent.id),
                "sliceProfile": slice_profile,
                "workload": {
                    "replicas": size.replicas,
                    "cpuLimit": size.cpu_limit,
                    "memoryLimit": size.memory_limit,
                },
            },
        },
    }


def _deployment(
    intent_id: str,
    site: str,
    slice_type: SliceType,
    choice: fiveqi.Choice,
    size: sizing.Size,
    settings: Settings,
) -> dict[str, Any]:
    workload = settings.compiler.workload
    selector = {"app.kubernetes.io/name": names.WORKLOAD}
    container = {
        "name": "slice",
        "image": workload.image,
        "args": list(workload.args),
        "ports": [{"name": "http", "containerPort": workload.port, "protocol": "TCP"}],
        "env": [
            {"name": "INTENT_ID", "value": intent_id},
            {"name": "SITE", "value": site},
            {"name": "SLICE_TYPE", "value": slice_type},
            {"name": "FIVE_QI", "value": str(choice.row.value)},
        ],
        "resources": {
            "requests": {"cpu": size.cpu_request, "memory": size.memory_request},
            "limits": {"cpu": size.cpu_limit, "memory": size.memory_limit},
        },
        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": names.WORKLOAD,
            "labels": {**selector, "app.kubernetes.io/component": slice_type.lower()},
            "annotations": {
                f"{names.LABEL_PREFIX}/5qi": str(choice.row.value),
                f"{names.LABEL_PREFIX}/5qi-basis": choice.basis,
                # the most replicas scaling may reach: the slice profile's and the intent's ceiling
                f"{names.LABEL_PREFIX}/{names.MAX_REPLICAS}": str(size.max_replicas),
            },
        },
        "spec": {
            "replicas": size.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": dict(selector)},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65534,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": names.WORKLOAD, "labels": {"app.kubernetes.io/name": names.WORKLOAD}},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": names.WORKLOAD},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _network_policy(settings: Settings) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": names.NETWORK_POLICY},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {}},
                        {"namespaceSelector": {"matchLabels": {f"{names.LABEL_PREFIX}/monitoring": "true"}}},
                    ],
                    "ports": [{"protocol": "TCP", "port": settings.compiler.workload.port}],
                }
            ],
        },
    }


def _intent_configmap(intent: ts28312.Intent, site: str) -> dict[str, Any]:
    expectation = intent.expectation_for(site)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names.INTENT_CONFIGMAP},
        "data": {
            "intent.json": json.dumps(intent.to_json(), indent=2, sort_keys=True) + "\n",
            "expectationId": expectation.expectationId if expectation else "",
            "site": site,
        },
    }
