"""A Prometheus server for the local profile, when a `prometheus` binary is installed.

`tasador up` starts it beside the other services when `prometheus` is on PATH (Debian's package
`prometheus`): it scrapes the local inference API and evaluates tasador's recording and alert rules
(`deploy/prometheus/rules/`, shipped in the wheel too), on 127.0.0.1, with its data in the state
folder. Without the binary nothing changes but one line that says how to get it.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import httpx

from tasador.platform.processes import await_ready, spawn_session, stop_group

logger = logging.getLogger(__name__)

HOW_TO_GET: Final[str] = (
    "Prometheus not started: no `prometheus` on PATH (Debian/Ubuntu: apt-get install prometheus)"
)
SCRAPE_SECONDS: Final[int] = 15
JOB: Final[str] = "tasador-inference"  # the job the alert rules name
_PACKAGE: Final[Path] = Path(__file__).resolve().parents[1]


def prometheus_binary() -> str | None:
    """The `prometheus` executable on PATH, if any."""
    return shutil.which("prometheus")


def rules_folder() -> Path | None:
    """tasador's rule files: in the wheel (`tasador/prometheus-rules`) or, from a source
    checkout, `deploy/prometheus/rules`; None when neither is there."""
    for folder in (_PACKAGE / "prometheus-rules", _PACKAGE.parents[1] / "deploy/prometheus/rules"):
        if folder.is_dir() and any(folder.glob("*.yml")):
            return folder
    return None


def local_config(
    inference_api: str, rules: Path | None, every_seconds: float = SCRAPE_SECONDS
) -> dict[str, Any]:
    """The configuration of the local server: the deployed one's job, a local target.

    `inference_api` is host:port; it is scraped and the rules evaluated every `every_seconds`.
    Written as JSON, which Prometheus reads as the YAML it is.
    """
    return {
        "global": {
            "scrape_interval": f"{every_seconds:g}s",
            "evaluation_interval": f"{every_seconds:g}s",
        },
        "rule_files": [str(rules / "*.yml")] if rules is not None else [],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [inference_api]}],
            }
        ],
    }


class LocalPrometheus:
    """`prometheus` on 127.0.0.1:`port`, its configuration and data under `folder`, scraping
    `inference_api` (host:port) every `every_seconds` with the rules of `rules`."""

    host = "127.0.0.1"

    def __init__(
        self,
        binary: str,
        folder: Path,
        port: int,
        inference_api: str,
        *,
        every_seconds: float = SCRAPE_SECONDS,
        rules: Path | None = None,
    ) -> None:
        self.binary = binary
        self.folder = folder
        self.port = port
        self.inference_api = inference_api
        self.every_seconds = every_seconds
        self.rules = rules or rules_folder()
        self.log_file = folder.with_name("prometheus.log")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def config_file(self) -> Path:
        return self.folder / "prometheus.yml"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.folder / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--storage.tsdb.retention.time=15d",
        ]

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 60.0) -> None:
        """Write the configuration, start the server, wait until it is ready."""
        if self.is_running():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        config = local_config(self.inference_api, self.rules, self.every_seconds)
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")
        self._process = spawn_session(self.command(), {}, self.log_file)
        try:
            await_ready(self._process, self.is_ready, timeout, "Prometheus", self.log_file)
        except (RuntimeError, TimeoutError):
            self._process = None
            raise
        logger.info("Prometheus on %s", self.url)

    def stop(self, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        stop_group(process, timeout)
