"""Ingest keeps each chunk's token states (chunking.token_states) from its own model run, and
late-interaction reranking reads them instead of running the model over the candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ragline
from ragline.embedding.tokens import codebook_for, pack_tokens, token_state_format, unpack_tokens
from ragline.errors import ConfigError
from ragline.rerank.late_interaction import LateInteractionReranker
from ragline.settings import load_settings
from ragline.text.tokenizer import packaged_model_dir
from ragline.types import Document

from . import NOTES

pytestmark = pytest.mark.integration

DOCS = [
    *NOTES,
    Document(id="c", source="notes", title="Errors", text="Error E4021 means the disk quota is exceeded."),
]

LATE = {"rerank": ["late-interaction"], "late_interaction_weight": 0.5}


# The form before issue 26 (every wordpiece, int8): what older collections hold.
INT8 = {"token_states": "on", "token_state_format": "int8", "token_state_tokens": "all"}


def _assert_states_match_the_model(engine: ragline.Engine, collection: str | None = None) -> None:
    store = engine.store(collection)
    chunks = store.all_chunks()
    stored = store.fetch_token_states([c.id for c in chunks])
    cfg = engine.settings.chunking
    content = cfg.token_state_tokens == "content"
    _, fresh = engine.embedder.inner.embed_with_tokens([c.embed_text for c in chunks], content_only=content)
    book = codebook_for(engine.embedder.model_id) if cfg.token_state_format == "pq" else None
    for got, want in zip(stored, fresh, strict=True):
        assert got is not None and got.shape == want.shape
        if book is not None:  # the model's states through the shipped codebook
            expected = unpack_tokens(pack_tokens(want, book), want.shape[1])
            # A run batched differently moves a state by ~1e-5, which can tip a near-tie to the
            # neighbouring centroid of one group: rows agree closely, not exactly.
            cos = (got * expected).sum(axis=1)
            assert cos.mean() > 0.99 and cos.min() > 0.9, cos
            continue
        step = np.abs(want).max(axis=1, keepdims=True) / 127  # int8 storage: half a step per value
        assert np.all(np.abs(got - want) <= step / 2 + 1e-4)


@pytest.mark.parametrize("form", ["default", "int8"])
def test_ingest_stores_token_states_and_reranking_reads_them(tmp_path: Path, form: str) -> None:
    chunking = INT8 if form == "int8" else {"token_states": "on"}
    engine = ragline.open(tmp_path / "data", chunking=chunking, retrieval=LATE)
    report = engine.upsert_documents(DOCS)
    assert report.chunks_embedded == 3
    _assert_states_match_the_model(engine)
    retriever = engine.retriever()
    reranker = retriever.rerankers[0]  # type: ignore[attr-defined]
    assert isinstance(reranker, LateInteractionReranker) and reranker.states is engine.store()
    hits = retriever.run("error code E4021", 3)
    assert hits[0].chunk.doc_id == "c"
    info = reranker.cache_info()
    assert (info.stored, info.misses) == (3, 0)  # no passage went through the model


def test_without_token_states_the_reranker_encodes_and_ranks_the_same(tmp_path: Path) -> None:
    # Every wordpiece's states (the reranker encodes those), so only int8's rounding differs.
    stored = ragline.open(tmp_path / "with", chunking=INT8, retrieval=LATE)
    plain = ragline.open(tmp_path / "without", chunking={"token_states": "off"}, retrieval=LATE)
    for engine in (stored, plain):
        engine.upsert_documents(DOCS)
    assert plain.store().fetch_token_states([c.id for c in plain.store().all_chunks()]) == [None] * 3
    query = "what replaced the gas boiler"
    a, b = stored.retriever().run(query, 3), plain.retriever().run(query, 3)
    assert [h.chunk.id for h in a] == [h.chunk.id for h in b]
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=2e-3)
    info = plain.retriever().rerankers[0].cache_info()  # type: ignore[attr-defined]
    assert info.stored == 0 and info.misses == 3


def test_re_embedding_keeps_token_states(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data", chunking={"token_states": "on"})
    engine.upsert_documents(DOCS)
    engine.reembed(engine.settings.collection, packaged_model_dir())
    _assert_states_match_the_model(engine)


def test_token_states_need_the_onnx_backend() -> None:
    with pytest.raises(ConfigError, match=r"chunking\.token_states"):
        load_settings(
            chunking={"token_states": "on"},
            embedding={"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "dimension": 8},
        )


def test_a_chunk_whose_header_changed_gets_new_token_states(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data", chunking={"token_states": "on"})
    engine.upsert_documents(DOCS)
    # Same text, same position, so the same chunk id: only the title heading the embedded text moved.
    renamed = Document(id="c", source="notes", title="Quota errors", text=DOCS[2].text)
    report = engine.upsert_documents([*DOCS[:2], renamed])
    assert report.chunks_embedded == 1  # a and b kept their states; c went through the model
    _assert_states_match_the_model(engine)


def test_a_collection_of_int8_states_opens_and_takes_new_states_in_the_default_form(tmp_path: Path) -> None:
    old = ragline.open(tmp_path / "data", chunking=INT8, retrieval=LATE)
    old.upsert_documents(DOCS[:2])
    del old
    # The same collection under today's defaults (pq, content words): the int8 states still read.
    engine = ragline.open(tmp_path / "data", chunking={"token_states": "on"}, retrieval=LATE)
    report = engine.upsert_documents([DOCS[2]])
    assert report.chunks_embedded == 1
    blobs = engine.store()._view().ds.to_table(columns=["id", "token_states"]).to_pylist()  # type: ignore[attr-defined]
    forms = {r["id"]: token_state_format(r["token_states"]) for r in blobs}
    by_doc = {c.id: c.doc_id for c in engine.store().all_chunks()}
    assert {by_doc[i]: f for i, f in forms.items()} == {"a": "int8", "b": "int8", "c": "pq"}
    retriever = engine.retriever()
    hits = retriever.run("error code E4021", 3)
    assert hits[0].chunk.doc_id == "c"
    info = retriever.rerankers[0].cache_info()  # type: ignore[attr-defined]
    assert (info.stored, info.misses) == (3, 0)  # both forms read from the store
