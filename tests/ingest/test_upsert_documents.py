"""Documents built in Python: upsert by id, replace, delete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.types import Document
from tests.helpers import FAST_AND_REAL, fast_engine


@FAST_AND_REAL
def test_upsert_replaces_only_the_given_ids(tmp_path: Path, open_engine: Callable[..., Engine]) -> None:
    engine = open_engine(tmp_path / "data")
    docs = [
        Document(id="faq-1", source="faq", text="Refunds take ten business days.", metadata={"lang": "en"}),
        Document(
            id="faq-2", source="faq", text="Passwords are reset from the login page.", metadata={"lang": "en"}
        ),
        Document(id="faq-3", source="faq", text="Die Rechnung kommt monatlich.", metadata={"lang": "de"}),
    ]
    report = engine.upsert_documents(docs)
    assert report.documents_indexed == 3 and report.chunks_indexed == 3
    assert engine.search("refund", mode="keyword")[0].chunk.doc_id == "faq-1"
    assert [h.chunk.doc_id for h in engine.search("invoice", filters={"lang": "de"})] == ["faq-3"]

    again = engine.upsert_documents(
        [Document(id="faq-1", source="faq", text="Refunds now take three days.\x00", metadata={"lang": "en"})]
    )
    assert again.chunks_embedded == 1
    hits = engine.search("refunds", mode="keyword", top_k=5)
    assert [h.chunk.text for h in hits] == ["Refunds now take three days."]
    assert engine.store().document_ids() == {"faq-1", "faq-2", "faq-3"}
    assert engine.delete(["faq-2"]) == 1
    assert engine.store().document_ids() == {"faq-1", "faq-3"}


def test_bad_documents_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    with pytest.raises(ConfigError, match="appears twice"):
        engine.upsert_documents(
            [Document(id="a", source="s", text="x"), Document(id="a", source="s", text="y")]
        )
    with pytest.raises(ConfigError, match="metadata keys"):
        engine.upsert_documents([Document(id="a", source="s", text="x", metadata={"bad key": 1})])
    assert engine.store().document_ids() == set()
