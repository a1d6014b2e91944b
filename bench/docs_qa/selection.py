"""Answer selection alone on the documentation QA set: no index, the context is lexical.

A cheaper companion of ``run.py`` for a loaded machine: each question's context is the 4 blocks
(~1,200 characters, cut at blank lines) of the manuals' question pages (the 22 gold pages, loaded
with the HTML loader) that share the most IDF-weighted terms with it, in that order. Every
answerable question therefore competes against the neighbouring settings, rows and sentences of
its own page and of the 21 others; off-corpus questions get the blocks that best match their
words. The extractive answerer then picks and abstains as in ``ask``. Scored like ``run.py``.

Usage (``--base SRC`` runs another checkout's answerer, e.g. main's, for a before/after)::

    PYTHONPATH=src .venv/bin/python bench/docs_qa/selection.py --split dev
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLOCK_CHARS = 1200
TOP_BLOCKS = 4


def blocks(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + BLOCK_CHARS)
        cut = text.rfind("\n\n", start + BLOCK_CHARS // 3, end) if end < len(text) else end
        end = cut if cut > start else end
        out.append((start, end))
        start = end
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    ap.add_argument(
        "--corpus", type=Path, default=Path.home() / ".cache" / "ragline-bench" / "docs_qa" / "corpus"
    )
    ap.add_argument("--base", type=Path, help="import ragline from this src directory instead")
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    if args.base:
        sys.path.insert(0, str(args.base))
    from ragline.embedding.onnx import OnnxEmbedder
    from ragline.generation.base import collect
    from ragline.generation.extractive import ExtractiveAnswerer
    from ragline.generation.lexical import terms
    from ragline.loaders.html import HtmlLoader
    from ragline.types import ChunkSpan, Context, Passage

    sys.path.insert(0, str(HERE))
    from run import holds

    rows = [json.loads(line) for line in (HERE / "questions.jsonl").read_text().splitlines() if line.strip()]
    pages = sorted({f"{r['manual']}/{r['page']}" for r in rows if r["page"]})
    docs = {p: HtmlLoader().load(args.corpus / p)[0] for p in pages}
    units: list[tuple[str, int, int, set[str]]] = []
    for p, d in docs.items():
        for a, b in blocks(d.text):
            units.append((p, a, b, set(terms(d.text[a:b]))))
    df: dict[str, int] = {}
    for *_, ts in units:
        for t in ts:
            df[t] = df.get(t, 0) + 1
    if args.split != "all":
        rows = [r for r in rows if r["split"] == args.split]
    answerer = ExtractiveAnswerer(OnnxEmbedder())
    ok = off_ok = answered_short = short_ok = abstained_ans = 0
    n_ans = n_off = 0
    for r in rows:
        q = set(terms(r["question"]))
        scores = [sum(math.log(1 + len(units) / df[t]) for t in q & ts) for *_, ts in units]
        best = sorted(range(len(units)), key=lambda i: -scores[i])[:TOP_BLOCKS]
        passages = []
        for rank, i in enumerate(best, 1):
            p, a, b, _ = units[i]
            d = docs[p]
            passages.append(
                Passage(
                    doc_id=p, text=d.text[a:b], start=a, end=b,
                    chunks=(ChunkSpan(f"{p}-{a}", a, b, True, None),), score=scores[i], rank=rank,
                    tokens=(b - a) // 4, source=p, title=d.title, section_path=(),
                )
            )  # fmt: skip
        answer = collect(
            answerer.stream(r["question"], Context(passages, sum(x.tokens for x in passages), 1024))
        )
        short = getattr(answer, "short", None)
        short_text = short.text if short is not None else None
        if r["kind"] == "off":
            n_off += 1
            off_ok += answer.abstained
            good = answer.abstained
        else:
            n_ans += 1
            good = not answer.abstained and holds(answer.text, r["answers"])
            ok += good
            abstained_ans += answer.abstained
            answered_short += short_text is not None
            short_ok += (not answer.abstained) and holds(short_text, r["answers"])
        if args.show:
            print(f"{'OK ' if good else '-- '}{r['id']} [{r['kind']}] {r['question']} gold={r['answers']}")
            print(f"     conf={answer.confidence:.2f} short={short_text!r} answer={answer.text[:240]!r}")
    print(
        json.dumps(
            {
                "split": args.split,
                "answerable": n_ans,
                "answer_in_text": round(ok / max(1, n_ans), 3),
                "abstained_answerable": abstained_ans,
                "short_answers": answered_short,
                "short_match": round(short_ok / max(1, n_ans), 3),
                "off_corpus": n_off,
                "off_corpus_abstained": round(off_ok / max(1, n_off), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
