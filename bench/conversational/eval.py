"""Conversational retrieval: recall@10 and nDCG@10 of follow-up questions searched with and without
their conversation, and of self-contained questions with a conversation before them (which the
condenser must leave as they are).

Reads the set ``bench/conversational/build.py`` wrote, indexes its corpus once (the default
pipeline: ONNX model, LanceDB, every default retrieval stage) into ``--work``, then for each pair
of the slice searches:

* ``original``: the follow-up as SQuAD wrote it (self-contained), no history: the ceiling;
* ``elliptical``: the rewritten follow-up alone ("When did he graduate?"), as a single-turn system
  would search it;
* ``elliptical+history``: the query ``engine.condense`` makes of it from the conversation;
* ``original+history``: the self-contained follow-up through ``engine.condense`` too: it must come
  back unchanged (or search as well).

Tune rules on ``--split dev`` only; report ``--split test``::

    .venv/bin/python bench/conversational/build.py --out /tmp/conv
    .venv/bin/python bench/conversational/eval.py /tmp/conv --split test --work /tmp/conv-work

Without the set (no SQuAD) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import ragline
from ragline.engine import Engine
from ragline.eval.metrics import ndcg_at_k, recall_at_k
from ragline.types import Document, Turn

K = 10


def _ranked(engine: Engine, query: str) -> list[str]:
    """Paragraph ids, best first, at most K (chunks of one paragraph count once)."""
    seen: list[str] = []
    for h in engine.search(query, top_k=3 * K):
        if h.chunk.doc_id not in seen:
            seen.append(h.chunk.doc_id)
    return seen[:K]


def _index(engine: Engine, corpus: list[dict[str, str]]) -> float:
    t0 = time.perf_counter()
    if engine.store().stats().documents == len(corpus):
        return 0.0
    docs = [Document(id=d["_id"], source="squad", text=d["text"], title=d["title"]) for d in corpus]
    for i in range(0, len(docs), 64):
        engine.upsert_documents(docs[i : i + 64])
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the folder build.py wrote")
    ap.add_argument("--split", choices=("dev", "test"), required=True)
    ap.add_argument("--work", type=Path, required=True, help="where the collection is kept between runs")
    ap.add_argument("--condense", choices=("rules", "llm"), default="rules")
    ap.add_argument("--show", type=int, default=0, help="print this many rewrites")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not (args.data / "pairs.jsonl").is_file():
        print(
            f"skip: {args.data}/pairs.jsonl not found; run bench/conversational/build.py first (needs SQuAD)"
        )
        return 0
    corpus = [json.loads(line) for line in (args.data / "corpus.jsonl").open(encoding="utf-8")]
    pairs = [json.loads(line) for line in (args.data / "pairs.jsonl").open(encoding="utf-8")]
    pairs = [p for p in pairs if p["split"] == args.split]
    # One collection per corpus: a rebuilt set never searches an older set's paragraphs.
    digest = hashlib.sha256((args.data / "corpus.jsonl").read_bytes()).hexdigest()[:12]
    engine = ragline.open(args.work / digest, chat={"condense": args.condense})
    index_s = _index(engine, corpus)

    conditions = ("original", "elliptical", "elliptical+history", "original+history")
    scores: dict[str, list[tuple[float, float]]] = {c: [] for c in conditions}
    rewritten = unchanged = 0
    shown = 0
    t0 = time.perf_counter()
    for p in pairs:
        rels = {p["gold"]: 1}
        history = [Turn(t["role"], t["content"]) for t in p["history"]]
        follow = engine.condense(p["question"], history)
        same = engine.condense(p["original"], history)
        rewritten += follow.query != p["question"]
        unchanged += same.query == p["original"]
        queries = {
            "original": p["original"],
            "elliptical": p["question"],
            "elliptical+history": follow.query,
            "original+history": same.query,
        }
        runs: dict[str, list[str]] = {}
        for cond, query in queries.items():
            if query not in runs:
                runs[query] = _ranked(engine, query)
            ranked = runs[query]
            scores[cond].append((recall_at_k(ranked, rels, K), ndcg_at_k(ranked, rels, K)))
        if shown < args.show:
            shown += 1
            print(f"  {p['history'][0]['content']!r}\n    {p['question']!r} -> {follow.query!r}")
            if same.query != p["original"]:
                print(f"    (self-contained changed) {p['original']!r} -> {same.query!r}")
    n = len(pairs)
    out: dict[str, Any] = {
        "split": args.split,
        "pairs": n,
        "articles": sorted({p["article"] for p in pairs}),
        "paragraphs": len(corpus),
        "condense": args.condense,
        "follow_ups_rewritten": round(rewritten / n, 3) if n else 0.0,
        "self_contained_unchanged": round(unchanged / n, 3) if n else 0.0,
    }
    for cond, vals in scores.items():
        out[f"recall@10 {cond}"] = round(sum(v[0] for v in vals) / n, 3) if n else 0.0
        out[f"ndcg@10 {cond}"] = round(sum(v[1] for v in vals) / n, 3) if n else 0.0
    out["index_s"] = round(index_s, 1)
    out["queries_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
