"""Objects of an S3-compatible bucket (AWS S3, MinIO, Ceph, R2...) through boto3, by ETag.

Every object under ``prefix`` that a loader reads (by its key's extension) becomes one item, its
version the object's ETag, its source key ``s3://<bucket>/<key>``: an object whose ETag the
collection holds is neither downloaded nor embedded, and a deleted object is deleted from the
collection. The endpoint and credentials come from the source (``endpoint_url``), else the
``sources.s3_*`` settings, else boto3's own chain (``AWS_*`` variables, ``~/.aws``, roles).

Example::

    ragline sources add reports --type s3 --bucket reports --prefix 2025/ \\
        --endpoint-url http://minio:9000 --collection reports
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any, Literal

from pydantic import Field

from ragline.errors import ConfigError, LoaderError
from ragline.ingest.pipeline import SourceItem
from ragline.settings import Settings
from ragline.sources.base import Scan, SourceConfig, check_size, load_bytes, loadable
from ragline.types import Document


class S3Config(SourceConfig):
    """Options of an S3 source: a bucket, a key prefix, and optionally its own endpoint/region."""

    type: Literal["s3"] = "s3"
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    prefix: str = ""
    # None: sources.s3_endpoint_url / sources.s3_region.
    endpoint_url: str | None = None
    region: str | None = None

    def claims(self, name: str) -> tuple[str, ...]:
        return (f"s3://{self.bucket}/{self.prefix}",)


class S3Source:
    """Syncs the objects of a bucket under a prefix (see the module docstring)."""

    def __init__(self, config: S3Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.prefix = config.claims("")[0]
        self._client: Any = None

    def owns(self, key: str, cursor: Mapping[str, Any]) -> bool:
        return key.startswith(self.prefix)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _s3(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise ConfigError("the s3 source needs boto3: pip install 'ragline[s3]'") from exc
            s = self.settings.sources
            creds: dict[str, str] = {}
            if s.s3_access_key_id:
                creds = {
                    "aws_access_key_id": s.s3_access_key_id,
                    "aws_secret_access_key": s.s3_secret_access_key.get_secret_value(),
                }
            timeout = s.http_timeout_s
            self._client = boto3.client(
                "s3",
                endpoint_url=self.config.endpoint_url or s.s3_endpoint_url or None,
                region_name=self.config.region or s.s3_region or None,
                config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}),
                **creds,
            )
        return self._client

    def scan(self, cursor: Mapping[str, Any]) -> Scan:
        scan = Scan(items=iter(()), complete=True)
        scan.items = self._items(scan)
        return scan

    def _items(self, scan: Scan) -> Iterator[SourceItem]:
        from botocore.exceptions import BotoCoreError, ClientError

        pages = (
            self._s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.config.bucket, Prefix=self.config.prefix)
        )
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    key: str = obj["Key"]
                    if key.endswith("/"):
                        continue  # a "folder" marker
                    item = f"s3://{self.config.bucket}/{key}"
                    why = loadable(key)
                    if why is not None:
                        scan.skipped.append((item, why))
                        continue
                    etag = str(obj.get("ETag", "")).strip('"')
                    size = int(obj.get("Size", 0))
                    yield SourceItem(
                        item,
                        f"etag:{etag}",
                        partial(self._load, scan, item, key, size),
                    )
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(
                f"cannot list s3://{self.config.bucket}/{self.config.prefix}: {exc}; check the bucket, "
                "the endpoint (--endpoint-url, sources.s3_endpoint_url) and the credentials"
            ) from exc

    def _load(self, scan: Scan, item: str, key: str, size: int) -> list[Document]:
        from botocore.exceptions import BotoCoreError, ClientError

        check_size(item, size, self.settings.loaders)
        try:
            data = self._s3().get_object(Bucket=self.config.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise LoaderError(item, f"cannot download: {exc}") from exc
        scan.fetched += 1
        return load_bytes(
            item, key, data, self.settings.loaders, {"bucket": self.config.bucket, "object_key": key}
        )
