#!/usr/bin/env bash
# Creates every Secret the tasador chart and the Argo CD child apps name (deploy/argocd/), in the
# current kubectl context. Values come from the environment when set, else from the Secret already
# in the cluster (a second run rotates nothing: the databases keep the passwords they were made
# with), else they are generated. No secret is printed or put on a command line: each goes
# through a 0600 temporary file to `kubectl create secret --from-env-file/--from-file`.
#
#   deploy/scripts/create-secrets.sh
#
# Optional environment: TASADOR_PG_PASSWORD, AIRFLOW_PG_PASSWORD, GRAFANA_PG_PASSWORD,
# S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, TASADOR_RELOAD_TOKEN, GRAFANA_ADMIN_PASSWORD,
# AIRFLOW_FERNET_KEY, AIRFLOW_API_SECRET_KEY, AIRFLOW_JWT_SECRET; namespaces TASADOR_NAMESPACE
# (tasador), AIRFLOW_NAMESPACE (airflow), SEAWEEDFS_NAMESPACE (seaweedfs), MONITORING_NAMESPACE
# (monitoring); PG_HOST (tasador-pg-rw.<tasador namespace>.svc), S3_ENDPOINT
# (http://seaweedfs-s3.<seaweedfs namespace>.svc:8333), S3_BUCKET (tasador).
set -euo pipefail
umask 077

TASADOR_NS=${TASADOR_NAMESPACE:-tasador}
AIRFLOW_NS=${AIRFLOW_NAMESPACE:-airflow}
SEAWEEDFS_NS=${SEAWEEDFS_NAMESPACE:-seaweedfs}
MONITORING_NS=${MONITORING_NAMESPACE:-monitoring}
PG_HOST=${PG_HOST:-tasador-pg-rw.${TASADOR_NS}.svc}
S3_ENDPOINT=${S3_ENDPOINT:-http://seaweedfs-s3.${SEAWEEDFS_NS}.svc:8333}
S3_BUCKET=${S3_BUCKET:-tasador}

command -v kubectl >/dev/null || { echo "kubectl is not installed" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# existing NAMESPACE SECRET KEY: the key's value in the cluster, or nothing
existing() {
  kubectl -n "$1" get secret "$2" -o "jsonpath={.data.$3}" 2>/dev/null | base64 -d 2>/dev/null || true
}

# choose VALUE_FROM_ENV NAMESPACE SECRET KEY GENERATOR...: the environment's value, else the
# cluster's, else a generated one
choose() {
  local given=$1 ns=$2 name=$3 key=$4
  shift 4
  if [[ -n $given ]]; then
    printf '%s' "$given"
    return
  fi
  local found
  found=$(existing "$ns" "$name" "$key")
  if [[ -n $found ]]; then
    printf '%s' "$found"
  else
    "$@"
  fi
}

hex() { openssl rand -hex "$1"; }
# a Fernet key: 32 random bytes, URL-safe base64
fernet() { openssl rand -base64 32 | tr '+/' '-_'; }

# the percent-encoding of $1 for a URL's user-info part
urlencode() {
  local text=$1 out="" char i
  for ((i = 0; i < ${#text}; i++)); do
    char=${text:i:1}
    case $char in
      [a-zA-Z0-9.~_-]) out+=$char ;;
      *) out+=$(printf '%%%02X' "'$char") ;;
    esac
  done
  printf '%s' "$out"
}

namespace() {
  kubectl create namespace "$1" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}

# apply NAMESPACE NAME TYPE FILE: the secret from an env file (KEY=value lines), created or updated
apply_env_secret() {
  local ns=$1 name=$2 type=$3 file=$4
  kubectl -n "$ns" create secret generic "$name" --type="$type" --from-env-file="$file" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  echo "secret $ns/$name"
}

# env_file NAME KEY=VALUE...: a 0600 file of KEY=VALUE lines in the work folder; prints its path
env_file() {
  local path="$WORK/$1.env"
  shift
  : >"$path"
  local line
  for line in "$@"; do
    printf '%s\n' "$line" >>"$path"
  done
  printf '%s' "$path"
}

for ns in "$TASADOR_NS" "$AIRFLOW_NS" "$SEAWEEDFS_NS" "$MONITORING_NS"; do
  namespace "$ns"
done

# PostgreSQL roles (CloudNativePG reads basic-auth Secrets) and the URLs built from them
tasador_pw=$(choose "${TASADOR_PG_PASSWORD:-}" "$TASADOR_NS" tasador-pg-owner password hex 24)
airflow_pw=$(choose "${AIRFLOW_PG_PASSWORD:-}" "$TASADOR_NS" tasador-pg-airflow password hex 24)
grafana_pw=$(choose "${GRAFANA_PG_PASSWORD:-}" "$TASADOR_NS" tasador-pg-grafana password hex 24)

apply_env_secret "$TASADOR_NS" tasador-pg-owner kubernetes.io/basic-auth \
  "$(env_file pg-owner username=tasador "password=$tasador_pw")"
apply_env_secret "$TASADOR_NS" tasador-pg-airflow kubernetes.io/basic-auth \
  "$(env_file pg-airflow username=airflow "password=$airflow_pw")"
apply_env_secret "$TASADOR_NS" tasador-pg-grafana kubernetes.io/basic-auth \
  "$(env_file pg-grafana username=grafana_reader "password=$grafana_pw")"

tasador_auth="tasador:$(urlencode "$tasador_pw")@${PG_HOST}:5432"
db_env=$(env_file tasador-db \
  "TASADOR_DB_RAW_URL=postgresql+psycopg://${tasador_auth}/tasador_raw" \
  "TASADOR_DB_CLEAN_URL=postgresql+psycopg://${tasador_auth}/tasador_clean" \
  "TASADOR_DB_MLFLOW_URL=postgresql+psycopg://${tasador_auth}/tasador_mlflow")
apply_env_secret "$TASADOR_NS" tasador-db Opaque "$db_env"
apply_env_secret "$AIRFLOW_NS" tasador-db Opaque "$db_env"

apply_env_secret "$AIRFLOW_NS" airflow-metadata Opaque "$(env_file airflow-metadata \
  "connection=postgresql://airflow:$(urlencode "$airflow_pw")@${PG_HOST}:5432/airflow")"

# S3: one key pair, known to SeaweedFS (its identities JSON), to MLflow and the bucket job
# (tasador namespace) and to the DAG's tasks and Airflow's remote logging (airflow namespace)
s3_id=$(choose "${S3_ACCESS_KEY_ID:-}" "$TASADOR_NS" tasador-s3 TASADOR_S3_ACCESS_KEY_ID hex 10)
s3_secret=$(choose "${S3_SECRET_ACCESS_KEY:-}" "$TASADOR_NS" tasador-s3 TASADOR_S3_SECRET_ACCESS_KEY hex 20)
s3_env=$(env_file tasador-s3 "TASADOR_S3_ACCESS_KEY_ID=$s3_id" "TASADOR_S3_SECRET_ACCESS_KEY=$s3_secret")
apply_env_secret "$TASADOR_NS" tasador-s3 Opaque "$s3_env"
apply_env_secret "$AIRFLOW_NS" tasador-s3 Opaque "$s3_env"

identities='{"identities": [{"name": "tasador", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}\n'  # pragma: allowlist secret
# shellcheck disable=SC2059 # the format is the constant above
printf "$identities" "$s3_id" "$s3_secret" >"$WORK/seaweedfs_s3_config"
kubectl -n "$SEAWEEDFS_NS" create secret generic seaweedfs-s3-config \
  --from-file=seaweedfs_s3_config="$WORK/seaweedfs_s3_config" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
echo "secret $SEAWEEDFS_NS/seaweedfs-s3-config"

printf '%s\n' "AIRFLOW_CONN_TASADOR_S3={\"conn_type\": \"aws\", \"login\": \"$s3_id\", \"password\": \"$s3_secret\", \"extra\": {\"endpoint_url\": \"$S3_ENDPOINT\", \"region_name\": \"us-east-1\"}}" \
  >"$WORK/airflow-s3-connection.env"
apply_env_secret "$AIRFLOW_NS" airflow-s3-connection Opaque "$WORK/airflow-s3-connection.env"

# the inference API's reload token, which the DAG's `reload` task sends
token=$(choose "${TASADOR_RELOAD_TOKEN:-}" "$TASADOR_NS" tasador-reload-token TASADOR_SERVING_RELOAD_TOKEN hex 32)
token_env=$(env_file reload-token "TASADOR_SERVING_RELOAD_TOKEN=$token")
apply_env_secret "$TASADOR_NS" tasador-reload-token Opaque "$token_env"
apply_env_secret "$AIRFLOW_NS" tasador-reload-token Opaque "$token_env"

# Airflow's own keys
fernet_key=$(choose "${AIRFLOW_FERNET_KEY:-}" "$AIRFLOW_NS" airflow-fernet-key fernet-key fernet)
apply_env_secret "$AIRFLOW_NS" airflow-fernet-key Opaque "$(env_file fernet "fernet-key=$fernet_key")"
api_key=$(choose "${AIRFLOW_API_SECRET_KEY:-}" "$AIRFLOW_NS" airflow-api-secret-key api-secret-key hex 32)
apply_env_secret "$AIRFLOW_NS" airflow-api-secret-key Opaque "$(env_file api-key "api-secret-key=$api_key")"
jwt=$(choose "${AIRFLOW_JWT_SECRET:-}" "$AIRFLOW_NS" airflow-jwt-secret jwt-secret hex 32)
apply_env_secret "$AIRFLOW_NS" airflow-jwt-secret Opaque "$(env_file jwt "jwt-secret=$jwt")"

# Grafana: its admin, and the read-only CLEAN DATA role's password for the data source
grafana_admin=$(choose "${GRAFANA_ADMIN_PASSWORD:-}" "$MONITORING_NS" grafana-admin admin-password hex 16)
apply_env_secret "$MONITORING_NS" grafana-admin Opaque \
  "$(env_file grafana-admin admin-user=admin "admin-password=$grafana_admin")"
apply_env_secret "$MONITORING_NS" tasador-grafana-clean Opaque \
  "$(env_file grafana-clean "TASADOR_GRAFANA_CLEAN_DB_PASSWORD=$grafana_pw")"

echo "every secret is in place (bucket: $S3_BUCKET at $S3_ENDPOINT)"
