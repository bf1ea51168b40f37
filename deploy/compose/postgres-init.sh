#!/usr/bin/env bash
# The single-host profile's databases, made on PostgreSQL's first start (the official image runs
# /docker-entrypoint-initdb.d/*.sh, as the superuser, over its socket, while the data folder is
# new). Each database belongs to a role that logs in and owns it, and nothing more (no superuser,
# no CREATEDB, no CREATEROLE), and only its owner may connect to it:
#
#   role      databases                        used by
#   tasador   tasador_raw, tasador_clean       the inference API, the loop's tasks (Airflow)
#   mlflow    tasador_mlflow                   the MLflow server
#   airflow   tasador_airflow                  Airflow's metadata
#   grafana_reader  reads tasador_clean        Grafana (deploy/grafana/readonly-role.sql)
#
# Passwords come from the environment (TASADOR_DB_PASSWORD, MLFLOW_DB_PASSWORD, AIRFLOW_DB_PASSWORD,
# TASADOR_GRAFANA_CLEAN_DB_PASSWORD); psql reads them itself (`printenv NAME`), so no password is
# ever on a command line. Running it again changes only the passwords (to rotate one):
#   docker compose -f deploy/compose.yaml exec -u postgres postgres \
#       bash /docker-entrypoint-initdb.d/10-tasador.sh
# The body is a subshell, so the entry point may source this file (when it is not executable) as
# safely as run it.

tasador_postgres_init() (
    set -euo pipefail
    readonly_role_sql=/opt/tasador/readonly-role.sql

    for variable in TASADOR_DB_PASSWORD MLFLOW_DB_PASSWORD AIRFLOW_DB_PASSWORD \
        TASADOR_GRAFANA_CLEAN_DB_PASSWORD; do
        if [ -z "${!variable:-}" ]; then
            echo "tasador: $variable is empty: set it in deploy/.env" >&2
            exit 1
        fi
    done

    run_psql() {
        psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --username="${POSTGRES_USER:-postgres}" "$@"
    }

    # ensure_owner ROLE PASSWORD_VARIABLE DATABASE...: the role, its password, its databases
    ensure_owner() {
        local role=$1 variable=$2
        shift 2
        run_psql --dbname=postgres --set=role="$role" --set=variable="$variable" <<'SQL'
\set password `printenv :'variable'`
SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'password';
SQL
        local database
        for database in "$@"; do
            run_psql --dbname=postgres --set=role="$role" --set=database="$database" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
ALTER DATABASE :"database" OWNER TO :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
            echo "tasador: database $database belongs to $role"
        done
    }

    ensure_owner tasador TASADOR_DB_PASSWORD tasador_raw tasador_clean
    ensure_owner mlflow MLFLOW_DB_PASSWORD tasador_mlflow
    ensure_owner airflow AIRFLOW_DB_PASSWORD tasador_airflow
    # Grafana's read-only role on CLEAN DATA: the script of docs/observability.md, as it is
    run_psql --dbname=tasador_clean --set=role=grafana_reader --file="$readonly_role_sql"
)

tasador_postgres_init
