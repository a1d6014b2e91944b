"""MilvusStore on Milvus Lite against the shipped Store contract, for the capabilities it declares
(core, dense, keyword, token states, vector fetch); sentence search it does not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragline.store.base import capabilities
from ragline.store.milvus import MilvusStore
from ragline.testing.store_contract import (
    CoreContract,
    DenseContract,
    KeywordContract,
    TokenStateContract,
    VectorFetchContract,
)

pytestmark = pytest.mark.integration


class TestMilvusContract(
    CoreContract, DenseContract, KeywordContract, TokenStateContract, VectorFetchContract
):
    @pytest.fixture(autouse=True)
    def _server(self, milvus_uri: str) -> None:
        self.uri = milvus_uri

    def make_store(self, root: Path, dimension: int, **options: Any) -> MilvusStore:
        # ann_threshold does not apply: Milvus decides itself when a segment is indexed.
        return MilvusStore(root, dimension=dimension, model_id="test-model", uri=self.uri)


def test_declares_exactly_what_it_has(tmp_path: Path, milvus_uri: str) -> None:
    store = MilvusStore(tmp_path / "c", dimension=4, model_id="m", uri=milvus_uri)
    assert capabilities(store) == {"dense search", "keyword search", "token states", "vector fetch"}
