#!/usr/bin/env bash
# A local Kubernetes cluster running tasador the GitOps way: k3d creates the cluster, Argo CD is
# installed at a pinned version, create-secrets.sh makes the Secrets, the root Application
# (deploy/argocd/root.yaml) hands the rest to Argo CD, which syncs the child apps wave by wave
# from this repository on GitHub (push your branch first). Then it prints how to reach each UI.
#
#   deploy/scripts/bootstrap-local.sh             # create (or reuse) the cluster and sync
#   CLUSTER_NAME=demo REPO_URL=https://github.com/you/tasador.git deploy/scripts/bootstrap-local.sh
#
# Needs docker, k3d and kubectl. About 6 CPUs and 12 GB of memory for everything.
set -euo pipefail

K3D_VERSION=v5.8.3                          # the k3d this script is written against
K3S_IMAGE=rancher/k3s:v1.36.4-k3s1          # Kubernetes 1.36 (the chart needs >= 1.31)
ARGOCD_VERSION=v3.5.4
CLUSTER_NAME=${CLUSTER_NAME:-tasador}
REPO_URL=${REPO_URL:-}
REVISION=${REVISION:-}
TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-1800}     # how long to wait for every app to be Synced

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
APPS=(cnpg-operator postgresql seaweedfs kube-prometheus-stack airflow tasador)

need() {
  command -v "$1" >/dev/null || { echo "$1 is not installed: $2" >&2; exit 1; }
}
need docker "https://docs.docker.com/engine/install/"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need k3d "https://k3d.io ($K3D_VERSION)"

found=$(k3d version | sed -n 's/^k3d version \(v[0-9.]*\).*/\1/p')
if [[ $found != "$K3D_VERSION" ]]; then
  echo "note: k3d $found found; this script is written against $K3D_VERSION" >&2
fi

if k3d cluster list "$CLUSTER_NAME" >/dev/null 2>&1; then
  echo "cluster $CLUSTER_NAME exists: reusing it"
else
  # Traefik is left out: the services are reached by port-forward (or an ingress you add)
  k3d cluster create "$CLUSTER_NAME" --image "$K3S_IMAGE" --agents 1 \
    --k3s-arg "--disable=traefik@server:0" --wait
fi
kubectl config use-context "k3d-$CLUSTER_NAME" >/dev/null

echo "installing Argo CD $ARGOCD_VERSION"
kubectl create namespace argocd --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n argocd --server-side --force-conflicts \
  -f "https://raw.githubusercontent.com/argoproj/argo-cd/${ARGOCD_VERSION}/manifests/install.yaml" >/dev/null
# sync waves between the child apps wait for their health (deploy/argocd/bootstrap/)
kubectl -n argocd patch configmap argocd-cm --type merge \
  --patch-file "$ROOT/deploy/argocd/bootstrap/argocd-cm-health.yaml" >/dev/null
kubectl -n argocd rollout status deployment argocd-server --timeout=300s
kubectl -n argocd rollout status deployment argocd-repo-server --timeout=300s
kubectl -n argocd rollout status statefulset argocd-application-controller --timeout=300s

"$ROOT/deploy/scripts/create-secrets.sh"

# the root app, pointing at REPO_URL / REVISION when given
root_manifest=$(cat "$ROOT/deploy/argocd/root.yaml")
if [[ -n $REPO_URL ]]; then
  root_manifest=${root_manifest//https:\/\/github.com\/OWNER\/tasador.git/$REPO_URL}
fi
if [[ -n $REVISION ]]; then
  root_manifest=${root_manifest//targetRevision: main/targetRevision: $REVISION}
fi
if [[ $root_manifest == *"/OWNER/"* ]]; then
  echo "note: deploy/argocd/ still names github.com/OWNER: replace OWNER with your GitHub owner" \
    "in deploy/argocd/ and push, or Argo CD cannot clone the repository" >&2
fi
printf '%s\n' "$root_manifest" | kubectl apply -f - >/dev/null
echo "root application applied; Argo CD syncs the apps wave by wave (-3 to 1)"

# every child app Synced, and Healthy except tasador: its inference API is Ready only once the
# loop has promoted a first model (the DAG's first run, below)
deadline=$((SECONDS + TIMEOUT_SECONDS))
for app in "${APPS[@]}"; do
  while :; do
    sync=$(kubectl -n argocd get application "$app" -o jsonpath='{.status.sync.status}' 2>/dev/null || true)
    health=$(kubectl -n argocd get application "$app" -o jsonpath='{.status.health.status}' 2>/dev/null || true)
    if [[ $sync == Synced && ($health == Healthy || $app == tasador) ]]; then
      echo "$app: $sync, $health"
      break
    fi
    if ((SECONDS > deadline)); then
      echo "timed out waiting for $app (sync: ${sync:-none}, health: ${health:-none});" \
        "see: kubectl -n argocd get applications" >&2
      exit 1
    fi
    sleep 10
  done
done

# the Grafana role may read CLEAN DATA (deploy/grafana/readonly-role.sql, as the superuser in the
# primary's pod); the password goes through psql's stdin, never a command line
primary=$(kubectl -n tasador get pods -l cnpg.io/cluster=tasador-pg,cnpg.io/instanceRole=primary \
  -o jsonpath='{.items[0].metadata.name}')
{
  printf '\\setenv TASADOR_GRAFANA_CLEAN_DB_PASSWORD %s\n' \
    "$(kubectl -n tasador get secret tasador-pg-grafana -o jsonpath='{.data.password}' | base64 -d)"
  cat "$ROOT/deploy/grafana/readonly-role.sql"
} | kubectl -n tasador exec -i "$primary" -c postgres -- \
  psql -X -q -d tasador_clean -v role=grafana_reader -f - >/dev/null
echo "grafana_reader reads CLEAN DATA"

# the first round now, rather than at the next hour
if kubectl -n airflow exec deploy/airflow-scheduler -c scheduler -- \
  airflow dags trigger tasador_loop >/dev/null 2>&1; then
  echo "triggered the DAG tasador_loop"
else
  echo "note: the DAG is not parsed yet; it runs on its schedule (TASADOR_AIRFLOW_SCHEDULE)" >&2
fi

cat <<EOF

tasador runs in k3d cluster $CLUSTER_NAME. Reach each service with a port-forward (one per shell):

  UI              kubectl -n tasador port-forward svc/tasador-ui 8501:8501            http://localhost:8501
  inference API   kubectl -n tasador port-forward svc/tasador-inference-api 8000:8000 http://localhost:8000/docs
  MLflow          kubectl -n tasador port-forward svc/tasador-mlflow 5000:5000        http://localhost:5000
  Airflow         kubectl -n airflow port-forward svc/airflow-api-server 8080:8080    http://localhost:8080
  Grafana         kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80  http://localhost:3000
  Prometheus      kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 9090:9090
  Argo CD         kubectl -n argocd port-forward svc/argocd-server 8443:443          https://localhost:8443

Logins (read them when you need them; nothing here prints them):
  Argo CD  admin / kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d
  Grafana  admin / kubectl -n monitoring get secret grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d
  Airflow  admin / the password the api-server logged: kubectl -n airflow logs deploy/airflow-api-server | grep -i password

The inference API is Ready (and the tasador app Healthy) once the first model is promoted:
  kubectl -n argocd get applications -w
EOF
