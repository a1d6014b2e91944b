"""``ask`` latency and answers of two checkouts, interleaved question by question (issue 23).

On a shared machine the load moves by several times within minutes, so two runs one after the
other compare the load as much as the code. Like ``bench/latency_ab.py``, this loads the other
checkout's ``ragline`` package as a renamed copy into the same process and asks each question of
every version in turn (rotating which goes first), over the same SQuAD collection that
``ragline eval qa`` builds. It reports, per version, ``ask`` p50/p95 (wall), the process CPU time
per ask (what the other jobs on the machine cannot inflate much), each stage's p50, and which
answers differ between the versions (text, short answer, abstention, whether the gold answer is in
the text).

    .venv/bin/python bench/ask_ab.py --version before=../main/src/ragline \\
        ../shared/datasets/squad-v1.1-dev --split calibration --limit 100 --data-dir /tmp/reader-qa
    .venv/bin/python bench/ask_ab.py ../shared/datasets/squad-v1.1-dev --data-dir /tmp/int8-qa \\
        --settings 'fp32={"data_dir": "/tmp/fp32-qa", "embedding": {"precision": "fp32"}}'
        # this checkout with other settings (and its own data directory) beside its defaults

Copy the data directory first if another job uses it: opening a collection may write.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from latency_ab import load_versions, parse_settings  # noqa: E402

from ragline.eval.qa import FULL_COLLECTION, SEED  # noqa: E402
from ragline.eval.squad import contains_answer, load_squad, sample_questions  # noqa: E402


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def _gold(a: Any, q: Any) -> bool:
    return bool(contains_answer(a.text, q.answers) and not a.abstained)


def _said(a: Any) -> tuple[str, bool, str | None]:
    return a.text, a.abstained, a.short.text if a.short is not None else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path, help="SQuAD-format folder (as for ragline eval qa)")
    ap.add_argument("--version", action="append", default=[], help="LABEL=path/to/other/src/ragline")
    ap.add_argument("--split", default="calibration", choices=["calibration", "test"])
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--data-dir", type=Path, required=True, help="holds eval-squad-full (eval qa's)")
    ap.add_argument("--show", type=int, default=20, help="differing answers to print")
    ap.add_argument(
        "--settings",
        action="append",
        default=[],
        help='LABEL=JSON: this checkout opened with these settings too, e.g. \'fp32={"data_dir": '
        '"/tmp/fp32-qa", "embedding": {"precision": "fp32"}}\' (data_dir defaults to --data-dir)',
    )
    args = ap.parse_args(argv)
    variants = parse_settings(ap, args.settings)
    packages, tmp = load_versions(ap, args.version)
    ds = load_squad(args.dataset)
    qs = sample_questions(ds.questions_in(args.split), args.limit, SEED)
    # Read before any engine caps them.
    own = max([int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"] or [1])
    engines: list[tuple[str, Any]] = []
    opened = [(label, pkg, {}) for label, pkg in packages]
    opened += [(label, packages[-1][1], kw) for label, kw in variants]
    for label, pkg, kw in opened:
        kw = {"data_dir": args.data_dir, **kw}
        engine = pkg.open(kw.pop("data_dir"), **kw)  # type: ignore[attr-defined]
        engine.ask(qs[0].text, collection=FULL_COLLECTION)  # load the models before timing
        engines.append((label, engine))
    wall: dict[str, list[float]] = {label: [] for label, _ in engines}
    cpu: dict[str, list[float]] = {label: [] for label, _ in engines}
    stages: dict[str, dict[str, list[float]]] = {label: {} for label, _ in engines}
    answers: dict[str, list[Any]] = {label: [] for label, _ in engines}
    loads = []
    # numpy's BLAS threads are process-wide: each version asks with its own setting
    # (``blas_threads``; versions without it with the process's own count).
    blas = {label: getattr(engine.settings, "blas_threads", None) or own for label, engine in engines}
    for i, q in enumerate(qs):
        loads.append(os.getloadavg()[0])
        turn = engines[i % len(engines) :] + engines[: i % len(engines)]
        for label, engine in turn:
            threadpool_limits(limits=blas[label], user_api="blas")
            c0, t0 = time.process_time(), time.perf_counter()
            a = engine.ask(q.text, collection=FULL_COLLECTION)
            wall[label].append((time.perf_counter() - t0) * 1000)
            cpu[label].append((time.process_time() - c0) * 1000)
            for k, v in a.timings_ms.items():
                stages[label].setdefault(k, []).append(v)
            answers[label].append(a)
    load = f"{min(loads):.1f}-{max(loads):.1f} (mean {np.mean(loads):.1f})"
    print(f"{len(qs)} {args.split} questions, load average {load}, BLAS threads {blas}")
    print(
        "| version | ask p50 / p95 ms | CPU p50 ms | retrieve / assemble / generate p50 ms "
        "| gold in text | abstained | short |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    for label, _ in engines:
        st = stages[label]
        got = answers[label]
        gold = sum(_gold(a, q) for a, q in zip(got, qs, strict=True))
        print(
            f"| {label} | {_pct(wall[label], 50):.1f} / {_pct(wall[label], 95):.1f} | "
            f"{_pct(cpu[label], 50):.1f} | "
            f"{_pct(st.get('retrieve', []), 50):.1f} / {_pct(st.get('assemble', []), 50):.1f} / "
            f"{_pct(st.get('generate', []), 50):.1f} | {gold / len(qs):.3f} | "
            f"{sum(a.abstained for a in got)} | {sum(a.short is not None and not a.abstained for a in got)} |"
        )
    if len(engines) > 1:
        first, last = engines[0][0], engines[-1][0]
        differ = [
            i
            for i, (a, b) in enumerate(zip(answers[first], answers[last], strict=True))
            if _said(a) != _said(b)
        ]
        print(f"\n{len(differ)} of {len(qs)} answers differ between {first} and {last}")
        for i in differ[: args.show]:
            q = qs[i]
            print(f"- {q.text}  (gold: {q.answers[0]!r})")
            for label in (first, last):
                a = answers[label][i]
                mark = "gold" if _gold(a, q) else "    "
                short = a.short.text if a.short is not None else None
                print(f"    {label:>7} {mark} conf {a.confidence:.2f} short {short!r}: {a.text[:150]!r}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
