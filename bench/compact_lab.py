"""Compact-storage lab (issue 26): how small the stored token states and sentence vectors can get
before the default pipeline's nDCG@10 moves. Tuning splits only (SciFact train, NFCorpus dev).

For every query the default pipeline's hits before late interaction (smoothing included) are
cached once with their fused scores. Each token-state form is applied to the *stored* int8 states of
the first 30 hits (what late interaction reads), MaxSim is recomputed (asymmetric distance for
product quantisation: the query stays float) and the 30 are ranked by
``0.6 * z(fused) + 0.4 * z(MaxSim)`` as the default reranker does. Sentence-vector forms re-run the
first stage with the collection's in-memory sentence vectors put through the form.

    RAGLINE_DATA_DIR=/tmp/compact-base .venv/bin/python bench/compact_lab.py \\
        ../shared/datasets/scifact:train ../shared/datasets/nfcorpus:dev \\
        --generic ../shared/datasets/squad-v1.1-dev/corpus.jsonl
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import string
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import lab_collections, lab_parser

import ragline
from ragline.embedding.tokens import CODEBOOK_DIR, pack_tokens, unpack_tokens
from ragline.eval.metrics import evaluate
from ragline.eval.runner import collapse_to_documents
from ragline.rerank.late_interaction import maxsim_batch, standardize
from ragline.settings import RetrievalSettings
from ragline.store import lance
from ragline.text.words import STOPWORDS

DEPTH, LAM = 30, 0.4
Row = tuple[str, list[str], list[str], list[float]]  # qid, doc ids, head chunk ids, fused head
Score = Callable[[np.ndarray, list[str]], list[float]]


def kmeans(x: np.ndarray, k: int, iters: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iters):
        d = (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]
        a = d.argmin(1)
        for j in range(k):
            m = a == j
            c[j] = x[m].mean(0) if m.any() else x[rng.integers(len(x))]
    return c.astype(np.float32)


def train_pq(sample: np.ndarray, m: int) -> np.ndarray:
    """(m, 256, dim/m) codebooks, one k-means per subspace."""
    sub = sample.shape[1] // m
    return np.stack([kmeans(sample[:, i * sub : (i + 1) * sub], 256) for i in range(m)])


def pq_encode(x: np.ndarray, books: np.ndarray) -> np.ndarray:
    m, _, sub = books.shape
    codes = np.empty((len(x), m), dtype=np.uint8)
    for i in range(m):
        part = x[:, i * sub : (i + 1) * sub]
        c = books[i]
        codes[:, i] = ((c * c).sum(1)[None, :] - 2 * part @ c.T).argmin(1)
    return codes


def decode(codes: np.ndarray, books: np.ndarray) -> np.ndarray:
    m = books.shape[0]
    return books[np.arange(m)[None, :], codes.astype(np.intp)].reshape(len(codes), -1)


def pq_maxsim(q: np.ndarray, docs: list[np.ndarray], books: np.ndarray) -> list[float]:
    m, _, sub = books.shape
    lut = np.einsum("qms,mks->qmk", q.reshape(len(q), m, sub), books)  # (nq, m, 256)
    out = []
    ar = np.arange(m)
    for codes in docs:
        if not len(codes):
            out.append(0.0)
            continue
        sims = lut[:, ar[None, :], codes].sum(-1)  # (nq, nt)
        out.append(float(sims.max(1).mean()))
    return out


def lab(eng: Any, ds: Any, split: str, name: str, args: Any, generic_sample: np.ndarray | None) -> None:
    model = eng.embedder.inner
    tok = model._tokenizer
    store = eng.store(name)
    out = args.cache_dir / f"{ds.name}-{split}.pkl"
    queries = [(q, t) for q, t in ds.queries.items() if q in ds.qrels]
    r = eng.settings.retrieval.overridden(RetrievalSettings(rerank={"stages": []}))
    texts: dict[str, str] = {}

    def first_stage(unit_form: Callable[[np.ndarray], np.ndarray] | None) -> list[Row]:
        orig = lance.LanceStore._exact_units
        if unit_form is not None:

            def patched(self: Any, view: Any) -> Any:
                fresh = view.units is None
                u = orig(self, view)
                if fresh and u is not None:
                    u = dataclasses.replace(u, unit=lance.unit_rows(unit_form(u.unit).astype(np.float32)))
                    view.units = u
                return u

            lance.LanceStore._exact_units = patched  # type: ignore[method-assign]
            view = store._view()  # type: ignore[attr-defined]
            view.units = None
        try:
            retriever = eng.retriever("hybrid", name, r)
            rows = []
            for qid, text in queries:
                hits = retriever.run(text, 300)
                texts.update({h.chunk.id: h.chunk.embed_text for h in hits[:DEPTH]})
                rows.append(
                    (
                        qid,
                        [h.chunk.doc_id for h in hits],
                        [h.chunk.id for h in hits[:DEPTH]],
                        [h.score for h in hits[:DEPTH]],
                    )
                )
            return rows
        finally:
            lance.LanceStore._exact_units = orig  # type: ignore[method-assign]
            store._view().units = None  # type: ignore[attr-defined]

    if out.exists():
        with out.open("rb") as f:
            rows, qtokens, saved = pickle.load(f)
            texts.update(saved)  # our own cache file, written below
    else:
        rows = first_stage(None)
        qtokens = {qid: model.query_tokens(t) for qid, t in queries}
        with out.open("wb") as f:
            pickle.dump((rows, qtokens, texts), f, protocol=5)
    qrels = {q: ds.qrels[q] for q, *_ in rows}
    # Stored states kept packed (int8, as on disk; re-packing a decoded int8 matrix is exact), so
    # the lab holds ~70 KB a chunk instead of 270 KB.
    packed: dict[str, bytes] = {}

    def load(cids: list[str]) -> None:
        need = [c for c in cids if c not in packed]
        for i in range(0, len(need), 500):
            part = need[i : i + 500]
            for cid, m in zip(part, store.fetch_token_states(part), strict=True):  # type: ignore[attr-defined]
                packed[cid] = pack_tokens(m if m is not None else np.zeros((0, 384), np.float32))

    def state(cid: str) -> np.ndarray:
        return unpack_tokens(packed[cid], 384) if packed[cid] else np.zeros((0, 384), np.float32)

    load(sorted({c for row in rows for c in row[2]}))
    punct = set(string.punctuation)
    keep: dict[str, np.ndarray] = {}

    def mask(cid: str) -> np.ndarray:
        if cid not in keep:
            n = len(packed[cid]) // (4 + 384)
            enc = tok.encode(texts[cid]) if cid in texts else None
            words = (
                []
                if enc is None
                else [w for w, sp in zip(enc.tokens, enc.special_tokens_mask, strict=True) if not sp]
            )
            keep[cid] = (
                np.array([not (w in STOPWORDS or all(ch in punct for ch in w)) for w in words], dtype=bool)
                if len(words) == n
                else np.ones(n, bool)
            )
        return keep[cid]

    n_tok = np.mean([len(v) // (4 + 384) for v in packed.values()])
    kept_frac = np.mean([mask(c).mean() for c in packed if len(mask(c))])
    print(
        f"\n{ds.name}:{split}: {len(rows)} queries, {len(packed)} head chunks, {n_tok:.1f} tokens a chunk, "
        f"stop-word/punctuation pruning keeps {kept_frac:.2f}",
        flush=True,
    )

    def ndcg(rows_: list[Row], score: Score) -> float:
        run = {}
        for qid, docs, cids, fused in rows_:
            late = score(qtokens[qid], cids)
            mixed = (1 - LAM) * standardize(fused) + LAM * standardize(late)
            order = np.argsort(-mixed, kind="stable")
            ranked = [docs[j] for j in order] + docs[len(cids) :]
            run[qid] = collapse_to_documents([d for d in ranked if d != qid])
        return evaluate(run, qrels, ignore_identical_ids=True).ndcg_at_10

    def dense(form: Callable[[np.ndarray], np.ndarray], prune: bool = False) -> Score:
        def score(q: np.ndarray, cids: list[str]) -> list[float]:
            load(cids)
            return maxsim_batch(q, [form(state(c)[mask(c)] if prune else state(c)) for c in cids])

        return score

    def pq(books: np.ndarray, prune: bool = False) -> Score:
        codes: dict[str, np.ndarray] = {}

        def score(q: np.ndarray, cids: list[str]) -> list[float]:
            for c in cids:
                if c not in codes:
                    load([c])
                    codes[c] = pq_encode(state(c)[mask(c)] if prune else state(c), books)
            return pq_maxsim(q, [codes[c] for c in cids], books)

        return score

    def show(label: str, value: float) -> None:
        print(f"  {label:56s} {value:.4f}", flush=True)

    binary = lambda m: np.sign(m) / np.sqrt(m.shape[1])  # noqa: E731
    shipped = np.load(CODEBOOK_DIR / f"{model.model_id}.npy").astype(np.float32)

    def unit(m: np.ndarray) -> np.ndarray:
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)

    def pq_unit(books: np.ndarray, prune: bool = False) -> Score:
        # Decoded rows scaled back to unit length (MaxSim as a cosine, as over the float states).
        def score(q: np.ndarray, cids: list[str]) -> list[float]:
            load(cids)
            docs = [
                unit(decode(pq_encode(state(c)[mask(c)] if prune else state(c), books), books))
                if packed[c]
                else state(c)
                for c in cids
            ]
            return maxsim_batch(q, docs)

        return score

    def generic(m: int) -> np.ndarray:
        assert generic_sample is not None, "--generic is needed for this form"
        gs = generic_sample[np.random.default_rng(0).choice(len(generic_sample), 60_000, False)]
        return train_pq(gs, m)

    def own() -> np.ndarray:
        sample = np.concatenate([state(c) for c in list(packed)[:: max(1, len(packed) // 400)]])
        return train_pq(
            sample[np.random.default_rng(0).choice(len(sample), min(60_000, len(sample)), False)], 32
        )

    int8_score = dense(lambda m: m)
    forms: dict[str, Callable[[], float]] = {
        "no late interaction": lambda: ndcg(rows, lambda q, c: [0.0] * len(c)),
        "int8 + scale (388 B/token, today)": lambda: ndcg(rows, int8_score),
        "PQ 32 B/token, shipped codebook (SQuAD text)": lambda: ndcg(rows, pq(shipped)),
        "PQ 32 B/token, shipped codebook, decoded rows unit length": lambda: ndcg(rows, pq_unit(shipped)),
        "PQ 32 B/token, shipped codebook, unit length, pruned": lambda: ndcg(rows, pq_unit(shipped, True)),
        "PQ 32 B/token, shipped codebook, pruned": lambda: ndcg(rows, pq(shipped, True)),
        "int8, stop words/punctuation pruned": lambda: ndcg(rows, dense(lambda m: m, prune=True)),
        "1 bit/dim (48 B/token)": lambda: ndcg(rows, dense(binary)),
        "PQ 16 B/token, SQuAD codebook": lambda: ndcg(rows, pq(generic(16))),
        "PQ 32 B/token, codebook of this collection": lambda: ndcg(rows, pq(own())),
        "sentence vectors float16 (first stage re-run)": lambda: ndcg(
            first_stage(lambda u: u.astype(np.float16).astype(np.float32)), int8_score
        ),
    }
    for label, run in forms.items():
        if not args.forms or any(f in label for f in args.forms):
            show(label, run())


def main(argv: list[str] | None = None) -> int:
    ap = lab_parser(__doc__, Path("/tmp/compact_lab"))
    ap.add_argument("--generic", type=Path, help="corpus.jsonl of unrelated text for a shipped codebook")
    ap.add_argument("--generic-docs", type=int, default=1500)
    ap.add_argument("--forms", nargs="*", help="only the forms whose label contains one of these")
    args = ap.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    eng = ragline.open()
    model = eng.embedder.inner
    generic_sample = None
    if args.generic:
        gpath = args.cache_dir / "generic.npy"
        if not gpath.exists():
            texts = []
            with args.generic.open() as f:
                seen = set()
                for line in f:
                    d = json.loads(line)
                    if d["text"] in seen:
                        continue
                    seen.add(d["text"])
                    texts.append(f"{d.get('title', '')}. {d['text']}")
                    if len(texts) >= args.generic_docs:
                        break
            print(f"generic: encoding {len(texts)} passages", flush=True)
            states = model.embed_with_tokens(texts)[1]
            np.save(gpath, np.concatenate(states))
        generic_sample = np.load(gpath)
    for ds, split, name in lab_collections(eng, args.datasets):
        lab(eng, ds, split, name, args, generic_sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
