#!/usr/bin/env bash
# Airflow's one-shot set-up in the single-host profile, before its api-server, scheduler,
# dag-processor and triggerer start (compose service `airflow-init`, at every `up`; both steps are
# idempotent):
#   1. bring the metadata database to Airflow's schema (`airflow db migrate`);
#   2. give the UI's `admin` user (the simple auth manager's, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS)
#      the password of AIRFLOW_ADMIN_PASSWORD, in the file the api-server reads
#      (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE, mode 0600). Unset, Airflow would make one
#      up and print it in its log.
# The password goes from the environment to the file inside Python: it is on no command line.
set -euo pipefail

: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in deploy/.env}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"

airflow db migrate

python - <<'PYTHON'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as out:
    json.dump({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}, out)
    out.write("\n")
path.chmod(0o600)
print(f"airflow-init: the password of the UI's admin user is in {path}")
PYTHON
