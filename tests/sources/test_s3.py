"""The S3 source against moto's S3-protocol server on a loopback port: objects by ETag (a second
sync downloads and embeds nothing), replaced and deleted objects, prefixes, tenant scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.types import Principal
from tests.helpers import fast_engine
from tests.sources.conftest import add_source, counts, readable

pytestmark = pytest.mark.integration

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_engine(tmp_path: Any, endpoint: str) -> Engine:
    # Credentials from settings (moto takes any); the endpoint from the source or the settings.
    return fast_engine(
        tmp_path / "data",
        sources={"s3_access_key_id": "test", "s3_secret_access_key": "test", "s3_region": "us-east-1"},
    )


@pytest.fixture
def bucket(endpoint: str, request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    name = "docs-" + request.node.name.lower().replace("_", "-")[:40]
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="guide/intro.md", Body=b"# Intro\n\nThe lynx guide starts here.\n")
    client.put_object(Bucket=name, Key="guide/setup.txt", Body=b"Setup needs a heron key.\n")
    client.put_object(Bucket=name, Key="other/misc.md", Body=b"# Misc\n\nAbout mongooses.\n")
    client.put_object(Bucket=name, Key="guide/photo.jpg", Body=b"\xff\xd8 not loaded")
    yield client, name


def test_objects_sync_by_etag(s3_engine: Engine, endpoint: str, bucket: tuple[Any, str]) -> None:
    client, name = bucket
    add_source(s3_engine, "b", {"type": "s3", "bucket": name, "prefix": "guide/", "endpoint_url": endpoint})
    first = s3_engine.sync_source("b")
    assert counts(first) == {
        "fetched": 2,
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
    }
    assert readable(s3_engine, "c") == {f"s3://{name}/guide/intro.md", f"s3://{name}/guide/setup.txt"}
    assert (f"s3://{name}/guide/photo.jpg", "unsupported file type '.jpg'") in first.skipped
    hit = s3_engine.search("heron key", collection="c", mode="keyword")[0]
    assert hit.chunk.metadata["object_key"] == "guide/setup.txt"

    again = s3_engine.sync_source("b")
    # Same ETags: no object downloaded, nothing embedded.
    assert counts(again) == {
        "fetched": 0,
        "added": 0,
        "updated": 0,
        "unchanged": 2,
        "deleted": 0,
        "failed": 0,
    }
    assert again.chunks_embedded == 0

    client.put_object(Bucket=name, Key="guide/intro.md", Body=b"# Intro\n\nThe lynx guide now covers ibex.\n")
    client.delete_object(Bucket=name, Key="guide/setup.txt")
    client.put_object(Bucket=name, Key="guide/more/faq.md", Body=b"# FAQ\n\nQuokkas.\n")
    third = s3_engine.sync_source("b")
    assert counts(third) == {
        "fetched": 2,
        "added": 1,
        "updated": 1,
        "unchanged": 0,
        "deleted": 1,
        "failed": 0,
    }
    assert readable(s3_engine, "c") == {f"s3://{name}/guide/intro.md", f"s3://{name}/guide/more/faq.md"}
    assert s3_engine.search("ibex", collection="c", mode="keyword")
    assert not s3_engine.search("heron", collection="c", mode="keyword")


def test_endpoint_from_settings_and_tenant_scope(
    tmp_path: Any, endpoint: str, bucket: tuple[Any, str]
) -> None:
    _, name = bucket
    engine = fast_engine(
        tmp_path / "data",
        sources={
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": "test",
            "s3_secret_access_key": "test",
            "s3_region": "us-east-1",
        },
    )
    add_source(engine, "b", {"type": "s3", "bucket": name}, tenant="acme", groups=("ops",))
    assert engine.sync_source("b", tenant="acme").added == 3
    assert len(readable(engine, "c", Principal("acme", ("ops",)))) == 3
    assert readable(engine, "c", Principal("globex", ("ops",))) == set()
    assert readable(engine, "c", Principal("acme")) == set()


def test_a_missing_bucket_is_named(s3_engine: Engine, endpoint: str) -> None:
    add_source(s3_engine, "b", {"type": "s3", "bucket": "no-such-bucket", "endpoint_url": endpoint})
    with pytest.raises(ConfigError, match=r"cannot list s3://no-such-bucket/.*NoSuchBucket"):
        s3_engine.sync_source("b")
