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
from ragline.embedding.tokens import pack_tokens, unpack_tokens
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


def main(argv: list[str] | None = None) -> int:
    ap = lab_parser(__doc__, Path("/tmp/compact_lab"))
    ap.add_argument("--generic", type=Path, help="corpus.jsonl of unrelated text for a shipped codebook")
    ap.add_argument("--generic-docs", type=int, default=1500)
    args = ap.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    eng = ragline.open()
    model = eng.embedder.inner
    tok = model._tokenizer
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
                        u.unit = lance.unit_rows(unit_form(u.unit).astype(np.float32))
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
                        (qid, [h.chunk.doc_id for h in hits], [h.chunk.id for h in hits[:DEPTH]],
                         [h.score for h in hits[:DEPTH]])
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
        head_ids = sorted({c for row in rows for c in row[2]})
        states: dict[str, np.ndarray] = {}
        for i in range(0, len(head_ids), 500):
            part = head_ids[i : i + 500]
            for cid, m in zip(part, store.fetch_token_states(part), strict=True):  # type: ignore[attr-defined]
                states[cid] = m if m is not None else np.zeros((0, 384), np.float32)
        n_tok = np.mean([len(v) for v in states.values()])
        # Token ids aligned with the stored rows, for pruning.
        keep: dict[str, np.ndarray] = {}
        aligned = 0
        punct = set(string.punctuation)
        for cid, m in states.items():
            t = texts.get(cid)
            if t is None:
                keep[cid] = np.ones(len(m), bool)
                continue
            enc = tok.encode(t)
            words = [w for w, s in zip(enc.tokens, enc.special_tokens_mask, strict=True) if not s]
            if len(words) != len(m):
                keep[cid] = np.ones(len(m), bool)
                continue
            aligned += 1
            keep[cid] = np.array(
                [not (w in STOPWORDS or all(ch in punct for ch in w)) for w in words], dtype=bool
            )
        kept_frac = np.mean([k.mean() for k in keep.values() if len(k)])
        print(
            f"\n{ds.name}:{split}: {len(rows)} queries, {len(states)} head chunks, {n_tok:.1f} tokens a chunk, "
            f"{aligned} aligned, prune keeps {kept_frac:.2f}",
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
            enc = {c: form(m[keep[c]] if prune else m).astype(np.float32) for c, m in states.items()}
            return lambda q, cids: maxsim_batch(q, [enc[c] for c in cids])

        def pq(books: np.ndarray, prune: bool = False) -> Score:
            enc = {c: pq_encode(m[keep[c]] if prune else m, books) for c, m in states.items()}
            return lambda q, cids: pq_maxsim(q, [enc[c] for c in cids], books)

        every = np.concatenate(list(states.values()))
        sample = every[np.random.default_rng(0).choice(len(every), min(60_000, len(every)), replace=False)]
        binary = lambda m: np.sign(m) / np.sqrt(m.shape[1])  # noqa: E731
        results: list[tuple[str, float]] = [
            ("no late interaction", ndcg(rows, lambda q, c: [0.0] * len(c))),
            ("int8 + scale (388 B/token, today)", ndcg(rows, dense(lambda m: m))),
            ("int8, stop words/punctuation pruned", ndcg(rows, dense(lambda m: m, prune=True))),
            ("1 bit/dim (48 B)", ndcg(rows, dense(binary))),
            ("1 bit/dim, pruned", ndcg(rows, dense(binary, prune=True))),
        ]
        for msub in (16, 32, 48):
            books = train_pq(sample, msub)
            results.append((f"PQ {msub} B/token (collection codebook)", ndcg(rows, pq(books))))
            results.append((f"PQ {msub} B/token, pruned (collection codebook)", ndcg(rows, pq(books, True))))
            if generic_sample is not None:
                gs = generic_sample[
                    np.random.default_rng(0).choice(len(generic_sample), min(60_000, len(generic_sample)), False)
                ]
                gbooks = train_pq(gs, msub)
                np.save(args.cache_dir / f"generic-pq{msub}.npy", gbooks)
                results.append((f"PQ {msub} B/token (generic codebook)", ndcg(rows, pq(gbooks))))
                results.append((f"PQ {msub} B/token, pruned (generic codebook)", ndcg(rows, pq(gbooks, True))))
            for label, value in results[-4:]:
                print(f"  {label:52s} {value:.4f}", flush=True)
        for label, value in results[:5]:
            print(f"  {label:52s} {value:.4f}", flush=True)
        base_score = dense(lambda m: m)
        missing = set()

        def int8_any(q: np.ndarray, cids: list[str]) -> list[float]:
            need = [c for c in cids if c not in states]
            if need:
                missing.update(need)
                for c, m in zip(need, store.fetch_token_states(need), strict=True):  # type: ignore[attr-defined]
                    states[c] = m if m is not None else np.zeros((0, 384), np.float32)
            return maxsim_batch(q, [states[c] for c in cids])

        del base_score

        def int8_rows(m: np.ndarray) -> np.ndarray:
            return unpack_tokens(pack_tokens(m), m.shape[1])

        unit_forms: dict[str, Callable[[np.ndarray], np.ndarray]] = {
            "sentence vectors float16": lambda u: u.astype(np.float16).astype(np.float32),
            "sentence vectors int8 + scale": int8_rows,
            "sentence vectors 1 bit/dim": binary,
        }
        for label, form in unit_forms.items():
            print(f"  {label:52s} {ndcg(first_stage(form), int8_any):.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
