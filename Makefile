# One vocabulary for laptops and CI. Every target builds or refreshes .venv from uv.lock first.
UV_VERSION ?= 0.13.8
PYTHON ?= python3
UV := .venv-uv/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

.PHONY: run test lint bench env clean

$(UV):
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

env: $(UV)
	$(UV) sync --frozen --python $(PYTHON)

run: env ## the whole loop on the local platform, then keep the services up
	.venv/bin/tasador up

test: env ## the whole suite against real services
	.venv/bin/python -m pytest $(PYTEST_ARGS)

lint: env
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy

bench: env ## speed against peers; installs wrk (Debian) where it can, so the servers are measured
	bash .ci/debian-packages wrk
	.venv/bin/python -m bench

clean:
	rm -rf .venv .venv-uv .tasador
