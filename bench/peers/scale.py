"""Scale part: hybrid top-10 query latency as the collection grows (10k, 100k, 1M chunks).

Every system indexes the same synthetic chunks: clustered 384-d vectors (256 Gaussian centres,
L2-normalised; plain random vectors make every ANN index look broken) and ~60-word texts drawn
from SciFact's vocabulary with Zipfian frequencies. Embedding 1M real chunks would take ~10 h
here, so vectors are passed in precomputed (each peer's API allows it: TextNode.embedding,
FAISS.from_embeddings, Document.embedding, ragline's store) and queries carry a precomputed
vector too: a stored vector ("target", among the first 10k chunks so it exists at every size)
plus small noise, with four of the target's rarer words as the query text. ``target@10`` is the
share of queries whose target comes back in the top 10, a check that each system really
searched the whole collection.

Before each point the harness estimates each system's RAM and time (peerbench/estimate.py) and
skips it, with the reason recorded, when it would not fit in memory or in the time budget.

    bench/peers/.venv/bin/python bench/peers/scale.py --dir bench/peers/results/scale-data --n 100000
generates the data only (run.py calls :func:`generate` and :func:`run_scale`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from peerbench.estimate import GIB, estimate_ram_bytes, estimate_seconds
from peerbench.proc import run_worker, wait_for_quiet

DIM = 384
WORDS = 60
N_QUERIES = 200
TARGETS_WITHIN = 10_000
WARMUP = 3
MAX_QUERIES = 100
MIN_QUERIES = 3
QUIET_WAIT_S = 15.0  # longest wait for other processes to quieten before a point (run.py sets it)
SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "scifact" / "corpus.jsonl"


def vocabulary(limit: int = 20_000) -> list[str]:
    words: Counter[str] = Counter()
    if SCIFACT.is_file():
        with SCIFACT.open(encoding="utf-8") as fh:
            for line in fh:
                o = json.loads(line)
                words.update(
                    re.findall(r"[a-z]{3,15}", (o.get("title", "") + " " + o.get("text", "")).lower())
                )
    if len(words) < 1000:  # no dataset: made-up words still give a Zipfian term distribution
        rng = np.random.default_rng(7)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        return ["".join(rng.choice(letters, size=int(rng.integers(4, 11)))) for _ in range(limit)]
    return [w for w, _ in words.most_common(limit)]


def generate(d: Path, n: int, seed: int = 0) -> dict:
    """Write n chunks (vectors.npy, texts.txt) and the queries to ``d``; reuse when already there."""
    meta_path = d / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("n", 0) >= n and meta.get("seed") == seed and meta.get("words") == WORDS:
            return meta
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary())
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    centers = rng.normal(size=(256, DIM))
    vecs = np.lib.format.open_memmap(d / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    first_words = None
    step = 50_000
    with (d / "texts.txt").open("w", encoding="utf-8") as fh:
        for b in range(0, n, step):
            m = min(step, n - b)
            v = centers[rng.integers(0, 256, m)] + 0.6 * rng.normal(size=(m, DIM))
            vecs[b : b + m] = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
            idx = rng.choice(len(vocab), size=(m, WORDS), p=zipf)
            if first_words is None:
                first_words = idx[:TARGETS_WITHIN].copy()
            fh.write("\n".join(" ".join(row) for row in vocab[idx]) + "\n")
    vecs.flush()
    qrng = np.random.default_rng(seed + 1)
    targets = qrng.choice(min(n, TARGETS_WITHIN), size=N_QUERIES, replace=False)
    queries = []
    qv = np.empty((N_QUERIES, DIM), dtype=np.float32)
    for i, t in enumerate(targets):
        rare = sorted(set(first_words[t].tolist()), reverse=True)[:4]  # higher index = rarer word
        queries.append({"text": " ".join(vocab[rare]), "target": int(t)})
        v = vecs[t] + 0.01 * qrng.normal(size=DIM)
        qv[i] = v / np.linalg.norm(v)
    np.save(d / "query_vectors.npy", qv)
    (d / "queries.json").write_text(json.dumps(queries))
    meta = {
        "n": n,
        "seed": seed,
        "words": WORDS,
        "dim": DIM,
        "vocabulary": len(vocab),
        "generate_s": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_text(json.dumps(meta))
    del vecs
    return meta


def plan(
    system: str, n: int, prev: dict | None, ram_limit: float, seconds_left: float, query_cap_s: float
) -> tuple[bool, str, dict]:
    """Whether to attempt ``n`` chunks for ``system``, why not, and the estimates."""
    measured = None
    if prev and prev.get("ok"):
        measured = (prev["n"], float(prev["peak_rss_bytes"]))
    ram = estimate_ram_bytes(system, n, measured)
    est = {"est_ram_gib": round(ram / GIB, 1)}
    if ram > ram_limit:
        return (
            False,
            (
                f"skipped: estimated {ram / GIB:.1f} GiB peak RSS at {n:,} chunks, over the "
                f"{ram_limit / GIB:.1f} GiB available"
            ),
            est,
        )
    if prev and prev.get("ok"):
        secs = estimate_seconds(
            prev["n"],
            prev["build_s"],
            prev["latency"]["mean_ms"] / 1000,
            n,
            max_queries=MAX_QUERIES,
            min_queries=MIN_QUERIES,
            warmup=WARMUP,
            query_cap_s=query_cap_s,
        )
        est["est_seconds"] = round(secs)
        if secs > seconds_left:
            return (
                False,
                (
                    f"skipped: estimated {secs / 60:.0f} min at {n:,} chunks (build "
                    f"{prev['build_s']:.0f} s and {prev['latency']['mean_ms']:.0f} ms/query at "
                    f"{prev['n']:,}, scaled), over the {max(0, seconds_left) / 60:.0f} min left "
                    "in the time budget"
                ),
                est,
            )
    elif prev is not None:
        return False, f"skipped: the {prev['n']:,}-chunk point failed ({prev.get('error', '?')})", est
    return True, "", est


def run_scale(
    points: list[int],
    systems: list[str],
    data_dir: Path,
    work: Path,
    out_dir: Path,
    deadline: float,
    ram_limit: float,
    query_caps: dict[int, float],
    log,
) -> list[dict]:
    """Every (point, system) in order; each point's estimates use the previous point's results."""
    results: list[dict] = []
    prev: dict[str, dict] = {}
    # No floor: the command's budget is a promise, so a point that would not finish before the
    # deadline is skipped (and the report says why) rather than run late.
    if points:
        # Once, at the largest size: each smaller point reads a prefix of the same files.
        log(f"scale: generating {max(points):,} synthetic chunks")
        meta = generate(data_dir, max(points))
        log(f"scale: data ready ({meta.get('generate_s', 0)} s)")
    for n in points:
        for s in systems:
            left = deadline - time.time()
            ok, reason, est = plan(s, n, prev.get(s), ram_limit, left, query_caps.get(n, 60.0))
            rec = {"system": s, "n": n, **est}
            if ok:
                rec["waited_for_quiet_s"] = wait_for_quiet(
                    min(QUIET_WAIT_S, max(0.0, left - est.get("est_seconds", 0)))
                )
            if not ok:
                log(f"scale {n:,} {s}: {reason}")
                rec.update({"ok": False, "skipped": True, "error": reason})
            else:
                log(f"scale {n:,} {s}: running (estimate {est})")
                wd = work / f"scale-{s}-{n}"
                res = run_worker(
                    [
                        "scale",
                        "--system",
                        s,
                        "--scale-dir",
                        str(data_dir),
                        "--n",
                        str(n),
                        "--work",
                        str(wd),
                        "--warmup",
                        str(WARMUP),
                        "--max-queries",
                        str(MAX_QUERIES),
                        "--min-queries",
                        str(MIN_QUERIES),
                        "--max-query-seconds",
                        str(query_caps.get(n, 60.0)),
                    ],
                    out_dir / f"scale-{s}-{n}.json",
                    out_dir / "logs" / f"scale-{s}-{n}.log",
                    timeout_s=max(60.0, left),
                    rss_limit_bytes=ram_limit,
                )
                rec.update(res)
                rec["n"] = n
                _rm(wd)
                if res.get("ok"):
                    log(
                        f"scale {n:,} {s}: build {res['build_s']:.1f} s, "
                        f"p50 {res['latency']['p50_ms']:.1f} ms, "
                        f"peak {res['peak_rss_bytes'] / GIB:.2f} GiB"
                    )
                else:
                    log(f"scale {n:,} {s}: FAILED {res.get('error')}")
            prev[s] = rec
            results.append(rec)
    return results


def _rm(p: Path) -> None:
    import shutil

    shutil.rmtree(p, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    print(json.dumps(generate(args.dir, args.n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
