"""Golden evaluation sets from use: questions users rated up, with the documents their answers
cited as relevance labels; questions rated down go to a review file instead.

The file format (JSON Lines, one question a line; docs/golden-format in README)::

    {"id": "g-3f2a9c1b7d04", "question": "How do backups work?", "collection": "kb",
     "tenant": "default", "relevant": {"ops/backup.md": 1}, "answer": "Nightly [1].",
     "trace_ids": ["9c1e..."], "up": 3, "down": 0}

``relevant`` maps doc id to a graded relevance (1), like a BEIR qrels row; the review file
(``<name>.review.jsonl`` beside it) has the same fields. Questions are deduplicated on their
normalised text within a tenant's collection.

Example::

    result = export_golden(state, Path("golden.jsonl"), tenant="acme", collection="kb")
    questions = load_golden(Path("golden.jsonl"))
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragline.errors import DatasetError
from ragline.insights.feedback import normalise_question
from ragline.service_state import RatedTrace, StateStore


@dataclass(frozen=True, slots=True)
class GoldenQuestion:
    id: str
    question: str
    collection: str
    relevant: dict[str, int]
    tenant: str = "default"
    answer: str = ""
    trace_ids: tuple[str, ...] = ()
    up: int = 0
    down: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "collection": self.collection,
            "tenant": self.tenant,
            "relevant": self.relevant,
            "answer": self.answer,
            "trace_ids": list(self.trace_ids),
            "up": self.up,
            "down": self.down,
        }


@dataclass(frozen=True, slots=True)
class GoldenExport:
    """What an export wrote: ``golden`` and ``review`` question counts, and why others were left out."""

    path: Path
    review_path: Path
    golden: int
    review: int
    skipped_uncited: int
    duplicates: int
    questions: tuple[GoldenQuestion, ...] = field(default=(), repr=False)


def review_path_for(path: Path) -> Path:
    """``golden.jsonl`` -> ``golden.review.jsonl``."""
    stem = path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.name
    return path.with_name(f"{stem}.review.jsonl")


def _cited(r: RatedTrace) -> list[str]:
    payload = json.loads(r.trace.payload)
    return [str(c["doc_id"]) for c in payload.get("citations") or [] if c.get("doc_id")]


def _question(key: tuple[str, str, str], group: list[RatedTrace], relevant: dict[str, int]) -> GoldenQuestion:
    tenant, collection, norm = key
    newest = group[0]  # rated_traces is newest first
    return GoldenQuestion(
        id="g-" + hashlib.sha256(f"{tenant}/{collection}/{norm}".encode()).hexdigest()[:12],
        question=newest.trace.question,
        collection=collection,
        tenant=tenant,
        relevant=relevant,
        answer=str(json.loads(newest.trace.payload).get("answer", "")),
        trace_ids=tuple(r.trace.id for r in group),
        up=sum(r.up for r in group),
        down=sum(r.down for r in group),
    )


def export_golden(
    state: StateStore,
    path: Path,
    *,
    tenant: str | None,
    collection: str | None = None,
    since: float = 0.0,
) -> GoldenExport:
    """Write the golden set of rated answers to ``path`` and the thumbs-down ones to its review file.

    A question (normalised text, per tenant and collection) is golden when its answers got more
    ups than downs and the up-rated ones cited documents (those are its relevant documents); it
    is for review when it got any down otherwise.
    """
    groups: dict[tuple[str, str, str], list[RatedTrace]] = {}
    for r in state.rated_traces(tenant=tenant, collection=collection, since=since):
        if (r.up or r.down) and json.loads(r.trace.payload).get("kind") == "ask":
            key = (r.trace.tenant, r.trace.collection, normalise_question(r.trace.question))
            groups.setdefault(key, []).append(r)
    golden, review = [], []
    uncited = duplicates = 0
    for key, group in groups.items():
        duplicates += len(group) - 1
        up, down = sum(r.up for r in group), sum(r.down for r in group)
        if up > down:
            relevant = {d: 1 for r in group if r.up > r.down for d in _cited(r)}
            if relevant:
                golden.append(_question(key, group, dict(sorted(relevant.items()))))
            else:
                uncited += 1
        elif down:
            review.append(
                _question(key, group, dict.fromkeys(sorted({d for r in group for d in _cited(r)}), 1))
            )
    review_path = review_path_for(path)
    for target, items in ((path, golden), (review_path, review)):
        target.parent.mkdir(parents=True, exist_ok=True)
        items.sort(key=lambda q: (q.tenant, q.collection, q.id))
        target.write_text(
            "".join(json.dumps(q.as_json(), ensure_ascii=False) + "\n" for q in items), encoding="utf-8"
        )
    return GoldenExport(path, review_path, len(golden), len(review), uncited, duplicates, tuple(golden))


def load_golden(path: Path) -> list[GoldenQuestion]:
    """Read a golden set; a bad line raises :class:`DatasetError` naming the file and line."""
    if not path.is_file():
        raise DatasetError(f"golden set {path} does not exist; write one with `ragline golden export {path}`")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_parse(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"{path}:{n}: not a golden-set line ({type(exc).__name__}: {exc}); each line needs "
                '"id", "question", "collection" and "relevant" ({"doc id": 1})'
            ) from None
    if not out:
        raise DatasetError(f"golden set {path} holds no questions")
    return out


def _parse(line: str) -> GoldenQuestion:
    row = json.loads(line)
    rel = row["relevant"]
    if not isinstance(rel, dict) or not rel or not all(isinstance(v, int) for v in rel.values()):
        raise TypeError("'relevant' must be a non-empty object of doc id -> integer grade")
    return GoldenQuestion(
        id=str(row["id"]),
        question=str(row["question"]),
        collection=str(row["collection"]),
        relevant={str(k): int(v) for k, v in rel.items()},
        tenant=str(row.get("tenant", "default")),
        answer=str(row.get("answer", "")),
        trace_ids=tuple(row.get("trace_ids", ())),
        up=int(row.get("up", 0)),
        down=int(row.get("down", 0)),
    )
