"""The S3 bucket: made when missing, checked, listed. The MLflow server writes the artifacts
(clients go through its proxy and need no S3 keys); these calls are for the platform and tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasador.platform.seaweedfs import S3Credentials


def s3_client(endpoint_url: str | None, credentials: S3Credentials | None) -> Any:
    """A boto3 S3 client; without `credentials`, boto3's own chain (environment, profile, role)."""
    import boto3
    from botocore.config import Config

    keys = (
        {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
        }
        if credentials is not None
        else {}
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
        **keys,
    )


def bucket_exists(endpoint_url: str | None, credentials: S3Credentials | None, bucket: str) -> bool:
    """Whether `bucket` exists and these credentials may use it."""
    from botocore.exceptions import ClientError

    try:
        s3_client(endpoint_url, credentials).head_bucket(Bucket=bucket)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
            return False
        raise
    return True


def ensure_bucket(endpoint_url: str | None, credentials: S3Credentials | None, bucket: str) -> bool:
    """Create `bucket` unless it exists (idempotent); returns whether it was created."""
    from botocore.exceptions import ClientError

    if bucket_exists(endpoint_url, credentials, bucket):
        return False
    try:
        s3_client(endpoint_url, credentials).create_bucket(Bucket=bucket)
    except ClientError as err:  # made meanwhile by another process: as good as made by us
        if err.response.get("Error", {}).get("Code") not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise
        return False
    return True


def list_keys(
    endpoint_url: str | None, credentials: S3Credentials | None, bucket: str, prefix: str = ""
) -> list[str]:
    """Every object key under `prefix`, sorted."""
    paginator = s3_client(endpoint_url, credentials).get_paginator("list_objects_v2")
    return sorted(
        item["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    )
