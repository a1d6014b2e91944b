"""Run a BEIR-format dataset through an engine: ingest the corpus, search every query, score the run.

The corpus goes into its own collection (``beir-<dataset>``), so a second run on an unchanged
dataset reuses it and embeds nothing. Chunk hits are collapsed to documents (a document ranks
where its best chunk ranks), as BEIR judges whole documents.

Example::

    result = run_beir(ragline.open(), Path("../shared/datasets/scifact"), mode="hybrid")
    print(result.metrics["ndcg@10"])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragline.eval.beir import load_beir
from ragline.eval.metrics import evaluate
from ragline.ingest.pipeline import IngestReport
from ragline.settings import RetrievalSettings
from ragline.types import SearchMode

if TYPE_CHECKING:
    from ragline.engine import Engine

# Chunks fetched per query before collapsing to documents: enough for 100 distinct documents
# when documents split into a few chunks each.
CHUNK_DEPTH = 300
DOC_DEPTH = 100


@dataclass(frozen=True, slots=True)
class BeirResult:
    dataset: str
    split: str
    mode: str
    queries: int
    metrics: dict[str, float]
    ingest: IngestReport
    search_p50_ms: float
    search_p95_ms: float
    # The scored run itself (query id -> doc id -> score), for cross-checks and error analysis.
    run: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        """The documented ``--json`` object: exactly these keys."""
        return {**self.metrics, "mode": self.mode, "dataset": self.dataset, "queries": self.queries}


def collapse_to_documents(doc_ids: list[str], depth: int = DOC_DEPTH) -> dict[str, float]:
    """Doc id -> score from a best-first list of chunk doc ids; a document keeps its best rank.

    Scores are ``1/rank`` so that trec_eval's score ordering reproduces the ranking exactly.
    """
    out: dict[str, float] = {}
    for d in doc_ids:
        if d not in out:
            out[d] = 1.0 / (len(out) + 1)
            if len(out) == depth:
                break
    return out


def run_beir(
    engine: Engine,
    dataset_dir: Path,
    *,
    mode: SearchMode | None = None,
    split: str = "test",
    ignore_identical_ids: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    retrieval: RetrievalSettings | None = None,
    collection: str | None = None,
    limit: int | None = None,
) -> BeirResult:
    """Ingest (once) and search a BEIR dataset; ``retrieval`` overrides the retrieval settings,
    ``collection`` the collection name (``beir-<dataset>``), ``limit`` the number of queries."""
    ds = load_beir(Path(dataset_dir), split)
    collection = collection or f"beir-{ds.name}"
    mode = mode or (retrieval or engine.settings.retrieval).mode

    def on_ingest(p: Any) -> None:
        if progress is not None:
            progress("embedding corpus", p.chunks_embedded, p.chunks_embedded + p.chunks_pending)

    # Qrels judge duplicate documents under their own ids, so none may be dropped.
    report = engine.ingest([ds.corpus_path], collection=collection, dedup=False, progress=on_ingest)
    if report.errors:
        from ragline.errors import DatasetError

        raise DatasetError(f"could not ingest {ds.corpus_path}: {report.errors[0][1]}")
    retriever = engine.retriever(mode, collection, retrieval)
    retriever.run("warm up", 1)
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    queries = list(ds.queries.items())[:limit]
    total = len(queries)
    for i, (qid, text) in enumerate(queries):
        t0 = time.perf_counter()
        hits = retriever.run(text, CHUNK_DEPTH)
        latencies.append(time.perf_counter() - t0)
        ranked = [h.chunk.doc_id for h in hits]
        if ignore_identical_ids:
            # As BEIR's evaluator does: a document never counts as relevant to itself.
            ranked = [d for d in ranked if d != qid]
        run[qid] = collapse_to_documents(ranked)
        if progress is not None and (i % 10 == 0 or i == total - 1):
            progress(f"searching ({mode})", i + 1, total)
    qrels = {q: ds.qrels[q] for q, _ in queries if q in ds.qrels}
    scores = evaluate(run, qrels, ignore_identical_ids=ignore_identical_ids)
    lat = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return BeirResult(
        dataset=ds.name,
        split=split,
        mode=mode,
        queries=scores.queries,
        metrics=scores.as_dict(),
        ingest=report,
        search_p50_ms=float(np.percentile(lat, 50)),
        search_p95_ms=float(np.percentile(lat, 95)),
        run=run,
    )
