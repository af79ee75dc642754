"""The blob service over datastore folders, through azure-storage-blob's own client with the
mock's transport: staged blocks, ranged reads, no overwrite without asking, metadata, and the
one datastore path rule."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobServiceClient

from champion.local.mock_v2 import MockAzureAIML, UnmockedServiceCall
from champion.local.store import DEFAULT_DATASTORE


def container(aml: MockAzureAIML) -> Any:
    store = aml.store.default_datastore()
    service = BlobServiceClient(
        f"https://{store.account}.blob.core.windows.net",
        credential="?sv=x&sig=y",
        transport=aml.transport,
        max_single_put_size=4 * 1024,
        max_block_size=4 * 1024,
        max_single_get_size=4 * 1024,
        max_chunk_get_size=4 * 1024,
    )
    return service.get_container_client(store.container)


def test_a_large_blob_is_staged_in_blocks_and_read_back_in_ranges(aml: MockAzureAIML) -> None:
    data = bytes(range(256)) * 100  # 25.6 KB: seven blocks of 4 KiB
    client = container(aml)
    client.upload_blob("models/big.bin", data, metadata={"upload_status": "completed"})
    operations = {c.operation for c in aml.calls}
    assert {"Blob.stageBlock", "Blob.commitBlockList"} <= operations
    assert client.download_blob("models/big.bin").readall() == data
    assert sum(c.operation == "Blob.download" for c in aml.calls) > 1  # ranged reads
    stored = aml.store.datastore_file(DEFAULT_DATASTORE, "models/big.bin")
    assert stored.read_bytes() == data
    assert client.get_blob_client("models/big.bin").get_blob_properties().metadata == {
        "upload_status": "completed"
    }


def test_an_existing_blob_is_not_overwritten_unless_asked(aml: MockAzureAIML) -> None:
    client = container(aml)
    client.upload_blob("a.txt", b"first")
    with pytest.raises(ResourceExistsError):
        client.upload_blob("a.txt", b"second")
    client.upload_blob("a.txt", b"second", overwrite=True)
    assert client.download_blob("a.txt").readall() == b"second"


def test_listing_walks_folders_by_prefix_and_delimiter(aml: MockAzureAIML) -> None:
    client = container(aml)
    for name in ("m/a.txt", "m/sub/b.txt", "other.txt"):
        client.upload_blob(name, b"x")
    assert [b.name for b in client.list_blobs(name_starts_with="m/")] == ["m/a.txt", "m/sub/b.txt"]
    walked = client.walk_blobs(name_starts_with="m/", delimiter="/")
    assert sorted(b.name for b in walked) == ["m/a.txt", "m/sub/"]  # a folder once


def test_a_blob_name_leaving_its_datastore_is_refused(aml: MockAzureAIML) -> None:
    with pytest.raises(HttpResponseError, match="leaves datastore"):
        container(aml).upload_blob("..\\..\\escape.txt", b"x")  # the SDK splits at \ too
    with pytest.raises(UnmockedServiceCall):  # the URL's own ../ resolve above the container
        container(aml).upload_blob("../../escape.txt", b"x")
    assert not list(aml.store.root.rglob("escape.txt"))
