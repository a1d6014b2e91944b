"""Search latency on a 100k-chunk collection: dense, keyword, hybrid and filtered hybrid.

Stored vectors are synthetic but clustered (embedding 100k real chunks takes about an hour here);
chunk texts are Zipfian draws from the vocabulary of the bundled demo corpus; queries are real
questions (SciFact's when ../shared/datasets/scifact exists, else the demo queries) embedded by the
real model on every call, so the figures include query embedding. Also reports ANN recall@10
against exact search on the same collection.

With ``--full`` the collection also stores what the full default searches and reranks: synthetic
sentence vectors (``--sentences`` per chunk, the chunk's vector plus noise) and synthetic token
states (``--tokens`` per chunk, drawn from a pool of 4,096 random unit "token" vectors, stored
as the default stores them: product-quantised with the shipped codebook, ``--token-format int8``
for the older form), and a "full default" row times the default staged pipeline (sentence vectors,
feedback searches, smoothing, late interaction over the stored states). Its rankings mean nothing
(the states are random), its work per query is the default's.

    .venv/bin/python bench/latency.py [--chunks 100000] [--queries 200] [--json] [--full]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragline.embedding.onnx import OnnxEmbedder  # noqa: E402
from ragline.embedding.tokens import Codebook, PackedTokens, codebook_for  # noqa: E402
from ragline.retrieval.factory import RetrieverFactory  # noqa: E402
from ragline.retrieval.retrievers import DenseRetriever, HybridRetriever, KeywordRetriever  # noqa: E402
from ragline.settings import RetrievalSettings  # noqa: E402
from ragline.store.base import SourceBatch  # noqa: E402
from ragline.store.filters import parse_filter  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402
from ragline.types import Chunk  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "datasets" / "scifact" / "queries.jsonl"


def vocabulary() -> list[str]:
    text = " ".join(p.read_text(errors="ignore") for p in (ROOT / "demo" / "corpus").rglob("*.html"))
    text = re.sub(r"<[^>]+>", " ", text)
    words: dict[str, int] = {}
    for w in re.findall(r"[a-z]{3,15}", text.lower()):
        words[w] = words.get(w, 0) + 1
    return [w for w, _ in sorted(words.items(), key=lambda kv: -kv[1])][:20000]


def queries(n: int) -> list[str]:
    if SCIFACT.is_file():
        out = [json.loads(line)["text"] for line in SCIFACT.read_text().splitlines() if line.strip()]
    else:
        out = [q for q in (ROOT / "demo" / "corpus" / "QUERIES.txt").read_text().splitlines() if q.strip()]
    return (out * (n // len(out) + 1))[:n]


def synthetic_batches(
    n: int,
    dim: int,
    seed: int = 0,
    step: int = 20_000,
    sentences: int = 0,
    tokens: int = 0,
    codebook: Codebook | None = None,
) -> Iterator[SourceBatch]:
    """``n`` chunks in batches of ``step``: clustered unit vectors (256 centres), Zipfian texts of
    100 words from the demo corpus' vocabulary, a ``doc_type`` and a ``year`` each; with
    ``sentences``, that many sentence vectors per chunk (its vector plus noise), and with
    ``tokens``, that many token states per chunk (rows of a random unit-vector pool)."""
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(4096, dim)).astype(np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    vocab = vocabulary()
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    centers = rng.normal(size=(256, dim))
    types = ["paper", "report", "memo", "note", "slide"]
    for b in range(0, n, step):
        m = min(step, n - b)
        words = rng.choice(len(vocab), size=(m, 100), p=zipf)
        vecs = centers[rng.integers(0, 256, m)] + 0.6 * rng.normal(size=(m, dim))
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        chunks = []
        for i in range(m):
            text = " ".join(vocab[j] for j in words[i])
            chunks.append(
                Chunk(
                    id=f"c{b + i}",
                    doc_id=f"d{(b + i) // 4}",
                    text=text,
                    position=(b + i) % 4,
                    start=0,
                    end=len(text),
                    source=f"/bench/{b}",
                    metadata={
                        "doc_type": types[int(rng.integers(0, 5))],
                        "year": int(rng.integers(1990, 2025)),
                    },
                )
            )
        units = None
        if sentences:
            noisy = vecs[:, None, :] + 0.3 * rng.normal(size=(m, sentences, dim)).astype(np.float32)
            units = list(noisy / np.linalg.norm(noisy, axis=2, keepdims=True))
        states = None
        if tokens:
            states = [PackedTokens.of(pool[rng.integers(0, len(pool), tokens)], codebook) for _ in range(m)]
        yield SourceBatch(f"/bench/{b}", "h", chunks, vecs, sentence_vectors=units, token_states=states)


def build(
    root: Path,
    n: int,
    dim: int,
    seed: int = 0,
    sentences: int = 0,
    tokens: int = 0,
    codebook: Codebook | None = None,
) -> LanceStore:
    store = LanceStore(root, dimension=dim, model_id="bench-synthetic", ann_threshold=20_000)
    done = 0
    # Smaller batches with token states: 5,000 chunks of 170 states are ~330 MB packed.
    step = 5_000 if tokens else 20_000
    for batch in synthetic_batches(n, dim, seed, step, sentences, tokens, codebook):
        store.upsert([batch])
        done += len(batch.chunks)
        print(f"  inserted {done}/{n}", file=sys.stderr)
    t0 = time.perf_counter()
    store.finalize()
    print(f"  indexes built in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return store


def pct(xs: list[float]) -> tuple[float, float]:
    a = np.asarray(xs) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--dir", type=Path, default=None, help="reuse/keep the collection here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--full", action="store_true", help="also time the full default pipeline")
    ap.add_argument("--sentences", type=int, default=4, help="sentence vectors per chunk (--full)")
    # 115: the content tokens a SciFact chunk stores under the default (44 MB of 32-byte pq states
    # for 12,003 chunks); 170 was every word piece of a chunk (the int8 form's figure).
    ap.add_argument("--tokens", type=int, default=115, help="token states per chunk (--full)")
    ap.add_argument(
        "--token-format", choices=["pq", "int8"], default="pq", help="how token states are stored (--full)"
    )
    ap.add_argument("--only-full", action="store_true", help="time the full default alone")
    ap.add_argument(
        "--precision",
        choices=["fp32", "int8"],
        default="int8",
        help="the query embedder's graph (embedding.precision; int8 is the default's)",
    )
    ap.add_argument(
        "--ann-engine",
        choices=["lance", "faiss"],
        default="lance",
        help="store.ann_engine of a reused --dir; 'faiss' builds the dense graph first if it is missing",
    )
    args = ap.parse_args()
    args.full = args.full or args.only_full

    # numpy's BLAS on one thread, as the engine sets it by default (``blas_threads = 1``).
    threadpool_limits(limits=1, user_api="blas")
    # The default embedder (embedding.precision "auto": the int8 graph), or --precision's.
    emb = OnnxEmbedder(precision=args.precision)
    emb.warm_up()
    codebook = codebook_for(emb.model_id) if args.token_format == "pq" else None
    if args.full and args.token_format == "pq" and codebook is None:
        ap.error("no shipped pq codebook for the packaged model; pass --token-format int8")
    root = args.dir or Path(tempfile.mkdtemp(prefix="ragline-bench-"))
    if (root / "chunks.lance").exists():
        engine = args.ann_engine
        store = LanceStore(root, dimension=emb.dimension, model_id="bench-synthetic", ann_engine=engine)
        if args.ann_engine == "faiss":
            # Writes the graph (and nothing else when the table is unchanged since its last finalize).
            store.finalize()
    else:
        print(f"building {args.chunks} chunks in {root}", file=sys.stderr)
        store = build(
            root,
            args.chunks,
            emb.dimension,
            sentences=args.sentences if args.full else 0,
            tokens=args.tokens if args.full else 0,
            codebook=codebook,
        )
    qs = queries(args.queries)
    filt = parse_filter({"doc_type": "paper", "year": {"$gte": 2015}})
    setups = {
        "embed query only": None,
        "dense": (DenseRetriever(store, emb), None),
        "keyword": (KeywordRetriever(store), None),
        "hybrid": (HybridRetriever(store, emb), None),
        "filtered hybrid": (HybridRetriever(store, emb), filt),
    }
    if args.only_full:
        setups = {}
    if args.full:
        # The default settings through the engine's own factory: the same stages and rerankers
        # `ragline search` runs (late interaction reads the stored token states).
        factory = RetrieverFactory(emb, chat=lambda: None, cache_dir=None)
        setups["full default"] = (factory.retriever(store, emb, RetrievalSettings()), None)
    results: dict[str, dict[str, float]] = {}
    for name, setup in setups.items():
        times: list[float] = []
        for i, q in enumerate(qs[:10] + qs):
            t0 = time.perf_counter()
            if setup is None:
                emb.embed_query(q)
            else:
                setup[0].run(q, args.top_k, setup[1])
            if i >= 10:
                times.append(time.perf_counter() - t0)
        p50, p95 = pct(times)
        results[name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
    # ANN recall@10 against exact search. Queries come from the stored vectors' own distribution
    # (a stored vector plus noise): real-text query embeddings have no meaningful neighbours among
    # synthetic vectors, which would measure the synthetic data rather than the index.
    tbl = store.chunks_table
    sample = (
        tbl.search().select(["vector"]).limit(200).to_arrow().column("vector").to_numpy(zero_copy_only=False)
    )
    rng = np.random.default_rng(1)
    recalls = []
    for base in sample[:100]:
        v = np.asarray(base, dtype=np.float32) + 0.05 * rng.normal(size=emb.dimension).astype(np.float32)
        v /= np.linalg.norm(v)
        exact = {
            r["id"]
            for r in tbl.search(v, vector_column_name="vector")
            .distance_type("cosine")
            .bypass_vector_index()
            .select(["id", "_distance"])
            .limit(10)
            .to_list()
        }
        got = {c.id for c in store.fetch_chunks(store.dense_candidates(v, 10))}
        recalls.append(len(exact & got) / 10)
    out = {
        "chunks": store.stats().chunks,
        "vector_index": store.stats().vector_index,
        "queries": len(qs),
        "ann_recall@10": round(float(np.mean(recalls)), 4),
        "latency": results,
        "machine": f"{platform.machine()} {platform.processor() or ''} cores={__import__('os').cpu_count()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"| search ({out['chunks']} chunks, top-{args.top_k}) | p50 ms | p95 ms |")
        print("|---|---|---|")
        for name, r in results.items():
            print(f"| {name} | {r['p50_ms']} | {r['p95_ms']} |")
        print(f"\nANN ({out['vector_index']}) recall@10 vs exact: {out['ann_recall@10']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
