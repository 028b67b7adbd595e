"""The local stack's monitoring: the real Prometheus server scraping every simulated site and the
pipeline's own metrics, with the alerting rules of ``monitoring/prometheus/alerts.yml``.

Tokens live in files only the owner reads; Prometheus reads them from there (``credentials_file``),
so no token is on a command line or in a configuration file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from include.compiler.config import PROJECT_ROOT

ALERT_RULES = PROJECT_ROOT / "monitoring" / "prometheus" / "alerts.yml"
RULES_DIR = "rules.d"
"""Rule files of the stack's own (``<root>/rules.d/*.yml``), loaded after the project's: see
:func:`add_rules`."""
METRICS_PATH = "/edge-intent/metrics"  # the pipeline's metrics, served by Airflow's api-server


def token(root: Path, name: str) -> str:
    """The token ``name`` of the stack at ``root`` (``secrets/<name>``), made on first use."""
    path = root / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    return path.read_text()


def scrape_targets(root: Path, targets: list[str]) -> None:
    """Point Prometheus' ``edge-intent`` job at ``targets`` (file_sd; Prometheus sees the change)."""
    _targets_file(root, "edge-intent", targets)


def _targets_file(root: Path, name: str, targets: list[str]) -> None:
    path = root / "prometheus-targets" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps([{"targets": targets, "labels": {}}] if targets else []))
    staged.replace(path)


def start_alertmanager(stack: Any, webhook_url: str, *, timeout: float = 30) -> str:
    """The real Alertmanager (Debian's ``prometheus-alertmanager``) on loopback (at
    ``stack.alertmanager_url`` when set, else a free port), its clustering off, sending every alert
    to ``webhook_url`` with the bearer token ``secrets/alert-token``; Prometheus is pointed at it.
    Its URL."""
    from include.localstack.processes import free_port

    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise RuntimeError(
            "Alertmanager is not installed: apt-get install --no-install-recommends prometheus-alertmanager"
        )
    token(stack.root, "alert-token")
    config = stack.root / "alertmanager.yml"
    config.write_text(
        json.dumps(
            {
                "route": {
                    "receiver": "edge-intent",
                    "group_by": ["alertname", "namespace", "site"],
                    "group_wait": "1s",
                    "group_interval": "5s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "edge-intent",
                        "webhook_configs": [
                            {
                                "url": webhook_url,
                                "send_resolved": True,
                                "http_config": {
                                    "authorization": {
                                        "credentials_file": str(stack.root / "secrets" / "alert-token")
                                    }
                                },
                            }
                        ],
                    }
                ],
            },
            indent=2,
        )
    )
    port = urllib.parse.urlsplit(stack.alertmanager_url).port if stack.alertmanager_url else free_port()
    service = stack._spawn(
        "alertmanager",
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={stack.root / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: one Alertmanager, loopback only
            "--log.level=warn",
        ],
    )
    service.url = url = stack.alertmanager_url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"Alertmanager exited; see {service.log}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2):
                _targets_file(stack.root, "alertmanager", [f"127.0.0.1:{port}"])
                return url
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"Alertmanager was not ready within {timeout:g} s; see {service.log}")


def start_prometheus(stack: Any, *, scrape_interval: str = "1s", timeout: float = 60) -> str:
    """The real Prometheus server, scraping every simulated site of ``stack``, on a free loopback port;
    it also scrapes the pipeline's metrics from Airflow's api-server once Airflow runs, and evaluates
    the alerting rules of ``monitoring/prometheus/alerts.yml``."""
    from include.localstack.processes import free_port

    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("Prometheus is not installed: apt-get install --no-install-recommends prometheus")
    jobs: list[dict[str, Any]] = [
        {
            "job_name": f"edgesim-{site}",
            "honor_labels": True,
            "scrape_interval": scrape_interval,
            "static_configs": [
                {"targets": [stack.site_url(site).removeprefix("http://")], "labels": {"site": site}}
            ],
        }
        for site in stack.sites
    ]
    scrape_targets(stack.root, [])  # Airflow starts later: start_airflow fills the target in
    jobs.append(
        {
            "job_name": "edge-intent",
            "scrape_interval": "2s",
            "metrics_path": METRICS_PATH,
            "authorization": {"credentials_file": str(stack.root / "secrets" / "metrics-token")},
            "file_sd_configs": [
                {
                    "files": [str(stack.root / "prometheus-targets" / "edge-intent.json")],
                    "refresh_interval": "2s",
                }
            ],
        }
    )
    token(stack.root, "metrics-token")
    (stack.root / RULES_DIR).mkdir(exist_ok=True)
    _targets_file(stack.root, "alertmanager", [])  # start_alertmanager fills it in
    config = stack.root / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
                "rule_files": [str(ALERT_RULES), str(stack.root / RULES_DIR / "*.yml")],
                "scrape_configs": jobs,
                "alerting": {
                    "alertmanagers": [
                        {
                            "file_sd_configs": [
                                {
                                    "files": [str(stack.root / "prometheus-targets" / "alertmanager.json")],
                                    "refresh_interval": "2s",
                                }
                            ]
                        }
                    ]
                },
            },
            indent=2,
        )
    )
    port = free_port()
    service = stack._spawn(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={stack.root / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ],
    )
    service.url = stack.prometheus_url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    query = urllib.parse.urlencode({"query": "sum(up)"})
    while time.time() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"Prometheus exited; see {service.log}")
        try:
            with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/query?{query}", timeout=2) as reply:
                result = json.load(reply)["data"]["result"]
            if result and float(result[0]["value"][1]) == len(stack.sites):
                return stack.prometheus_url
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"Prometheus did not scrape every site within {timeout:g} s; see {service.log}")


def add_rules(stack: Any, name: str, groups: list[dict[str, Any]] | None, *, timeout: float = 30) -> None:
    """Load the rule ``groups`` into the stack's running Prometheus as ``rules.d/<name>.yml`` (None:
    remove that file), and wait until Prometheus has them (it reloads its configuration on SIGHUP)."""
    import signal

    path = stack.root / RULES_DIR / f"{name}.yml"
    if groups is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(json.dumps({"groups": groups}, indent=2), encoding="utf-8")  # JSON is YAML
    wanted = {g["name"] for g in groups or []}
    stack.services["prometheus"].process.send_signal(signal.SIGHUP)
    deadline = time.time() + timeout
    while True:
        with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/rules", timeout=5) as reply:
            loaded = {g["name"] for g in json.load(reply)["data"]["groups"] if g["file"] == str(path)}
        if loaded == wanted:
            return
        if time.time() > deadline:
            raise TimeoutError(f"Prometheus did not load {path} within {timeout:g} s (has {sorted(loaded)})")
        time.sleep(0.25)
