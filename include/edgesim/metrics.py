"""Prometheus exposition of the load model, with Kubernetes' usual metric and label names.

``http_request_duration_seconds`` (histogram) and ``http_requests_total{code}`` per pod,
cAdvisor's ``container_cpu_usage_seconds_total`` and ``container_memory_working_set_bytes``,
kube-state-metrics' ``kube_pod_container_resource_limits`` and ``kube_pod_status_ready``; every
series is labelled ``site``, ``namespace`` and ``pod``. ``edgesim_info`` says it is a simulator.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .loadmodel import BUCKETS, LoadModel


class _Collector:
    def __init__(self, model: LoadModel) -> None:
        self.model = model

    def collect(self):
        site = self.model.store.site
        pods = self.model.advance()
        info = GaugeMetricFamily(
            "edgesim_info", "This site is simulated by the edge-site simulator.", labels=["site", "simulator"]
        )
        info.add_metric([site, "true"], 1)
        yield info
        labels = ["site", "namespace", "pod"]
        duration = HistogramMetricFamily(
            "http_request_duration_seconds", "Latency of requests served by the pod.", labels=labels
        )
        requests = CounterMetricFamily(
            "http_requests_total", "Requests served by the pod, by status code.", labels=[*labels, "code"]
        )
        cpu = CounterMetricFamily(
            "container_cpu_usage_seconds_total",
            "CPU time used by the container.",
            labels=[*labels, "container"],
        )
        memory = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "Working set of the container.",
            labels=[*labels, "container"],
        )
        limits = GaugeMetricFamily(
            "kube_pod_container_resource_limits",
            "Resource limits of the container.",
            labels=[*labels, "container", "resource", "unit"],
        )
        ready = GaugeMetricFamily(
            "kube_pod_status_ready", "Whether the pod is ready.", labels=[*labels, "condition"]
        )
        for series in pods:
            base = [site, series.namespace, series.pod]
            cumulative = [(f"{bound:g}", count) for bound, count in zip(BUCKETS, series.buckets, strict=True)]
            duration.add_metric(base, [*cumulative, ("+Inf", series.count)], series.total_seconds)
            requests.add_metric([*base, "200"], series.requests_ok)
            requests.add_metric([*base, "500"], series.requests_failed)
            cpu.add_metric([*base, series.container], series.cpu_seconds)
            memory.add_metric([*base, series.container], series.memory)
            limits.add_metric([*base, series.container, "cpu", "core"], series.cpu_limit)
            limits.add_metric([*base, series.container, "memory", "byte"], series.memory_limit)
            ready.add_metric([*base, "true"], 1.0 if series.ready else 0.0)
            ready.add_metric([*base, "false"], 0.0 if series.ready else 1.0)
        yield from (duration, requests, cpu, memory, limits, ready)


def exposition(model: LoadModel) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(model))
    return generate_latest(registry)
