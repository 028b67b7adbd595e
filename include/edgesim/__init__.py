"""Edge-site simulator: a stand-in for one edge site (Kubernetes + Config Sync + O2IMS + workloads).

THIS IS A SIMULATOR. It runs no containers. It pulls its site's config repository like Config
Sync's RootSync, keeps the objects in memory, and serves the parts of the Kubernetes API that the
pipeline reads, in the real wire format, so that the official ``kubernetes`` client and Airflow's
``KubernetesHook`` work against it unchanged. It exposes Prometheus metrics made by a seeded load
model for every deployed workload, and a token-protected fault-injection control.
"""
