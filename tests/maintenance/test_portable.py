"""Export, import, snapshot and restore through the engine: an export imported into a fresh data
directory searches the same without embedding anything; the model's dimension and the export's
checksums are checked; restore brings back a replaced document."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.embedding.base import Vectors
from ragline.embedding.cache import CachedEmbedder
from ragline.embedding.tokens import CODEBOOK_DIR, _load, pack_tokens, unpack_tokens
from ragline.engine import Engine
from ragline.errors import CollectionNotFound, ConfigError, StoreError
from ragline.maintenance.portable import CHUNKS_FILE, MANIFEST, SUMMARIES, VERSION, _decode
from ragline.testing.doubles import HashEmbedder
from ragline.types import Access, Principal, SearchMode
from tests.helpers import fast_engine, write_markdown_corpus

QUERIES = [
    "install the package on linux",
    "refunds and invoices",
    "rotate API keys",
    "firewall port",
    "alpha bravo charlie",
]
MODES: tuple[SearchMode, ...] = ("dense", "hybrid", "keyword")
BACKENDS = pytest.mark.parametrize("backend", ["memory", "lance"])


class Refusing(HashEmbedder):
    """An embedder that fails if anything is embedded: an import must embed nothing."""

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        raise AssertionError(f"an import embedded {len(texts)} texts")


def _engine(path: Path, backend: str, embedder: HashEmbedder | None = None) -> Engine:
    # float32 sentence vectors on LanceDB too: the comparisons here are about what an export
    # carries, not about float16 storage (tests/store/test_compact_forms.py).
    store: dict[str, Any] = {"backend": backend, "sentence_vector_dtype": "float32"}
    engine = fast_engine(path, store=store)
    if embedder is not None:
        engine.embedder = CachedEmbedder(embedder, engine.embedding_cache)
    return engine


def _results(engine: Engine, **kw: Any) -> dict[tuple[str, str], list[tuple[str, float]]]:
    return {
        (mode, q): [(h.chunk.id, h.score) for h in engine.search(q, mode=mode, top_k=8, **kw)]
        for mode in MODES
        for q in QUERIES
    }


def _same(got: dict[tuple[str, str], list[tuple[str, float]]], want: dict[Any, Any]) -> None:
    assert got.keys() == want.keys()
    for key, hits in want.items():
        assert [cid for cid, _ in got[key]] == [cid for cid, _ in hits], key
        assert [s for _, s in got[key]] == pytest.approx([s for _, s in hits], abs=1e-6), key


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    write_markdown_corpus(tmp_path / "docs", n_files=6)
    return tmp_path / "docs"


@BACKENDS
def test_export_then_import_in_a_fresh_data_dir_searches_the_same(
    tmp_path: Path, corpus: Path, backend: str
) -> None:
    src = _engine(tmp_path / "a", backend)
    src.ingest([corpus], collection="docs")
    assert src.summarize("docs") == 6
    want = _results(src, collection="docs")
    assert all(want.values())
    report = src.export_collection("docs", tmp_path / "export")
    assert report.counts.chunks == src.stats("docs").store.chunks and report.counts.documents == 6
    assert report.counts.sentence_vectors > 0 and report.summaries is not None
    manifest = json.loads((tmp_path / "export" / MANIFEST).read_text())
    assert manifest["version"] == VERSION and manifest["model"] == {"id": "hash-64", "dimension": 64}

    dest = _engine(tmp_path / "b", backend, Refusing())
    got = dest.import_collection(tmp_path / "export")
    assert got.collection == "docs" and got.counts == report.counts and got.settings_match
    assert got.summaries == report.summaries
    # A fresh engine on the imported data directory (the refusing one would fail at query time).
    again = _engine(tmp_path / "b", backend)
    _same(_results(again, collection="docs"), want)
    assert again.store("docs").source_hashes() == src.store("docs").source_hashes()
    summaries = again.summaries_store("docs")
    assert summaries is not None and summaries.stats().documents == 6
    # The next ingest of the same files finds them unchanged: nothing re-embedded.
    assert again.ingest([corpus], collection="docs").chunks_embedded == 0


@BACKENDS
def test_import_goes_to_the_tenant_asked_for_and_reads_only_there(
    tmp_path: Path, corpus: Path, backend: str
) -> None:
    src = _engine(tmp_path / "a", backend)
    src.ingest([corpus], collection="docs", access=Access("acme", ("eng",)))
    want = _results(src, collection="docs", principal=Principal("acme", ("eng",)))
    src.export_collection("docs", tmp_path / "export", tenant="acme")
    dest = _engine(tmp_path / "b", backend, Refusing())
    assert dest.import_collection(tmp_path / "export", tenant="globex", collection="copy").tenant == "globex"
    again = _engine(tmp_path / "b", backend)
    _same(_results(again, collection="copy", principal=Principal("globex", ("eng",))), want)
    assert again.search("linux", collection="copy", principal=Principal("globex", ("ops",))) == []
    assert again.collections("acme") == [] and again.collections() == []
    # Without --tenant the export goes back to the tenant it came from.
    assert dest.import_collection(tmp_path / "export").tenant == "acme"


def test_import_refuses_another_model_a_damaged_export_and_a_full_collection(
    tmp_path: Path, corpus: Path
) -> None:
    src = _engine(tmp_path / "a", "memory")
    src.ingest([corpus], collection="docs")
    export = tmp_path / "export"
    src.export_collection("docs", export)
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        src.export_collection("docs", export)

    narrow = _engine(tmp_path / "b", "memory", HashEmbedder(dimension=32, model_id="hash-32"))
    with pytest.raises(ConfigError, match=r"64-dimensional vectors of .*'hash-64'.*32 dimensions"):
        narrow.import_collection(export)
    other = _engine(tmp_path / "c", "memory", HashEmbedder(model_id="other-64"))
    with pytest.raises(ConfigError, match=r"embedded by model 'hash-64'.*'other-64'"):
        other.import_collection(export)
    assert not (tmp_path / "b" / "collections" / "docs").exists()

    with pytest.raises(ConfigError, match="already holds"):
        src.import_collection(export)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in export.iterdir():
        if f.is_file():
            (damaged / f.name).write_bytes(f.read_bytes())
    text = (damaged / CHUNKS_FILE).read_text()
    (damaged / CHUNKS_FILE).write_text(text.replace("Install", "Uninstall", 1))
    with pytest.raises(ConfigError, match="does not match the checksum"):
        _engine(tmp_path / "d", "memory").import_collection(damaged)
    manifest = json.loads((damaged / MANIFEST).read_text())
    (damaged / MANIFEST).write_text(json.dumps({**manifest, "version": VERSION + 1}))
    with pytest.raises(ConfigError, match="upgrade ragline"):
        _engine(tmp_path / "d", "memory").import_collection(damaged)
    with pytest.raises(ConfigError, match="not a ragline export"):
        _engine(tmp_path / "d", "memory").import_collection(tmp_path / "docs")
    assert not (export / SUMMARIES).exists()  # no summaries were built


def test_restore_brings_back_the_previous_version_of_a_replaced_document(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "policy.md"
    page.write_text("# Policy\n\nRefunds are processed within ten business days.\n")
    engine = _engine(tmp_path / "data", "lance")
    engine.ingest([docs], collection="docs")
    snap = engine.snapshot("docs", "before-edit")
    assert snap.tags == ("before-edit",)
    before = engine.versions("docs")[-1].version
    page.write_text("# Policy\n\nRefunds are no longer offered.\n")
    assert engine.ingest([docs], collection="docs").files_indexed == 1

    def text() -> str:
        [doc] = engine.documents(collection="docs")
        view = engine.document(doc.doc_id, collection="docs")
        assert view is not None
        return view.text

    assert "no longer" in text()
    engine.restore("docs", before)  # by number: the upsert rolled back
    assert "ten business days" in text()
    engine.restore("docs", engine.versions("docs")[-2].version)  # the restore itself is undone
    assert "no longer" in text()
    engine.restore("docs", "before-edit")
    assert "ten business days" in text()
    [hit] = engine.search("refunds", collection="docs", top_k=1)
    assert "ten business days" in hit.chunk.text
    # The source hash came back too: the next ingest re-indexes the edited file.
    assert engine.ingest([docs], collection="docs").files_indexed == 1
    assert "no longer" in text()


def test_the_memory_backend_says_it_keeps_no_versions(tmp_path: Path, corpus: Path) -> None:
    engine = _engine(tmp_path / "data", "memory")
    engine.ingest([corpus], collection="docs")
    with pytest.raises(StoreError, match=r"MemoryStore store backend keeps no versions.*backend = 'lance'"):
        engine.snapshot("docs")
    with pytest.raises(StoreError, match="keeps no versions"):
        engine.restore("docs", 1)


def test_an_export_of_the_memory_twin_imports_into_lancedb(tmp_path: Path, corpus: Path) -> None:
    """The format belongs to no backend: the twin's export, imported into LanceDB, finds the same
    chunks (dense: same scores; keyword BM25 equal to float32 rounding, as the twin's congruence
    tests hold it)."""
    src = _engine(tmp_path / "a", "memory")
    src.ingest([corpus], collection="docs")
    src.export_collection("docs", tmp_path / "export")
    dest = _engine(tmp_path / "b", "lance", Refusing())
    dest.import_collection(tmp_path / "export")
    again = _engine(tmp_path / "b", "lance")
    assert again.store("docs").all_chunks() == src.store("docs").all_chunks()
    for q in QUERIES:
        for mode in MODES:
            want = [(h.chunk.id, h.score) for h in src.search(q, mode=mode, top_k=8, collection="docs")]
            got = [(h.chunk.id, h.score) for h in again.search(q, mode=mode, top_k=8, collection="docs")]
            assert {cid for cid, _ in got} == {cid for cid, _ in want}, (q, mode)
            assert sorted(s for _, s in got) == pytest.approx(sorted(s for _, s in want), rel=1e-4), (q, mode)


def test_a_failed_import_leaves_no_collection_behind(tmp_path: Path, corpus: Path) -> None:
    src = _engine(tmp_path / "a", "lance")
    src.ingest([corpus], collection="docs")
    export = tmp_path / "export"
    src.export_collection("docs", export)
    lines = (export / CHUNKS_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    bad = json.loads(lines[-1])
    bad["vector"] = bad["vector"][:-8]  # a vector cut short: found only when its source is read
    lines[-1] = json.dumps(bad) + "\n"
    (export / CHUNKS_FILE).write_text("".join(lines), encoding="utf-8")
    manifest = json.loads((export / MANIFEST).read_text())
    digest = hashlib.sha256((export / CHUNKS_FILE).read_bytes()).hexdigest()
    manifest["files"][CHUNKS_FILE]["sha256"] = digest  # consistent checksums: the record is what is bad
    (export / MANIFEST).write_text(json.dumps(manifest))
    # One chunk per commit: every source before the bad one is written before it fails.
    dest = fast_engine(tmp_path / "b", store={"backend": "lance", "commit_chunks": 1})
    with pytest.raises(ConfigError, match=rf"{CHUNKS_FILE} line {len(lines)}: bad chunk record"):
        dest.import_collection(export)
    assert dest.collections() == []
    # Only the writer lock file is left: no collection, no half-built directory beside it.
    assert [p.name for p in (tmp_path / "b" / "collections").iterdir()] == [".docs.write.lock"]
    with pytest.raises(CollectionNotFound):
        dest.search("linux", collection="docs")


def _record_with_tokens(blob: bytes, dimension: int) -> dict[str, Any]:
    floats = base64.b64encode(np.ones((1, dimension), dtype="<f4").tobytes()).decode("ascii")
    return {
        "id": "d#0",
        "doc_id": "d",
        "text": "t",
        "position": 0,
        "start": 0,
        "end": 1,
        "section_path": [],
        "parent_id": None,
        "metadata": {},
        "source": "s",
        "title": "",
        "access": {"groups": [], "clearance": 0},
        "vector": floats,
        "sentence_vectors": floats,
        "token_states": base64.b64encode(blob).decode("ascii"),
    }


def test_import_reads_either_token_state_form_and_names_a_damaged_one() -> None:
    book = _load(sorted(CODEBOOK_DIR.glob("*.npy"))[0])
    states = np.random.default_rng(0).normal(size=(5, book.dimension)).astype(np.float32)
    for blob in (pack_tokens(states), pack_tokens(states, book)):  # int8, then product-quantised
        *_, packed = _decode(_record_with_tokens(blob, book.dimension), "default", book.dimension)
        assert packed is not None
        assert np.array_equal(unpack_tokens(packed.blob, book.dimension), unpack_tokens(blob, book.dimension))
    pq = pack_tokens(states, book)
    with pytest.raises(ValueError, match=r"token_states: .*whole tokens.*re-ingest"):
        _decode(_record_with_tokens(pq[:-1], book.dimension), "default", book.dimension)
    unknown = pq[:4] + bytes(8) + pq[12:]
    with pytest.raises(ValueError, match=r"token_states: .*does not ship"):
        _decode(_record_with_tokens(unknown, book.dimension), "default", book.dimension)
    with pytest.raises(ValueError, match=r"token_states: .*whole"):
        _decode(_record_with_tokens(pack_tokens(states)[:-3], book.dimension), "default", book.dimension)
