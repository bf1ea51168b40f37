#!/usr/bin/env bash
# Writes deploy/.env from deploy/.env.example, every empty value a fresh random secret: hex for
# passwords, tokens and keys, URL-safe base64 of 32 bytes for Airflow's Fernet key. The file is
# its owner's only (git ignores it); an existing one is never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -e .env ]]; then
  echo "deploy/.env exists: not overwritten (remove it to start afresh)" >&2
  exit 1
fi
umask 077
while IFS= read -r line || [[ -n $line ]]; do
  if [[ $line =~ ^([A-Z0-9_]+)=$ ]]; then
    name=${BASH_REMATCH[1]}
    if [[ $name == *FERNET_KEY ]]; then
      value=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_')
    else
      value=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    fi
    printf '%s=%s\n' "$name" "$value"
  else
    printf '%s\n' "$line"
  fi
done < .env.example > .env
echo "wrote deploy/.env ($(grep -c '^[A-Z]' .env) settings)"
