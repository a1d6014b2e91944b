"""Reading BEIR-format datasets (Thakur et al., "BEIR", NeurIPS Datasets & Benchmarks 2021).

A BEIR dataset directory holds::

    corpus.jsonl        {"_id", "title", "text", "metadata"} per line
    queries.jsonl       {"_id", "text", "metadata"} per line
    qrels/<split>.tsv   "query-id<TAB>corpus-id<TAB>score", with a header line

This module only reads files; running a retriever over the corpus lives elsewhere. The corpus
is not loaded here (it can be large): :class:`BeirDataset` carries its path for the ingester.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragline.errors import DatasetError

# The first line of a BEIR qrels file; skipped when present (BEIR's own loader always skips line 1).
_QRELS_HEADER = ("query-id", "corpus-id", "score")


@dataclass(frozen=True)
class BeirDataset:
    """One split of a BEIR dataset.

    ``queries`` holds only the queries judged in the split's qrels; ``qrels`` maps query id ->
    doc id -> graded relevance, zero-relevance judgements included.
    """

    name: str
    corpus_path: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def available_splits(dataset_dir: Path) -> list[str]:
    """Names of the splits with a ``qrels/<split>.tsv`` file, sorted."""
    qrels_dir = dataset_dir / "qrels"
    if not qrels_dir.is_dir():
        return []
    return sorted(p.stem for p in qrels_dir.glob("*.tsv") if p.is_file())


def _require(path: Path, dataset_dir: Path, what: str) -> None:
    if not path.is_file():
        splits = ", ".join(available_splits(dataset_dir)) or "none"
        raise DatasetError(
            f"BEIR dataset {str(dataset_dir)!r} has no {what} at {str(path)!r} "
            f"(available splits: {splits}); point at a directory in BEIR layout "
            "(corpus.jsonl, queries.jsonl, qrels/<split>.tsv)"
        )


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Parse a BEIR qrels TSV: ``query-id, corpus-id, score`` per line, optional header.

    Blank lines are skipped; a repeated (query, doc) pair keeps its last score, as BEIR does.
    """
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if lineno == 1 and tuple(f.strip().lower() for f in fields) == _QRELS_HEADER:
                continue
            if len(fields) != 3 or not fields[0].strip() or not fields[1].strip():
                raise DatasetError(
                    f"{path}:{lineno}: expected 'query-id<TAB>corpus-id<TAB>score', got {line[:200]!r}; "
                    "fix or remove the line"
                )
            qid, doc_id, score_text = (f.strip() for f in fields)
            try:
                score = int(score_text)
            except ValueError:
                raise DatasetError(
                    f"{path}:{lineno}: relevance score {score_text!r} is not an integer; "
                    "qrels scores must be whole numbers (e.g. 0, 1, 2)"
                ) from None
            qrels.setdefault(qid, {})[doc_id] = score
    if not qrels:
        raise DatasetError(f"{path} holds no judgements; a qrels file needs at least one line")
    return qrels


def read_queries(path: Path, wanted: set[str] | None = None) -> dict[str, str]:
    """Parse ``queries.jsonl`` into query id -> text, keeping only ``wanted`` ids when given."""
    queries: dict[str, str] = {}
    for lineno, obj in read_jsonl(path):
        if not isinstance(obj.get("_id"), str | int):
            raise DatasetError(
                f"{path}:{lineno}: a query needs a string '_id' field; got {json.dumps(obj)[:200]!r}"
            )
        text = obj.get("text")
        if not isinstance(text, str):
            raise DatasetError(f"{path}:{lineno}: query {obj['_id']!r} needs a string 'text' field")
        qid = str(obj["_id"])
        if wanted is None or qid in wanted:
            queries[qid] = text
    return queries


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON Lines file."""
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: invalid JSON ({exc.msg}); fix the line") from None
            if not isinstance(obj, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object, got {raw.strip()[:200]!r}")
            yield lineno, obj


def load_beir(dataset_dir: Path, split: str = "test") -> BeirDataset:
    """Read the queries and qrels of one split of the BEIR dataset in ``dataset_dir``.

    Raises :class:`DatasetError` naming a missing file (and listing the available splits), a
    malformed line (with its line number), or judged queries absent from ``queries.jsonl``.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise DatasetError(
            f"BEIR dataset directory {str(dataset_dir)!r} does not exist; pass the directory holding "
            "corpus.jsonl, queries.jsonl and qrels/"
        )
    corpus_path = dataset_dir / "corpus.jsonl"
    queries_path = dataset_dir / "queries.jsonl"
    qrels_path = dataset_dir / "qrels" / f"{split}.tsv"
    _require(corpus_path, dataset_dir, "corpus.jsonl")
    _require(queries_path, dataset_dir, "queries.jsonl")
    _require(qrels_path, dataset_dir, f"qrels for split {split!r}")

    qrels = read_qrels(qrels_path)
    queries = read_queries(queries_path, wanted=set(qrels))
    missing = [qid for qid in qrels if qid not in queries]
    if missing:
        shown = ", ".join(repr(q) for q in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DatasetError(
            f"{qrels_path} judges {len(missing)} queries missing from {queries_path} ({shown}); "
            "use the queries.jsonl that belongs to this qrels file"
        )
    # Keep qrels order for the queries too, so iteration is deterministic and matches the qrels.
    ordered = {qid: queries[qid] for qid in qrels}
    return BeirDataset(
        name=dataset_dir.resolve().name,
        corpus_path=corpus_path,
        queries=ordered,
        qrels=qrels,
    )
