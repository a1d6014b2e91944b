"""Follow-up measurements behind "Where ragline loses, and why" in the peers section of docs/benchmarks.md.

    bench/peers/.venv/bin/python bench/peers/investigate.py [--docs 1000] [--json]

Each comparison runs its contenders alternately in one process (so drift of a shared machine
hits them alike) on the first N prepared SciFact documents:

1. bulk embedding throughput: ragline's ONNX Runtime embedder vs sentence-transformers on torch;
2. query embedding latency: ONNX Runtime vs torch with 2 threads and with 1 thread;
3. where ragline's hybrid query time goes (embed, dense candidates, keyword candidates, fusion
   and fetch) next to FAISS flat search and rank_bm25 scoring on the same documents;
4. ragline's resident memory after loading the model and after embedding batches;
5. what ragline keeps on disk, by part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from peerbench.common import dir_bytes, rss_bytes
from peerbench.data import model_dir, prepare, read_docs
from systems.base import EMBED_MAX_TOKENS

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parents[2] / "shared" / "datasets"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def p50(xs: list[float]) -> float:
    return round(float(np.percentile(np.asarray(xs) * 1000, 50)), 2)


def timed(f, items) -> list[float]:
    out = []
    for it in items:
        t0 = time.perf_counter()
        f(it)
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the JSON here (run.py reads bench/peers/investigate.json into the report)",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="peers-investigate-"))
    prepare(DATASETS / "scifact", tmp / "data", limit_docs=args.docs)
    docs = read_docs(tmp / "data" / "corpus.jsonl")
    texts = [d.full for d in docs]
    queries = list(json.loads((tmp / "data" / "queries.json").read_text()).values())
    queries = (queries * (60 // max(1, len(queries)) + 1))[:60]
    out: dict = {"docs": len(docs), "loadavg": Path("/proc/loadavg").read_text().split()[0]}

    import ragline

    rss0 = rss_bytes()
    engine = ragline.open(tmp / "rl", chunking={"chunk_size": 256, "chunk_overlap": 32})
    ort = engine.embedder.inner
    ort.max_tokens = EMBED_MAX_TOKENS  # as in the benchmark (systems/base.py)
    ort.warm_up()
    out["ragline_rss_after_model_mib"] = round(rss_bytes() / 2**20, 1)
    out["ragline_rss_before_model_mib"] = round(rss0 / 2**20, 1)
    ort.embed_documents(texts[:256])  # before torch is loaded: the ONNX Runtime arena alone
    out["ragline_rss_after_embedding_256_mib"] = round(rss_bytes() / 2**20, 1)

    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir()), device="cpu")
    st.max_seq_length = EMBED_MAX_TOKENS
    st.encode(texts[:32], batch_size=32)
    bulk = texts[:256]
    rates: dict[str, list[float]] = {"onnxruntime": [], "torch": []}
    for _ in range(2):
        t0 = time.perf_counter()
        ort.embed_documents(bulk)
        rates["onnxruntime"].append(len(bulk) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        st.encode(bulk, batch_size=32)
        rates["torch"].append(len(bulk) / (time.perf_counter() - t0))
    out["bulk_chunks_per_s"] = {k: round(float(np.mean(v)), 1) for k, v in rates.items()}

    lat: dict[str, list[float]] = {"onnxruntime": [], "torch_2_threads": [], "torch_1_thread": []}
    for q in queries:
        lat["onnxruntime"] += timed(ort.embed_query, [q])
        torch.set_num_threads(2)
        lat["torch_2_threads"] += timed(st.encode, [q])
        torch.set_num_threads(1)
        lat["torch_1_thread"] += timed(st.encode, [q])
    torch.set_num_threads(2)
    out["query_embedding_p50_ms"] = {k: p50(v) for k, v in lat.items()}

    corpus = tmp / "data" / "corpus.jsonl"
    engine.ingest([corpus], collection="c", dedup=False)
    store = engine.store("c")
    emb = engine.embedder
    parts: dict[str, list[float]] = {"embed": [], "dense": [], "keyword": [], "fuse+fetch": [], "total": []}
    retr = engine.retriever("hybrid", "c")
    for q in queries:
        emb._queries.clear()
        t0 = time.perf_counter()
        v = emb.embed_query(q)
        t1 = time.perf_counter()
        store.dense_candidates(v, 40)
        t2 = time.perf_counter()
        store.keyword_candidates(q, 40)
        t3 = time.perf_counter()
        parts["embed"].append(t1 - t0)
        parts["dense"].append(t2 - t1)
        parts["keyword"].append(t3 - t2)
        emb._queries.clear()
        t4 = time.perf_counter()
        retr.run(q, 10)
        parts["total"].append(time.perf_counter() - t4)
    parts["fuse+fetch"] = [
        max(0.0, t - (a + b + c))
        for t, a, b, c in zip(parts["total"], parts["embed"], parts["dense"], parts["keyword"], strict=True)
    ]
    out["ragline_hybrid_breakdown_p50_ms"] = {k: p50(v) for k, v in parts.items()}

    import faiss
    from rank_bm25 import BM25Okapi

    vecs = st.encode(texts, batch_size=32).astype(np.float32)
    index = faiss.IndexFlatL2(vecs.shape[1])
    index.add(vecs)
    bm = BM25Okapi([t.split() for t in texts])
    qv = st.encode(queries).astype(np.float32)
    f_t = timed(lambda i: index.search(qv[i : i + 1], 40), range(len(queries)))
    b_t = timed(lambda i: bm.get_scores(queries[i].split()), range(len(queries)))
    out["peer_parts_p50_ms"] = {"faiss_flat_search": p50(f_t), "rank_bm25_get_scores": p50(b_t)}

    coll = engine.collection_path("c")
    out["ragline_disk_mib"] = {
        p.name: round(dir_bytes(p) / 2**20, 2) for p in sorted(coll.iterdir()) if dir_bytes(p) > 0
    }
    engine.embedding_cache.close()
    out["ragline_disk_mib"]["embedding-cache.sqlite"] = round(
        sum(dir_bytes(p) for p in engine.settings.data_dir.glob("embedding-cache.sqlite*")) / 2**20, 2
    )
    out["raw_float32_vectors_mib"] = round(len(texts) * 384 * 4 / 2**20, 2)
    out["raw_text_mib"] = round(sum(len(t.encode()) for t in texts) / 2**20, 2)
    out["command"] = "bench/peers/.venv/bin/python bench/peers/investigate.py" + "".join(
        f" {a}" for a in sys.argv[1:]
    )
    out["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
