"""The embedded PostgreSQL server starts, serves SQL, restarts on the same data, and stops."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest

from fixtures.postgres import free_port
from tasador.platform.local import local_postgres, local_postgres_running
from tasador.platform.postgres import (
    ADMIN_USER,
    DB_USER,
    SERVICE_USER,
    STATE_MARKER,
    EmbeddedPostgres,
    remove_abandoned_clusters,
)
from tasador.settings import get_settings

pytestmark = pytest.mark.integration


def test_server_keeps_data_across_restart(tmp_path: Path) -> None:
    server = EmbeddedPostgres(data_dir=tmp_path / "data", port=free_port(), durable=False)
    server.start()
    try:
        server.create_database("keep")
        server.create_database("keep")  # idempotent
        with psycopg.connect(server.dsn("keep"), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (41), (1)")
        server.stop()
        assert not server.is_running()
        server.start()
        with psycopg.connect(server.dsn("keep")) as conn:
            row = conn.execute("SELECT sum(x) FROM t").fetchone()
        assert row == (42,)
    finally:
        server.destroy()
    assert not (tmp_path / "data").exists()


def test_make_database_gives_isolated_databases(make_database) -> None:
    first, second = make_database("a"), make_database("b")
    assert first != second
    dsn = first.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("a_")


def _modes(path: Path) -> list[tuple[str, int]]:
    return [(str(p), stat.S_IMODE(p.stat().st_mode)) for p in path.resolve().parents]


def test_every_connection_needs_the_generated_password_and_the_owner_is_no_superuser(
    postgres: EmbeddedPostgres, make_database
) -> None:
    url = make_database("auth")
    assert stat.S_IMODE(postgres.passfile.stat().st_mode) == 0o600
    assert postgres.password() not in url  # the URL names the password file, not the secret
    bare = f"postgresql://{DB_USER}@127.0.0.1:{postgres.port}/postgres"
    for attempt in (bare, f"{bare}?password=guess", bare.replace(DB_USER, ADMIN_USER)):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(attempt, passfile="/nonexistent", connect_timeout=5).close()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert superuser.fetchone() == (False,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
    socket_dir = postgres.runtime_dir / "socket"
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700


def test_starting_changes_no_permission_outside_its_folders(tmp_path: Path) -> None:
    data = tmp_path / "state" / "postgres"
    data.parent.mkdir()
    before = _modes(data)
    server = EmbeddedPostgres(data_dir=data, port=free_port(), durable=False)
    server.start()
    try:
        assert _modes(data) == before
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        if os.geteuid() == 0:  # the server runs as its own user, in its own group only
            pid = int((server.cluster_dir / "postmaster.pid").read_text().split()[0])
            status = dict(
                line.split(":\t", 1)
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            )
            service = pwd.getpwnam(SERVICE_USER)
            assert status["Uid"].split()[0] == str(service.pw_uid)
            assert status["Gid"].split()[0] == str(service.pw_gid)
            assert "0" not in status["Groups"].split()
        # a parent closed by someone else (as a second pytest run does to its base folder)
        # does not take the server's data away
        tmp_path.chmod(0o700)
        server.stop()
        server.start()
        with psycopg.connect(server.dsn(), connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        tmp_path.chmod(0o700)
        server.destroy()


def test_a_command_run_beside_a_running_platform_leaves_its_database_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASADOR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TASADOR_DB_EMBEDDED_PORT", str(free_port()))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        server = local_postgres(settings)
        assert server.start()
        try:
            with local_postgres_running(settings):
                assert server.is_running()
            assert server.is_running()  # not ours to stop
            server.stop()
            with local_postgres_running(settings):  # stopped: started for the command, and
                assert server.is_running()
            assert not server.is_running()  # stopped again
        finally:
            server.destroy()
    finally:
        get_settings.cache_clear()


def test_a_cluster_of_an_older_tasador_is_secured_and_keeps_its_data(tmp_path: Path) -> None:
    port = free_port()
    # An older tasador's cluster: the data folder itself, trusting every local user, its owner a
    # superuser. As root it opened parent folders to the server's user; here a folder that user
    # owns stands in for that.
    base = Path(tempfile.mkdtemp(dir="/var/tmp")) if os.geteuid() == 0 else tmp_path
    data = base / "postgres"
    server = EmbeddedPostgres(data_dir=data, port=port, durable=False)
    try:
        service = server._service()
        data.mkdir()
        if service is not None:
            for path in (base, data):
                os.chown(path, service.pw_uid, service.pw_gid)
        server._cmd("initdb", "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {port} -k {data}"
        server._cmd(
            "pg_ctl", "-D", str(data), "-l", str(data / "log"), "-o", options, "-w", "start"
        )
        trusted = f"postgresql://{DB_USER}@127.0.0.1:{port}/postgres"
        with psycopg.connect(trusted, autocommit=True) as conn:
            conn.execute("CREATE DATABASE keep")
        with psycopg.connect(trusted.replace("/postgres", "/keep"), autocommit=True) as conn:
            conn.execute("CREATE TABLE t AS SELECT 42 AS x")

        assert server.start()  # the old server, left running: stopped, kept, copied, secured
        assert (base / "postgres.before-passwords" / "PG_VERSION").exists()

        with psycopg.connect(server.dsn("keep")) as conn:
            assert conn.execute("SELECT x FROM t").fetchone() == (42,)
            superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            assert superuser.fetchone() == (False,)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(trusted, passfile="/nonexistent", connect_timeout=5).close()
    finally:
        server.destroy()
        shutil.rmtree(base, ignore_errors=True)


def test_a_state_folder_removed_under_a_live_server_starts_afresh(tmp_path: Path) -> None:
    data = tmp_path / "state" / "postgres"
    first = EmbeddedPostgres(data_dir=data, port=free_port(), durable=False)
    first.start()
    first.create_database("gone")
    shutil.rmtree(data.parent)  # as a removed tmp folder, or `rm -rf .tasador`, leaves it
    again = EmbeddedPostgres(data_dir=data, port=free_port(), durable=False)
    try:
        if os.geteuid() != 0:  # the cluster went with the folder: nothing is left to replace
            assert not again.initialised
        assert again.start()
        with psycopg.connect(again.dsn(), connect_timeout=5) as conn:
            rows = conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'gone'")
            assert rows.fetchone() == (0,)
    finally:
        again.destroy()
        first.stop(mode="immediate")


@pytest.mark.skipif(
    os.geteuid() != 0, reason="only as root does a cluster live apart from its state"
)
def test_clusters_of_removed_state_folders_are_deleted(tmp_path: Path) -> None:
    """A removed state folder (a test's tmp folder, `rm -rf .tasador`) does not leave its cluster
    on the disk: the next start deletes it, stopping its server if it still runs."""
    kept = EmbeddedPostgres(data_dir=tmp_path / "kept" / "pg", port=free_port(), durable=False)
    stopped = EmbeddedPostgres(
        data_dir=tmp_path / "stopped" / "pg", port=free_port(), durable=False
    )
    running = EmbeddedPostgres(
        data_dir=tmp_path / "running" / "pg", port=free_port(), durable=False
    )
    try:
        for server in (kept, stopped, running):
            server.start()
        stopped.stop()
        for server in (stopped, running):
            shutil.rmtree(server.data_dir.parent)
        assert running.runtime_dir.exists()
        removed = remove_abandoned_clusters()
        assert set(removed) == {stopped.runtime_dir, running.runtime_dir}
        assert not stopped.runtime_dir.exists()
        assert not running.runtime_dir.exists()
        assert kept.is_running()
        assert (kept.runtime_dir / STATE_MARKER).read_text() == str(kept.data_dir.resolve())
        with psycopg.connect(kept.dsn(), connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        kept.destroy()
