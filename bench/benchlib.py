"""Argument helpers the bench scripts share: ``DATASET_DIR:SPLIT`` specs, ``--variant`` specs, and the
lab scripts' common arguments."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def dataset_splits(specs: Sequence[str]) -> Iterator[tuple[Path, str]]:
    """``(dataset dir, split)`` for each ``DATASET_DIR:SPLIT``; absent datasets are skipped with a
    message (BEIR data lives in ../shared/datasets and is never copied into the project)."""
    for spec in specs:
        where, _, split = spec.rpartition(":")
        path = Path(where)
        if not (path / "corpus.jsonl").exists():
            print(f"skip {spec}: {path}/corpus.jsonl not found (BEIR datasets live in ../shared/datasets)")
            continue
        yield path, split


def parse_variants(ap: argparse.ArgumentParser, specs: Sequence[str]) -> list[tuple[str, dict[str, object]]]:
    """``NAME={json}`` specs as (name, retrieval-setting updates); a malformed one exits via ``ap``."""
    variants: list[tuple[str, dict[str, object]]] = []
    for spec in specs or ["configured={}"]:
        name, sep, body = spec.partition("=")
        try:
            updates = json.loads(body) if sep else None
        except json.JSONDecodeError as e:
            ap.error(f"--variant {spec!r}: the part after '=' is not JSON ({e})")
        if not isinstance(updates, dict):
            ap.error(f"--variant {spec!r}: write NAME={{...}}, a JSON object of retrieval settings")
        variants.append((name, updates))
    return variants


def print_result(out: dict[str, Any], as_json: bool) -> None:
    """A script's flat result: one JSON line, or one ``key: value`` line per entry."""
    if as_json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


def lab_parser(doc: str | None, cache_dir: Path) -> argparse.ArgumentParser:
    """The lab scripts' arguments: ``DATASET_DIR:SPLIT`` specs and where their caches live."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", help="DATASET_DIR:SPLIT")
    ap.add_argument("--cache-dir", type=Path, default=cache_dir)
    return ap


def lab_collections(engine: Any, specs: Sequence[str]) -> Iterator[tuple[Any, str, str]]:
    """``(dataset, split, collection)`` for each ``DATASET_DIR:SPLIT`` whose BEIR collection has been
    built in ``engine``'s data directory; the others are skipped with the command that builds them."""
    from ragline.eval.beir import load_beir

    for path, split in dataset_splits(specs):
        ds = load_beir(path, split)
        name = f"beir-{ds.name}"
        if name not in engine.collections():
            print(f"skip {path}: collection {name} not found; run `ragline eval beir {path}` first")
            continue
        yield ds, split, name


@contextlib.contextmanager
def ragline_serve(data: Path, env: dict[str, str], timeout: float = 180) -> Iterator[str]:
    """``ragline serve`` on a free loopback port over ``data`` (``env``: extra ``RAGLINE_*``
    settings); yields its base URL once ``/readyz`` answers 200, stops it at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "RAGLINE_DATA_DIR": str(data), "RAGLINE_SERVER__JSON_LOGS": "false", **env}
    server = subprocess.Popen(
        [sys.executable, "-m", "ragline.cli.main", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"ragline serve over {data} did not become ready")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-3, *, iterations: int = 100, tol: float = 1e-8
) -> np.ndarray:
    """Logistic regression by Newton-Raphson (IRLS) with an L2 penalty; returns [bias, w...].
    The confidence and support models of the answer benches are fitted with it."""
    X = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(X.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -50, 50)))
        g = X.T @ (p - y) + l2 * w
        H = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(len(w))
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < tol:
            break
    return w


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the chance a positive outscores a negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def raw_model_rate(model: Any, texts: Sequence[str]) -> Callable[[], float]:
    """A timer of ``model``'s raw throughput on ``texts`` (texts a second through
    ``embed_documents`` alone: no cache, no store), warmed up once: what issue 26's cold-ingest
    ratio divides by. Call it before and after each ingest: the shared machine's speed drifts."""
    model.embed_documents(list(texts[:64]))  # warm-up: session load, first-call allocations

    def rate() -> float:
        t0 = time.perf_counter()
        model.embed_documents(texts)
        return len(texts) / (time.perf_counter() - t0)

    return rate
