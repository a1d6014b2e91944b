"""Granularity lab: fuse a sentence-level dense list beside the chunk-level lists, and gate the
feedback lists by query length. Tuning splits only (SciFact train, NFCorpus dev).

Builds on ``fusion_lab``'s cache (same ``--cache-dir``; built here if absent) and adds one
embedding per corpus sentence: ``--units sentences`` embeds "title. sentence" apart, ``--units late``
pools each stored chunk's own token states (``chunking.sentence_vectors = "late"``). Every list is
collapsed to documents (a document scores its best unit) before fusion, so lists of different units
fuse.

    RAGLINE_DATA_DIR=/tmp/evaldata .venv/bin/python bench/granularity_lab.py \
        ../shared/datasets/scifact:train ../shared/datasets/nfcorpus:dev
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from benchlib import dataset_splits, lab_parser
from fusion_lab import Cache, N, build_cache, dense_top, fused, mean_ndcg, to_docs

import ragline
from ragline.embedding.sentence_vectors import SpanEmbedder, sentence_layout
from ragline.engine import Engine
from ragline.query.vector_prf import rocchio
from ragline.text.sentences import sentence_spans
from ragline.text.words import content_words

SENTENCES = 1000  # sentence candidates per query (several per document)


def sentence_units(path: Path) -> tuple[list[str], list[str]]:
    """(doc id, "title. sentence") for every sentence of the corpus."""
    docs, units = [], []
    with (path / "corpus.jsonl").open() as f:
        for line in f:
            d = json.loads(line)
            title, text = d.get("title") or "", d.get("text") or ""
            for a, b in sentence_spans(text) or [(0, len(text))]:
                docs.append(d["_id"])
                units.append(f"{title}. {text[a:b]}" if title else text[a:b])
    return docs, units


def late_vectors(engine: Engine, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Sentence vectors pooled from each stored chunk's own run (``sentence_vectors = "late"``)."""
    name = f"beir-{path.name}"
    chunks = engine.store(name).all_chunks()
    emb = engine.embedder_for(name).inner
    if not isinstance(emb, SpanEmbedder):
        raise SystemExit(f"{name}: the embedder has no token states; --units late needs the ONNX backend")
    docs, vecs = [], []
    for i in range(0, len(chunks), 512):
        part = chunks[i : i + 512]
        _, units = emb.embed_spans(*sentence_layout(part))
        for c, u in zip(part, units, strict=True):
            docs += [c.doc_id] * len(u)
            vecs.append(u)
        print(f"  late units {i + len(part)}/{len(chunks)} chunks", flush=True)
    return np.asarray(docs, dtype=object), np.concatenate(vecs)


def sentence_vectors(engine: Engine, path: Path, out: Path, late: bool) -> tuple[np.ndarray, np.ndarray]:
    if out.exists():
        z = np.load(out, allow_pickle=True)
        return z["docs"], z["vecs"]
    if late:
        docs_late, arr_late = late_vectors(engine, path)
        np.savez(out, docs=docs_late, vecs=arr_late)
        return docs_late, arr_late
    docs, units = sentence_units(path)
    emb = engine.embedder_for(f"beir-{path.name}")
    vecs = []
    for i in range(0, len(units), 512):
        vecs.append(np.asarray(emb.embed_documents(units[i : i + 512]), dtype=np.float32))
        print(f"  sentences {i + len(vecs[-1])}/{len(units)}", flush=True)
    arr = np.concatenate(vecs)
    np.savez(out, docs=np.asarray(docs, dtype=object), vecs=arr)
    return np.asarray(docs, dtype=object), arr


def top_docs(sims: np.ndarray, owners: np.ndarray, n: int) -> dict[str, float]:
    """Each document's best unit among the top ``n`` units."""
    idx = np.argpartition(-sims, n)[:n]
    idx = idx[np.argsort(-sims[idx])]
    out: dict[str, float] = {}
    for i in idx:
        out.setdefault(owners[i], float(sims[i]))
    return out


def run(cache: Cache, sdocs: np.ndarray, svecs: np.ndarray, label: str) -> None:
    cache.row = {c: i for i, c in enumerate(cache.chunk_ids)}
    nq = len(cache.qids)
    dense_c = [dense_top(cache, cache.qvecs[i]) for i in range(nq)]
    first = [fused([dense_c[i], cache.bm25[i]], [0.5, 0.5]) for i in range(nq)]
    roc_c = []
    for i in range(nq):
        fb = cache.vectors[[cache.row[c] for c in first[i][:5]]]
        roc_c.append(dense_top(cache, rocchio(cache.qvecs[i], fb, 1.0)))
    dense = [to_docs(cache, x) for x in dense_c]
    bm25 = [to_docs(cache, x) for x in cache.bm25]
    rm3 = [to_docs(cache, x) for x in cache.rm3]
    roc = [to_docs(cache, x) for x in roc_c]
    sent = [top_docs(svecs @ cache.qvecs[i], sdocs, SENTENCES) for i in range(nq)]
    terms = [len(content_words(q)) for q in cache.texts or []]

    def each(
        lists: list[list[dict[str, float]]], weights: list[float], how: str = "zscore"
    ) -> list[list[str]]:
        return [fused([lst[i] for lst in lists], weights, how) for i in range(nq)]

    def show(name: str, rankings: list[list[str]]) -> None:
        print(f"  {name:62s} {mean_ndcg(cache, rankings, chunks=False):.4f}", flush=True)

    print(f"\n{label} ({nq} queries, {N} chunks / {SENTENCES} sentences per list; doc-level fusion)")
    show("sentences only", [list(s) for s in sent])
    show("z (dense, BM25)", each([dense, bm25], [0.5, 0.5]))
    show("z (dense, sentences, BM25) 1/4 1/4 1/2", each([dense, sent, bm25], [0.25, 0.25, 0.5]))
    show("z (dense, sentences, BM25) 1/3 each", each([dense, sent, bm25], [1 / 3] * 3))
    show("z (sentences, BM25) 1/2 1/2", each([sent, bm25], [0.5, 0.5]))
    four = [dense, roc, bm25, rm3]
    show("z (dense, Rocchio, BM25, RM3) 1/4 each  <- default", each(four, [0.25] * 4))
    five = [dense, sent, roc, bm25, rm3]
    show("z (dense, sent, Rocchio, BM25, RM3) 1/6 1/6 1/6 1/4 1/4", each(five, [1 / 6] * 3 + [0.25] * 2))
    show("z (dense, sent, Rocchio, BM25, RM3) 1/5 each", each([dense, sent, roc, bm25, rm3], [0.2] * 5))
    for cut in (3, 4, 5, 6, 8):
        rows = []
        rows_s = []
        for i in range(nq):
            if terms[i] <= cut:
                rows.append(fused([dense[i], roc[i], bm25[i], rm3[i]], [0.25] * 4))
                rows_s.append(fused([dense[i], sent[i], roc[i], bm25[i], rm3[i]], [1 / 6] * 3 + [0.25] * 2))
            else:
                rows.append(fused([dense[i], bm25[i]], [0.5, 0.5]))
                rows_s.append(fused([dense[i], sent[i], bm25[i]], [0.25, 0.25, 0.5]))
        share = sum(t <= cut for t in terms) / nq
        show(f"feedback only for <= {cut} terms ({share:.0%} of queries)", rows)
        show("  the same + sentences", rows_s)


def main(argv: list[str] | None = None) -> int:
    ap = lab_parser(__doc__, Path("/tmp/fusion_lab"))
    ap.add_argument(
        "--units",
        choices=["sentences", "late"],
        default="sentences",
        help="sentences: 'title. sentence' embedded apart; late: pooled from each chunk's run",
    )
    args = ap.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    engine = ragline.open()
    for path, split in dataset_splits(args.datasets):
        cache = build_cache(engine, path, split, args.cache_dir / f"{path.name}-{split}.pkl")
        if cache is None:
            continue
        out = args.cache_dir / f"{path.name}-{args.units}.npz"
        sdocs, svecs = sentence_vectors(engine, path, out, args.units == "late")
        run(cache, sdocs, svecs, f"{path.name}:{split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
