"""The local platform keeps its services up, and a killed `tasador up` leaves nothing behind
that the next one does not clean up. Real PostgreSQL, MLflow and inference API processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fixtures.http import free_port, unused_url
from tasador.cli import app
from tasador.platform.local import LocalPlatform, local_postgres, resolve_urls
from tasador.platform.prometheus import HOW_TO_GET
from tasador.platform.supervision import PIDS, read_restarts
from tasador.settings import get_settings

pytestmark = pytest.mark.integration
# `tasador up` starts Prometheus too where it is installed (Debian's package; CI installs it)
PROMETHEUS = {"prometheus"} if shutil.which("prometheus") else set()


def wait_until(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        "TASADOR_STATE_DIR": str(tmp_path / "state"),
        "TASADOR_DB_EMBEDDED_PORT": str(free_port()),
        "TASADOR_MLFLOW_PORT": str(free_port()),
        "TASADOR_SERVING_PORT": str(free_port()),
        "TASADOR_UI_PORT": str(free_port()),
        "TASADOR_PROMETHEUS_PORT": str(free_port()),
        "TASADOR_DATA_API_URL": unused_url(),  # no simulator: these tests need no batches
        "TASADOR_DATA_API_ATTEMPTS": "100",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    umask = os.umask(0o022)
    os.umask(umask)
    yield env
    os.umask(umask)
    get_settings.cache_clear()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()[:40]


def test_crashed_services_are_restarted_and_reported_and_prometheus_watches_the_api(
    local_env: dict[str, str],
) -> None:
    """On one platform (a start is a PostgreSQL, an MLflow server, the API, the UI, Prometheus):
    PostgreSQL, then MLflow, then Prometheus crash, and each is restarted and reported; and
    Prometheus scrapes the inference API with the alert rules loaded."""
    settings = get_settings()
    platform = LocalPlatform.start(settings)
    try:
        assert platform.postgres is not None
        assert platform.mlflow is not None
        postmaster = int((platform.postgres.cluster_dir / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)  # a crash, not a shutdown
        wait_until(lambda: "PostgreSQL" in read_restarts(settings.state_dir.resolve()))
        wait_until(platform.postgres.is_running)

        mlflow_pid = platform.mlflow.pid
        assert mlflow_pid is not None
        os.killpg(mlflow_pid, signal.SIGKILL)
        wait_until(
            lambda: "the MLflow tracking server" in read_restarts(settings.state_dir.resolve())
        )
        assert platform.mlflow.pid != mlflow_pid
        assert platform.mlflow.is_healthy()

        restarts = read_restarts(settings.state_dir.resolve())
        assert restarts["PostgreSQL"]["restarts"] >= 1
        assert restarts["the MLflow tracking server"]["restarts"] >= 1
        status = CliRunner().invoke(app, ["status"], env={"COLUMNS": "200"})
        assert status.exit_code == 0, status.output
        assert "PostgreSQL stopped and was restarted" in status.output
        assert "the MLflow tracking server stopped and was restarted" in status.output

        if PROMETHEUS:
            _prometheus_watches_the_api_and_is_restarted(platform, local_env)
        else:  # `up` says how to get it (and so does the test below, on its own)
            assert platform.prometheus is None
            assert platform.prometheus_note == HOW_TO_GET
    finally:
        platform.stop()
    assert not platform.postgres.is_running()
    assert _pids(Path(local_env["TASADOR_STATE_DIR"])) == {}


def _prometheus_watches_the_api_and_is_restarted(
    platform: LocalPlatform, local_env: dict[str, str]
) -> None:
    """Prometheus scrapes the platform's inference API with the rules loaded; killed, it is
    restarted and reported."""
    settings = platform.settings
    assert platform.prometheus is not None
    assert platform.prometheus_note is None
    url = platform.prometheus.url
    assert url == f"http://127.0.0.1:{local_env['TASADOR_PROMETHEUS_PORT']}"

    def inference_scraped() -> bool:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=5).json()["data"]
        return any(
            t["labels"]["job"] == "tasador-inference"
            and t["scrapeUrl"].startswith(platform.urls.inference_api)
            and t["health"] == "up"
            for t in targets["activeTargets"]
        )

    wait_until(inference_scraped, timeout=60)
    groups = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"TasadorApiDown", "TasadorServingTrafficDrifted"} <= rules
    config = platform.prometheus.config_file
    assert config.parent.stat().st_mode & 0o077 == 0  # the state folder's, its owner's only

    pid = platform.prometheus.pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: "Prometheus" in read_restarts(settings.state_dir.resolve()))
    wait_until(platform.prometheus.is_ready)


START = (
    "from tasador.platform.local import LocalPlatform\n"
    "from tasador.settings import get_settings\n"
    "LocalPlatform.start(get_settings())\n"
    "print('up', flush=True)\n"
    "import time; time.sleep(600)\n"
)


def _pids(state: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (state / PIDS).glob("*.pid")}


def test_the_next_up_stops_what_a_killed_one_left(local_env: dict[str, str]) -> None:
    state = Path(local_env["TASADOR_STATE_DIR"])
    killed = subprocess.Popen(
        [sys.executable, "-c", START], stdout=subprocess.PIPE, env={**os.environ, **local_env}
    )
    assert killed.stdout is not None
    assert killed.stdout.readline().strip() == b"up"
    left = _pids(state)
    assert set(left) == {"mlflow", "serving", "ui", *PROMETHEUS}
    killed.kill()  # SIGKILL: nothing of it could stop its services
    killed.wait(30)
    assert all(_alive(pid) for pid in left.values())
    assert local_postgres(get_settings()).is_running()

    platform = LocalPlatform.start(get_settings())
    try:
        assert {name.split()[0] for name in platform.leftovers} == {
            "mlflow",
            "serving",
            "ui",
            "PostgreSQL",
            *PROMETHEUS,
        }
        assert not any(_alive(pid) for pid in left.values())
        assert platform.mlflow is not None
        assert platform.mlflow.is_healthy()
    finally:
        platform.stop()
    assert _pids(state) == {}


def test_sigterm_stops_up_and_its_services_like_ctrl_c(local_env: dict[str, str]) -> None:
    state = Path(local_env["TASADOR_STATE_DIR"])
    up = subprocess.Popen(
        [sys.executable, "-m", "tasador", "up", "--no-wait"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **local_env},
        start_new_session=True,
    )  # fmt: skip
    try:
        # up, and in the loop: retrying the unreachable data API
        wait_until(lambda: {"mlflow", "serving"} <= set(_pids(state)), timeout=180)
        started = _pids(state)
        time.sleep(2)
        up.send_signal(signal.SIGTERM)
        up.wait(120)
    finally:
        if up.poll() is None:
            up.kill()
    assert not any(_alive(pid) for pid in started.values())
    assert not local_postgres(get_settings()).is_running()
    assert _pids(state) == {}


def test_without_prometheus_up_says_how_to_get_it(
    local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no prometheus there
    settings = get_settings()
    platform = LocalPlatform(settings=settings, urls=resolve_urls(settings))
    platform._start_prometheus(settings.state_dir.resolve(), lambda _: None)
    assert platform.prometheus is None
    assert platform.prometheus_note == HOW_TO_GET
    assert "apt-get install prometheus" in HOW_TO_GET


def test_prometheus_on_a_taken_port_is_skipped_with_the_setting_named(
    local_env: dict[str, str],
) -> None:
    if not PROMETHEUS:
        pytest.skip("no `prometheus` on PATH (Debian package `prometheus`; .ci/run installs it)")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        os.environ["TASADOR_PROMETHEUS_PORT"] = str(port)  # monkeypatched by local_env
        get_settings.cache_clear()
        settings = get_settings()
        platform = LocalPlatform(settings=settings, urls=resolve_urls(settings))
        platform._start_prometheus(settings.state_dir.resolve(), lambda _: None)
    assert platform.prometheus is None
    assert platform.prometheus_note is not None
    assert f"127.0.0.1:{port} is in use" in platform.prometheus_note
    assert "TASADOR_PROMETHEUS_PORT" in platform.prometheus_note
