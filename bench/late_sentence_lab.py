"""Late sentence vectors on today's pipeline without a cold ingest per variant (issue 26).

A cold ingest with ``chunking.sentence_vectors = "late"`` differs from the default collection only
in its sentence vectors: chunk vectors, token states, text and indexes come from the same chunks.
So this lab takes a copy of a default ("separate") collection, runs the model once over its stored
chunk texts (``sentence_layout`` and the pooling ingest uses, ``_pool_spans``), and writes one new
collection per variant with only the sentence vectors replaced; ``ragline eval beir`` then reads it
(a no-op re-ingest: nothing is embedded). Subcommands:

- ``pool COLLECTION OUT.npz``: one model pass; per sentence the pooling variants (``late``: the
  ingest's mean over the sentence's and the header's tokens; ``nohead``: the sentence's tokens
  only; ``margin``: the sentence's tokens with 3 neighbouring tokens either side, and the header's),
  per chunk its vector, and the stored separately embedded sentence vectors beside them;
  ``--split 1,2`` adds ``split1``, ``split2`` (``chunking.sentence_vectors = "split"`` with that
  many last layers run per sentence) from the same model run.
- ``fit SQUAD_CORPUS OUT.npz [--articles calibration] [--ship DIR]``: the same pooling over
  generic text (SQuAD paragraphs, chunked as ingest chunks them) and the separately embedded
  ``header + sentence`` vectors; ridge maps from late-pooled (and late-pooled + chunk) vectors to
  the separate ones, the ridge strength chosen on held-out paragraphs. ``--articles calibration``
  keeps the SQuAD calibration articles only (index % 4 in {0, 1}: the test articles issue 23's
  answer benchmark reports on stay unseen); ``--ship DIR`` also writes the ``late+chunk`` map as
  the ``.npz`` ragline ships (``ragline.embedding.sentence_map``), its provenance inside.
- ``eval COLLECTION POOLED.npz DATASET:SPLIT --variant NAME=POOL[,sub=G][,map=FILE[:KEY]]``: per
  variant a collection ``<name>-<variant>`` beside the source, evaluated as ``ragline eval beir``.
- ``check DATASET --docs N``: the shortcut's proof: cold-ingests N documents twice (separate,
  late), re-pools the separate collection as ``pool`` does and compares with the late collection's
  stored vectors.
- ``cold DATASET:SPLIT --data DIR [--raw-every K]``: the shortcut confirmed the slow way: one real
  cold ingest of the whole corpus into the fresh ``DIR`` with the configured settings (set
  ``RAGLINE_CHUNKING__SENTENCE_VECTORS``), then nDCG@10 as ``ragline eval beir``, the
  collection's bytes a chunk (``du -sb``), and the ingest's chunks/s over the raw model's, the raw
  rate measured on every K-th chunk text before and after the ingest (as ``bench/ingest.py``).
- ``perquery DATA_DIR NAME_A NAME_B DATASET:SPLIT``: two collections of ``DATA_DIR`` (e.g. the
  ``eval`` variants) on the same queries: how many queries change, the largest losses and gains
  of B against A, and a paired bootstrap interval of the mean nDCG@10 difference.

    RAGLINE_DATA_DIR=/tmp/lateingest/base .venv/bin/python bench/late_sentence_lab.py pool \\
        /tmp/lateingest/base/collections/beir-scifact /tmp/lateingest/scifact-pooled.npz
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from benchlib import raw_model_rate  # noqa: E402

import ragline  # noqa: E402
from ragline.embedding.base import l2_normalize  # noqa: E402
from ragline.embedding.onnx import OnnxEmbedder, _pool_spans  # noqa: E402
from ragline.embedding.sentence_map import save_sentence_map  # noqa: E402
from ragline.embedding.sentence_vectors import Span, sentence_layout, separate_sentence_vectors  # noqa: E402
from ragline.eval.squad import split_of  # noqa: E402
from ragline.loaders.registry import load_file  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402
from ragline.types import Chunk  # noqa: E402

F32 = npt.NDArray[np.float32]
MARGIN = 3
# The ridge strengths fit tries (chosen by held-out cosine to the separate vectors).
LAMBDAS = (0.1, 1.0, 10.0, 100.0)


def pool_variants(hidden: F32, encoding: Any, head: int, spans: Sequence[Span]) -> dict[str, F32]:
    """Per kept span (as ``_pool_spans`` keeps them) each pooling variant, unit length."""
    k = len(encoding.ids)
    h = hidden[:k]
    starts = np.asarray([o[0] for o in encoding.offsets], dtype=np.int64)
    real = ~np.asarray(encoding.special_tokens_mask, dtype=bool)
    in_head = real & (starts < head)
    nohead, margin = [], []
    for a, b in spans:
        own = real & (starts >= a) & (starts < b) & ~in_head
        if not own.any():
            continue
        nohead.append(h[own].mean(axis=0))
        at = np.flatnonzero(own)
        wide = np.zeros(k, dtype=bool)
        wide[max(at[0] - MARGIN, 0) : at[-1] + MARGIN + 1] = True
        margin.append(h[(wide & real) | in_head].mean(axis=0))
    late = _pool_spans(hidden, encoding, head, spans, True)
    dim = hidden.shape[-1]

    def unit(rows: list[Any]) -> F32:
        return l2_normalize(np.asarray(rows, dtype=np.float32)) if rows else np.zeros((0, dim), np.float32)

    return {"late": late, "nohead": unit(nohead), "margin": unit(margin)}


def pooled_pass(
    emb: OnnxEmbedder, texts: list[str], heads: list[int], spans: list[list[Span]]
) -> tuple[F32, list[dict[str, F32]]]:
    """Chunk vectors and per chunk the pooling variants, from one model run (as ingest runs it)."""
    got: list[dict[str, F32]] = [{} for _ in texts]

    def each(i: int, h: F32, e: Any) -> F32:
        got[i] = pool_variants(h, e, heads[i], spans[i])
        return got[i]["late"]

    vectors, _ = emb._pooled_and(texts, each)
    return vectors, got


def split_pooled_pass(
    emb: OnnxEmbedder, texts: list[str], heads: list[int], spans: list[list[Span]], layers: list[int]
) -> tuple[F32, list[dict[str, F32]]]:
    """:func:`pooled_pass` plus, from the same model run, the ``split`` sentence vectors with
    each of ``layers`` last layers run per sentence (``OnnxEmbedder.split_pass``, as ingest)."""
    got: list[dict[str, F32]] = [{} for _ in texts]

    def each(i: int, h: F32, e: Any) -> None:
        got[i] = pool_variants(h, e, heads[i], spans[i])

    vectors, split = emb.split_pass(texts, heads, spans, layers, each)
    for k in layers:
        for i, rows in enumerate(split[k]):
            got[i][f"split{k}"] = rows
    return vectors, got


def flatten(per_chunk: list[dict[str, F32]], key: str) -> tuple[F32, npt.NDArray[np.int64]]:
    rows = [d[key] for d in per_chunk]
    counts = np.asarray([len(r) for r in rows], dtype=np.int64)
    return np.concatenate(rows).astype(np.float32), counts


def cmd_pool(args: argparse.Namespace) -> int:
    meta = json.loads((args.collection / "collection.json").read_text(encoding="utf-8"))
    store = LanceStore(args.collection, dimension=int(meta["dimension"]), model_id=str(meta["model_id"]))
    chunks: list[Chunk] = []
    separate: list[F32] = []
    for b in store.export_batches():
        chunks.extend(b.chunks)
        assert b.sentence_vectors is not None
        separate.extend(np.asarray(v, dtype=np.float32) for v in b.sentence_vectors)
    texts, heads, spans = sentence_layout(chunks)
    emb = OnnxEmbedder()
    t0 = time.perf_counter()
    split_layers = [int(k) for k in args.split.split(",")] if args.split else []
    if split_layers:
        vectors, per_chunk = split_pooled_pass(emb, texts, heads, spans, split_layers)
    else:
        vectors, per_chunk = pooled_pass(emb, texts, heads, spans)
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {"ids": np.asarray([c.id for c in chunks]), "chunk": vectors}
    for key in ("late", "nohead", "margin", *(f"split{k}" for k in split_layers)):
        out[key], out[key + "_counts"] = flatten(per_chunk, key)
    out["separate"] = np.concatenate(separate)
    out["separate_counts"] = np.asarray([len(s) for s in separate], dtype=np.int64)
    np.savez(args.out, **out)
    same = out["late_counts"] == out["separate_counts"]
    print(
        json.dumps(
            {
                "chunks": len(chunks),
                "sentences_late": int(out["late_counts"].sum()),
                "sentences_separate": int(out["separate_counts"].sum()),
                "chunks_with_fewer_late_rows": int((~same).sum()),
                "model_seconds": round(seconds, 1),
            }
        )
    )
    return 0


def ridge(x: F32, y: F32, lam: float) -> F32:
    """``W`` (with a bias row last) minimising ``|[x 1] W - y|^2 + lam |W|^2``."""
    xb = np.hstack([x, np.ones((len(x), 1), np.float32)]).astype(np.float64)
    gram = xb.T @ xb + lam * np.eye(xb.shape[1])
    return np.linalg.solve(gram, xb.T @ y.astype(np.float64)).astype(np.float32)


def apply_map(w: F32, x: F32) -> F32:
    return l2_normalize(x @ w[:-1] + w[-1])


def cmd_fit(args: argparse.Namespace) -> int:
    engine = ragline.open(args.work)
    docs = load_file(args.corpus, engine.settings.loaders)
    if args.articles != "all":
        # Paragraph ids are "<article>-<paragraph>" (ragline.eval.squad); keep one split's articles.
        docs = [d for d in docs if split_of(int(d.id.partition("-")[0])) == args.articles]
    docs = docs[: args.paragraphs]
    chunks = [c for d in docs for c in engine.chunker.chunk(d).chunks]
    texts, heads, spans = sentence_layout(chunks)
    emb = OnnxEmbedder()
    vectors, per_chunk = pooled_pass(emb, texts, heads, spans)
    sep = separate_sentence_vectors(emb, texts, heads, spans)
    # Rows where late pooling kept every sentence (truncation drops tail spans): aligned pairs.
    keep = [i for i, d in enumerate(per_chunk) if len(d["late"]) == len(sep[i])]
    doc_of = [c.doc_id for c in chunks]
    docs_seen = list(dict.fromkeys(doc_of))
    held = set(docs_seen[int(len(docs_seen) * 0.8) :])
    out: dict[str, Any] = {}
    report: dict[str, Any] = {
        "paragraphs": len(docs),
        "articles": len({d.id.partition("-")[0] for d in docs}),
        "chunks": len(chunks),
        "sentences": sum(len(sep[i]) for i in keep),
    }
    for key in ("late", "nohead", "margin"):
        for with_chunk in (False, True):
            name = key + ("+chunk" if with_chunk else "")

            def rows(ids: list[int], key: str = key, with_chunk: bool = with_chunk) -> tuple[F32, F32]:
                xs = [per_chunk[i][key] for i in ids]
                if with_chunk:
                    xs = [
                        np.hstack([x, np.repeat(vectors[i][None], len(x), 0)])
                        for x, i in zip(xs, ids, strict=True)
                    ]
                return np.concatenate(xs).astype(np.float32), np.concatenate([sep[i] for i in ids]).astype(
                    np.float32
                )

            train = [i for i in keep if doc_of[i] not in held]
            test = [i for i in keep if doc_of[i] in held]
            xtr, ytr = rows(train)
            xte, yte = rows(test)
            base = float(np.mean(np.sum(xte[:, : yte.shape[1]] * yte, axis=1)))
            best = (-1.0, 0.0)
            for lam in LAMBDAS:
                cos = float(np.mean(np.sum(apply_map(ridge(xtr, ytr, lam), xte) * yte, axis=1)))
                best = max(best, (cos, lam))
            xall, yall = rows(keep)
            out[name] = ridge(xall, yall, best[1])
            report[name] = {
                "held_out_cos_before": round(base, 4),
                "after": round(best[0], 4),
                "lambda": best[1],
            }
    np.savez(args.out, **out)
    print(json.dumps(report))
    if args.ship is not None:
        name = "late+chunk"
        provenance = {
            "fitted_by": "bench/late_sentence_lab.py fit",
            "model_id": emb.model_id,
            "features": "[late sentence vector, chunk vector, 1] -> separately embedded header + sentence",
            "corpus": f"SQuAD v1.1 dev ({args.corpus.parent.name}/{args.corpus.name})",
            "articles": args.articles
            + (" (article index % 4 in {0, 1})" if args.articles == "calibration" else ""),
            "n_articles": report["articles"],
            "paragraphs": len(docs),
            "chunks": len(chunks),
            "sentences": report["sentences"],
            "lambda": report[name]["lambda"],
            "lambda_choice": f"best held-out mean cosine over {list(LAMBDAS)}, fitted on the first 80 % "
            "of paragraphs, tested on the last 20 %; then refitted on all",
            "held_out_cosine_before": report[name]["held_out_cos_before"],
            "held_out_cosine_after": report[name]["after"],
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        }
        path = save_sentence_map(args.ship, emb.model_id, out[name], provenance)
        print(json.dumps({"shipped": str(path)}))
    return 0


def variant_vectors(spec: str, pooled: Any) -> tuple[F32, npt.NDArray[np.int64]]:
    """``POOL[,sub=G][,map=FILE[:KEY]][,blend=A][,sep=...]`` over the pooled arrays: flat rows
    and counts per chunk."""
    pool, *opts = spec.split(",")
    rows = np.asarray(pooled[pool], dtype=np.float32)
    counts = np.asarray(pooled[pool + "_counts"])
    chunk_rows = np.repeat(np.asarray(pooled["chunk"], dtype=np.float32), counts, axis=0)
    for opt in opts:
        name, _, value = opt.partition("=")
        if name == "sub":
            rows = l2_normalize(rows - float(value) * chunk_rows)
        elif name == "map":
            path, _, key = value.partition(":")
            w = np.load(path)[key or pool]
            x = rows if w.shape[0] == rows.shape[1] + 1 else np.hstack([rows, chunk_rows])
            rows = apply_map(w, x)
        elif name == "blend":
            # Part of the way from the pooled vectors to what the options before made of them.
            a = float(value)
            rows = l2_normalize(a * rows + (1 - a) * np.asarray(pooled[pool], dtype=np.float32))
        elif name == "sep":
            rows = with_separate(rows, counts, pooled, value, chunk_rows)
        else:
            raise SystemExit(f"unknown variant option {opt!r}: use sub=G, map=FILE[:KEY] or sep=...")
    return rows, counts


def with_separate(rows: F32, counts: npt.NDArray[np.int64], pooled: Any, how: str, chunk_rows: F32) -> F32:
    """Some sentences take their separately embedded vector (stored in the source collection):
    ``first`` (each chunk's first sentence) or ``close:F`` (the share F of sentences whose pooled
    vector is closest to their chunk's). Chunks whose sentence counts differ keep theirs."""
    sep = np.asarray(pooled["separate"], dtype=np.float32)
    sep_counts = np.asarray(pooled["separate_counts"])
    if not np.array_equal(counts, np.asarray(pooled["late_counts"])):
        raise SystemExit("sep= needs a pooling that keeps the same sentences as late")
    at = np.concatenate([[0], np.cumsum(counts)])
    sat = np.concatenate([[0], np.cumsum(sep_counts)])
    same = counts == sep_counts
    pick = np.zeros(len(rows), dtype=bool)
    if how == "first":
        pick[at[:-1][same & (counts > 0)]] = True
    elif how.startswith("close:"):
        share = float(how.partition(":")[2])
        cos = np.sum(rows * chunk_rows, axis=1)
        ok = np.repeat(same, counts)
        cut = np.quantile(cos[ok], 1 - share)
        pick = ok & (cos >= cut)
    else:
        raise SystemExit(f"unknown sep={how!r}: use first or close:F")
    out = rows.copy()
    src = np.concatenate(
        [
            np.arange(sat[i], sat[i] + counts[i]) if same[i] else np.full(counts[i], -1)
            for i in range(len(counts))
        ]
    )
    out[pick] = sep[src[pick]]
    print(json.dumps({"separately_embedded_share": round(float(pick.mean()), 3)}), flush=True)
    return out


def write_variant(src: Path, dst: Path, ids: Sequence[str], rows: F32, counts: npt.NDArray[np.int64]) -> None:
    """A copy of the collection at ``src`` with each chunk's sentence vectors replaced."""
    at = np.concatenate([[0], np.cumsum(counts)])
    by_id = {cid: rows[at[i] : at[i + 1]] for i, cid in enumerate(ids)}
    meta = json.loads((src / "collection.json").read_text(encoding="utf-8"))
    dim, model_id = int(meta["dimension"]), str(meta["model_id"])
    if dst.exists():
        shutil.rmtree(dst)
    old = LanceStore(src, dimension=dim, model_id=model_id)
    new = LanceStore(dst, dimension=dim, model_id=model_id)
    for b in old.export_batches():
        new.upsert([replace(b, sentence_vectors=[by_id[c.id] for c in b.chunks])])
    new.finalize()
    # The ingest's bookkeeping beside the table (write token, near-duplicate signatures) as in src.
    for extra in src.iterdir():
        if not (dst / extra.name).exists():
            (shutil.copytree if extra.is_dir() else shutil.copy2)(extra, dst / extra.name)


def cmd_eval(args: argparse.Namespace) -> int:
    from ragline.eval.runner import run_beir

    pooled = np.load(args.pooled)
    ids = [str(x) for x in pooled["ids"]]
    data_dir = args.collection.parent.parent
    results = []
    for spec in args.variant:
        name, _, body = spec.partition("=")
        target = args.collection.parent / f"{args.collection.name}-{name}"
        if name != "as-is":
            rows, counts = variant_vectors(body, pooled)
            write_variant(args.collection, target, ids, rows, counts)
        engine = ragline.open(data_dir)
        for dataset, split in ((Path(s.rpartition(":")[0]), s.rpartition(":")[2]) for s in args.datasets):
            coll = args.collection.name if name == "as-is" else target.name
            res = run_beir(engine, dataset, split=split, collection=coll)
            row = {
                "variant": name,
                "spec": body,
                "dataset": res.dataset,
                "split": split,
                "ndcg@10": round(res.metrics["ndcg@10"], 4),
                "recall@100": round(res.metrics["recall@100"], 4),
                "embedded_on_ingest": res.ingest.chunks_embedded,
            }
            print(json.dumps(row), flush=True)
            results.append(row)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    work = args.work
    if work.exists():
        shutil.rmtree(work)
    sample = work / "sample.jsonl"
    work.mkdir(parents=True)
    with (args.dataset / "corpus.jsonl").open() as src, sample.open("w") as dst:
        for i, line in enumerate(src):
            if i >= args.docs:
                break
            dst.write(line)
    for form in ("separate", "late"):
        ragline.open(work / form, chunking={"sentence_vectors": form}).ingest([sample], collection="c")
    sep_coll = work / "separate" / "collections" / "c"
    late_coll = work / "late" / "collections" / "c"
    meta = json.loads((sep_coll / "collection.json").read_text(encoding="utf-8"))
    store = LanceStore(sep_coll, dimension=int(meta["dimension"]), model_id=str(meta["model_id"]))
    chunks = [c for b in store.export_batches() for c in b.chunks]
    texts, heads, spans = sentence_layout(chunks)
    _, per_chunk = pooled_pass(OnnxEmbedder(), texts, heads, spans)
    rows, counts = flatten(per_chunk, "late")
    write_variant(
        sep_coll, work / "separate" / "collections" / "c-late", [c.id for c in chunks], rows, counts
    )
    lab = LanceStore(
        work / "separate" / "collections" / "c-late",
        dimension=int(meta["dimension"]),
        model_id=str(meta["model_id"]),
    )
    cold = LanceStore(late_coll, dimension=int(meta["dimension"]), model_id=str(meta["model_id"]))
    ids = [c.id for c in chunks]
    worst, mismatched = 0.0, 0
    for a, b in zip(lab.fetch_sentence_vectors(ids), cold.fetch_sentence_vectors(ids), strict=True):
        assert a is not None and b is not None
        va, vb = np.asarray(a[1], np.float32), np.asarray(b[1], np.float32)
        if va.shape != vb.shape:
            mismatched += 1
            continue
        worst = max(worst, float(np.abs(va - vb).max()) if va.size else 0.0)
    print(json.dumps({"chunks": len(ids), "shape_mismatches": mismatched, "max_abs_diff": worst}))
    return 0


def cmd_cold(args: argparse.Namespace) -> int:
    import os

    from ragline.eval.runner import run_beir

    dataset, _, split = args.dataset.rpartition(":")
    if (args.data / "collections").exists():
        raise SystemExit(f"{args.data} already holds collections: a cold ingest needs a fresh data dir")
    load = [os.getloadavg()]
    engine = ragline.open(args.data)
    docs = load_file(Path(dataset) / "corpus.jsonl", engine.settings.loaders)
    texts = [c.embed_text for d in docs for c in engine.chunker.chunk(d).chunks]
    sample = texts[:: args.raw_every]
    inner = engine.embedder.inner
    raw_rate = raw_model_rate(inner, sample)
    raws = [raw_rate()]
    load.append(os.getloadavg())
    res = run_beir(engine, Path(dataset), split=split)
    load.append(os.getloadavg())
    raws.append(raw_rate())
    load.append(os.getloadavg())
    report = res.ingest
    coll = args.data / "collections" / f"beir-{res.dataset}"
    disk = sum(f.stat().st_size for f in coll.rglob("*") if f.is_file())
    rate = report.chunks_indexed / report.seconds_total
    out = {
        "dataset": res.dataset,
        "split": split,
        "sentence_vectors": engine.settings.chunking.sentence_vectors,
        "ndcg@10": round(res.metrics["ndcg@10"], 4),
        "recall@100": round(res.metrics["recall@100"], 4),
        "chunks": report.chunks_indexed,
        "chunks_embedded": report.chunks_embedded,
        "ingest_seconds": round(report.seconds_total, 1),
        "embedding_seconds": round(report.seconds_embedding, 1),
        "ingest_chunks_per_s": round(rate, 2),
        "raw_sample_texts": len(sample),
        "raw_chunks_per_s_before_after": [round(r, 2) for r in raws],
        "ratio": round(rate / float(np.mean(raws)), 3),
        "collection_bytes": disk,
        "bytes_per_chunk": round(disk / max(1, report.chunks_indexed)),
        "loadavg_1_5_15": [[round(x, 2) for x in la] for la in load],
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    print(json.dumps(out), flush=True)
    return 0


def cmd_perquery(args: argparse.Namespace) -> int:
    from ragline.eval.beir import load_beir
    from ragline.eval.metrics import evaluate
    from ragline.eval.runner import run_beir

    dataset, _, split = args.dataset.rpartition(":")
    engine = ragline.open(args.data)
    qrels = load_beir(Path(dataset), split).qrels
    per = []
    for name in (args.a, args.b):
        res = run_beir(engine, Path(dataset), split=split, collection=name)
        per.append({q: v["ndcg@10"] for q, v in evaluate(res.run, qrels).per_query.items()})
    qs = sorted(per[0])
    d = np.asarray([per[1][q] - per[0][q] for q in qs])
    rng = np.random.default_rng(0)
    boots = [float(d[rng.integers(0, len(d), len(d))].mean()) for _ in range(2000)]
    out = {
        "queries": len(qs),
        "mean_delta": round(float(d.mean()), 4),
        "lower": int((d < -1e-9).sum()),
        "higher": int((d > 1e-9).sum()),
        "sum_losses": round(float(d[d < 0].sum()), 3),
        "sum_gains": round(float(d[d > 0].sum()), 3),
        "largest_losses": np.round(np.sort(d)[:8], 3).tolist(),
        "largest_gains": np.round(np.sort(d)[-8:], 3).tolist(),
        "mean_delta_without_the_worst_3": round(float(np.sort(d)[3:].sum() / len(d)), 4),
        "bootstrap_95": [round(float(np.percentile(boots, q)), 4) for q in (2.5, 97.5)],
    }
    print(json.dumps(out), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pool")
    p.add_argument("collection", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--split", default="", help="also split sentence vectors with these last layers, e.g. 1,2")
    f = sub.add_parser("fit")
    f.add_argument("corpus", type=Path)
    f.add_argument("out", type=Path)
    f.add_argument("--paragraphs", type=int, default=1500)
    f.add_argument("--work", type=Path, default=Path("/tmp/lateingest/fit"))
    f.add_argument("--articles", choices=["all", "calibration"], default="all")
    f.add_argument("--ship", type=Path, default=None, help="also write the shipped map into this dir")
    e = sub.add_parser("eval")
    e.add_argument("collection", type=Path)
    e.add_argument("pooled", type=Path)
    e.add_argument("datasets", nargs="+")
    e.add_argument("--variant", action="append", required=True)
    c = sub.add_parser("check")
    c.add_argument("dataset", type=Path)
    c.add_argument("--docs", type=int, default=100)
    c.add_argument("--work", type=Path, default=Path("/tmp/lateingest/check"))
    k = sub.add_parser("cold")
    k.add_argument("dataset", help="DATASET_DIR:SPLIT")
    k.add_argument("--data", type=Path, required=True, help="a fresh data dir")
    k.add_argument("--raw-every", type=int, default=6, help="the raw model rate on every K-th chunk text")
    q = sub.add_parser("perquery")
    q.add_argument("data", type=Path, help="the data dir holding both collections")
    q.add_argument("a")
    q.add_argument("b")
    q.add_argument("dataset", help="DATASET_DIR:SPLIT")
    args = ap.parse_args(argv)
    commands = {
        "pool": cmd_pool,
        "fit": cmd_fit,
        "eval": cmd_eval,
        "check": cmd_check,
        "cold": cmd_cold,
        "perquery": cmd_perquery,
    }
    return commands[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
