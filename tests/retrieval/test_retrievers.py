"""Dense, keyword and hybrid retrievers, on the store twin and the hash embedder, and (integration)
on LanceDB and the real embedding model."""

from __future__ import annotations

from pathlib import Path

import pytest

import ragline
from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.store.memory import MemoryStore
from tests.helpers import fast_engine, write_markdown_corpus


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(fast_engine, id="fast"),
        pytest.param(ragline.open, id="real", marks=pytest.mark.integration),
    ],
)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The corpus on the store twin and the hash embedder, and (integration) on LanceDB and the model."""
    root = tmp_path_factory.mktemp("retr")
    write_markdown_corpus(root / "docs", n_files=6)
    eng: Engine = request.param(root / "data")
    eng.ingest([root / "docs"])
    return eng


def test_hybrid_hits_record_each_retrievers_rank(engine) -> None:
    q = "rotate API keys and secrets"
    dense = engine.search(q, mode="dense", top_k=20)
    keyword = engine.search(q, mode="keyword", top_k=20)
    hybrid = engine.search(q, mode="hybrid", top_k=5)
    assert len(hybrid) == 5
    assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)
    dense_rank = {h.chunk.id: i + 1 for i, h in enumerate(dense)}
    kw_rank = {h.chunk.id: i + 1 for i, h in enumerate(keyword)}
    for h in hybrid:
        for name, ranks in (("dense", dense_rank), ("keyword", kw_rank)):
            if name in h.retrievers:
                assert h.retrievers[name].rank == ranks[h.chunk.id]
    assert hybrid[0].chunk.source.endswith("guide-04-security.md")
    # Found by both first-pass searches, and (by default) by both feedback searches too.
    names = set(hybrid[0].retrievers)
    every = {"dense", "dense_sentences", "keyword", "dense_prf", "keyword_prf"}
    assert {"dense", "keyword"} <= names <= every


def test_weighted_fusion_extremes_follow_one_side(tmp_path: Path, engine) -> None:
    q = "billing refunds invoices"
    data = engine.settings.data_dir
    # Smoothing, reranking and the feedback and sentence lists (which join the dense or keyword side)
    # would mix other evidence back in: off, to see the fusion alone.
    plain = {"smoothing": False, "rerank": [], "prf": False, "dense_prf": False, "sentences": False}
    reopen = fast_engine if isinstance(engine.store(), MemoryStore) else ragline.open
    only_dense = reopen(data, retrieval={"fusion": "weighted", "alpha": 1.0, **plain})
    only_kw = reopen(data, retrieval={"fusion": "weighted", "alpha": 0.0, **plain})
    dense = [h.chunk.id for h in engine.search(q, mode="dense", top_k=3)]
    keyword = [h.chunk.id for h in engine.search(q, mode="keyword", top_k=3)]
    assert [h.chunk.id for h in only_dense.search(q, top_k=3)] == dense
    # Min-max normalisation maps the weakest keyword hit to 0, tying it with unmatched chunks,
    # so only the hits above it must keep the keyword order.
    assert len(keyword) == 3
    assert [h.chunk.id for h in only_kw.search(q, top_k=2)] == keyword[:2]


def test_filters_apply_in_every_mode(engine) -> None:
    for mode in ("dense", "keyword", "hybrid"):
        hits = engine.search("install", mode=mode, top_k=50, filters={"file_name": "guide-01-windows.md"})
        assert hits and {h.chunk.metadata["file_name"] for h in hits} == {"guide-01-windows.md"}


def test_no_match_is_an_empty_list_and_bad_arguments_raise(engine) -> None:
    assert engine.search("xyzzyplugh", mode="keyword") == []
    assert engine.search("install", filters={"file_name": "nope.md"}) == []
    with pytest.raises(ConfigError, match="top_k"):
        engine.search("install", top_k=0)
    with pytest.raises(ConfigError, match="empty"):
        engine.search("   ")
    with pytest.raises(ConfigError, match="limit is 8,192"):
        engine.search("word " * 5000)
    with pytest.raises(ConfigError, match="between 1 and 10000"):
        engine.search("install", top_k=10_001)
