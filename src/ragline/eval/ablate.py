"""``ragline eval ablate``: each retrieval stage alone on top of the baseline, and the configured
default, on BEIR datasets; one table of nDCG@10, Recall@100 and query latency.

Variants that change what is indexed (chunking, a tuned embedding model) get their own
collection (``beir-<dataset>-<variant>``), built once and reused. Variants that need an LLM are
reported as skipped when none is configured, rather than silently measuring their fallback.

Example::

    rows = run_ablation(engine, [Path("../shared/datasets/scifact")], split="train")
    print(render_table(rows))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragline.errors import ConfigError
from ragline.eval.beir import load_beir
from ragline.eval.runner import run_beir
from ragline.settings import RetrievalSettings, deep_merge

if TYPE_CHECKING:
    from ragline.engine import Engine


@dataclass(frozen=True, slots=True)
class Variant:
    """One configuration: retrieval overrides on top of the baseline, and what it indexes."""

    name: str
    retrieval: dict[str, Any] = field(default_factory=dict)
    chunking: dict[str, Any] = field(default_factory=dict)
    # Search with the newest embedding model `ragline tune embeddings` made for the collection.
    tuned: bool = False
    summaries: bool = False
    needs_llm: bool = False
    # Start from the configured settings instead of the baseline (the default row).
    configured: bool = False


# Plain hybrid: RRF and no feedback, so that each variant below adds one stage to it.
BASELINE: dict[str, Any] = {
    "fusion": {"method": "rrf"},
    "feedback": {"keyword": {"enabled": False}, "dense": {"enabled": False}, "fusion": "replace"},
    "sentences": False,
    "smoothing": {"enabled": False},
    "rerank": {"stages": []},
}
_PLAIN_INDEX = {"sentence_vectors": "off", "token_states": "off"}
_RM3 = {"keyword": {"enabled": True}}
_ROCCHIO = {"dense": {"enabled": True}}

VARIANTS: tuple[Variant, ...] = (
    Variant("baseline: hybrid, RRF"),
    Variant("dense only", {"mode": "dense"}),
    Variant("keyword only", {"mode": "keyword"}),
    Variant("z-score fusion", {"fusion": {"method": "zscore"}}),
    Variant("RM3 feedback (keyword side)", {"feedback": _RM3}),
    Variant("Rocchio feedback (dense side)", {"feedback": _ROCCHIO}),
    Variant("feedback lists added (RM3 + Rocchio)", {"feedback": {**_RM3, **_ROCCHIO, "fusion": "add"}}),
    Variant("sentence vectors (dense side)", {"sentences": True}),
    Variant("z-score + sentence vectors", {"fusion": {"method": "zscore"}, "sentences": True}),
    Variant("score smoothing (neighbours)", {"smoothing": {"enabled": True}}),
    Variant(
        "rerank: late interaction",
        {"rerank": {"stages": ["late-interaction"], "candidates": 30, "late_interaction_weight": 1.0}},
    ),
    Variant("rerank: MMR", {"rerank": {"stages": ["mmr"], "candidates": 30}}),
    Variant("rerank: exact identifiers", {"rerank": {"stages": ["identifiers"], "candidates": 30}}),
    Variant("router", {"query": {"router": True}}),
    Variant("auto filters (rules)", {"query": {"auto_filters": "rules"}}),
    Variant("documents first (summaries)", {"doc_first": {"enabled": True}}, summaries=True),
    # Sentence vectors and token states off: these rows compare splitters against the baseline,
    # which neither searches the one nor reranks with the other, and both cost build time.
    Variant("semantic chunking", chunking={"strategy": "semantic", **_PLAIN_INDEX}),
    Variant("sentence chunking", chunking={"strategy": "sentence", **_PLAIN_INDEX}),
    Variant("tuned embeddings", tuned=True),
    Variant("multi-query (LLM)", {"query": {"multi_query": 3}}, needs_llm=True),
    Variant("HyDE (LLM)", {"query": {"hyde": True}}, needs_llm=True),
    Variant("rerank: LLM", {"rerank": {"stages": ["llm"], "candidates": 20}}, needs_llm=True),
    Variant("default (configured)", configured=True),
)


@dataclass(frozen=True, slots=True)
class AblationRow:
    variant: str
    dataset: str
    split: str
    queries: int
    ndcg10: float | None
    recall100: float | None
    p50_ms: float | None
    note: str = ""


def tuned_model(engine: Engine, collection: str) -> Path | None:
    """The newest model `ragline tune embeddings` saved for ``collection``, if any."""
    root = engine.settings.data_dir / "models" / collection
    versions = sorted(
        (p for p in root.glob("v*") if p.is_dir() and p.name[1:].isdigit()), key=lambda p: int(p.name[1:])
    )
    return versions[-1] if versions else None


def _engine_for(engine: Engine, v: Variant, base_collection: str) -> tuple[Engine, str] | None:
    if v.chunking:
        suffix = "-".join(str(x) for x in v.chunking.values() if x != "off")
        return engine.with_settings(chunking=v.chunking), f"{base_collection}-{suffix}"
    if v.tuned:
        model = tuned_model(engine, base_collection)
        if model is None:
            return None
        return engine.with_settings(embedding={"model_path": model}), f"{base_collection}-tuned-{model.name}"
    return engine, base_collection


def run_ablation(
    engine: Engine,
    datasets: Sequence[Path],
    *,
    split: str = "test",
    variants: Sequence[str] | None = None,
    limit: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[AblationRow]:
    """Every selected variant on every dataset; one row each (skipped ones say why)."""
    chosen = list(VARIANTS)
    if variants:
        known = {v.name for v in VARIANTS}
        unknown = [n for n in variants if n not in known]
        if unknown:
            raise ConfigError(f"unknown variant(s) {unknown}; choose from: {', '.join(sorted(known))}")
        chosen = [v for v in VARIANTS if v.name in variants]
    rows: list[AblationRow] = []
    for path in datasets:
        ds = load_beir(Path(path), split)
        base_collection = f"beir-{ds.name}"
        for v in chosen:
            note = ""
            if v.needs_llm and engine.chat_model is None:
                rows.append(
                    AblationRow(v.name, ds.name, split, 0, None, None, None, "skipped: no LLM configured")
                )
                continue
            picked = _engine_for(engine, v, base_collection)
            if picked is None:
                rows.append(
                    AblationRow(
                        v.name,
                        ds.name,
                        split,
                        0,
                        None,
                        None,
                        None,
                        f"skipped: run `ragline tune embeddings --collection {base_collection}` first",
                    )
                )
                continue
            eng, collection = picked
            overrides = {} if v.configured else deep_merge(BASELINE, v.retrieval)
            retrieval = eng.settings.retrieval.overridden(RetrievalSettings(**overrides))
            if v.summaries:
                # Collections are built by run_beir; summaries need the collection to exist first.
                run_beir(eng, Path(path), split=split, collection=collection, limit=1)
                if eng.summaries_store(collection) is None:
                    eng.summarize(collection, llm=False)
                    note = "extractive summaries"

            def stage(name: str, done: int, total: int, label: str = f"{ds.name}: {v.name}") -> None:
                if progress is not None:
                    progress(f"{label}: {name}", done, total)

            result = run_beir(
                eng,
                Path(path),
                split=split,
                retrieval=retrieval,
                collection=collection,
                limit=limit,
                progress=stage,
                mode=retrieval.mode,
            )
            rows.append(
                AblationRow(
                    v.name,
                    ds.name,
                    split,
                    result.queries,
                    result.metrics["ndcg@10"],
                    result.metrics["recall@100"],
                    result.search_p50_ms,
                    note,
                )
            )
    return rows


def render_table(rows: Sequence[AblationRow]) -> str:
    """A Markdown table: one row per variant, one column group per dataset."""
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    variants = list(dict.fromkeys(r.variant for r in rows))
    by = {(r.variant, r.dataset): r for r in rows}
    head = "| variant | " + " | ".join(f"{d} nDCG@10 | {d} R@100 | {d} p50 ms" for d in datasets) + " |"
    sep = "|---|" + "---:|---:|---:|" * len(datasets)
    lines = [head, sep]
    for v in variants:
        cells = []
        for d in datasets:
            r = by.get((v, d))
            if r is None or r.ndcg10 is None:
                why = r.note if r is not None else "not run"
                cells += [why, "", ""]
            else:
                cells += [f"{r.ndcg10:.4f}", f"{r.recall100:.4f}", f"{r.p50_ms:.1f}"]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
