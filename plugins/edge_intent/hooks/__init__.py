"""Hooks: each owns one kind of connection (site config repositories, edge sites, Prometheus,
Airflow's REST API, the language model)."""
