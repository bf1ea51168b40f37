#!/bin/sh
# Entry point of the tasador-mlflow image: `mlflow server` with the arguments given, once the
# backend is known to be PostgreSQL. MLflow reads MLFLOW_BACKEND_STORE_URI itself, so the URL and
# its password stay in the environment, off every command line; without it MLflow would fall back
# to SQLite, which tasador's metadata never is.
set -eu

case "${MLFLOW_BACKEND_STORE_URI:-}" in
    postgresql://* | postgresql+*://*) ;;
    *)
        echo "mlflow-server: set MLFLOW_BACKEND_STORE_URI to a PostgreSQL URL" \
            "(postgresql+psycopg://{user}:{password}@{host}:{port}/{database})" >&2
        exit 64
        ;;
esac
exec mlflow server "$@"
