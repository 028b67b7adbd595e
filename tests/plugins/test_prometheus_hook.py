"""The Prometheus hook keeps credentials out of its URL, so they reach no log, error or evidence."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "host", ["http://user:secret@127.0.0.1:9090", "ftp://127.0.0.1:9090"], ids=["credentials", "scheme"]
)
def test_the_prometheus_hook_refuses_a_url_with_credentials_or_another_scheme(monkeypatch, host):
    from edge_intent.hooks.prometheus import PrometheusHook

    monkeypatch.setenv("AIRFLOW_CONN_PROM_TEST", json.dumps({"conn_type": "http", "host": host}))
    with pytest.raises(ValueError, match="^connection prom_test: ") as caught:
        _ = PrometheusHook("prom_test").url
    assert "secret" not in str(caught.value)
