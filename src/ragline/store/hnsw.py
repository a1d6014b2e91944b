"""An in-memory HNSW graph over one version of a chunks table's dense vectors (faiss), kept beside
the LanceDB tables as a sidecar of the collection directory.

Above ``ann_threshold`` LanceDB's IVF_HNSW_SQ search re-reads ``refine × n`` full vectors from
disk on every query (7.7 ms of a dense search's cost at 100k chunks); this graph holds the float32
unit vectors in memory and answers the same search in 1-2 ms (0.4 ms on a quiet core), exact cosine
scores. It serves unfiltered searches only, and only for the table version it was built from: the
file names that version, so rows deleted or replaced since are never returned (the store falls
back to LanceDB until the next ``finalize`` rebuilds it).

Layout of ``<collection>/dense_hnsw/``: ``v<version>.faiss`` (faiss ``IndexHNSWFlat``, inner
product over unit vectors, i.e. cosine), ``v<version>.rows.arrow`` (Arrow IPC: the chunk id and
Lance row address of each graph label, so a label maps to a candidate without a scan), and
``current.json`` (format version, table version, row count, dimension), written last.

Example::

    build_graph(root, version=12, dimension=384, batches=[(ids, rowids, matrix)], ef_construction=100)
    graph = load_graph(root, version=12, dimension=384)  # None, with the reason, when stale
    labels, scores = graph.search(query, n=120, ef=240)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ragline.errors import StoreError
from ragline.store.exact import unit_rows

DIRNAME = "dense_hnsw"
_CURRENT = "current.json"
# Bumped when the files' meaning changes; a file of another format is not read (rebuilt instead).
GRAPH_FORMAT = 1
# Graph degree: M = 32 had recall@120 0.998 vs M = 16's 0.996 at 100k chunks (ef 160), for 8 %
# more file and 28 % more build time (docs/benchmarks.md, fix/annmem).
_M = 32


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a core dependency
        raise StoreError(
            "store.ann_engine = 'faiss' needs the faiss-cpu package (pip install faiss-cpu), "
            "or set store.ann_engine = 'lance'"
        ) from exc
    return faiss


@dataclass(frozen=True, slots=True)
class DenseGraph:
    """The graph of one table version; ``ids[label]`` and ``rowids[label]`` name a label's row."""

    table_version: int
    index: Any
    ids: pa.Array
    rowids: npt.NDArray[np.uint64]

    def search(
        self, vector: npt.ArrayLike, n: int, ef: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Labels and cosines of the ``n`` nearest rows, best first (fewer when the graph is smaller).
        Thread-safe: ``ef`` is passed per call, the graph is only read."""
        faiss = _faiss()
        q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        norm = float(np.linalg.norm(q))
        if norm > 0:
            q = q / norm
        params = faiss.SearchParametersHNSW(efSearch=max(ef, n))
        scores, labels = self.index.search(q, n, params=params)
        keep = labels[0] >= 0
        return labels[0][keep].astype(np.int64), scores[0][keep]


def _dir(root: Path) -> Path:
    return Path(root) / DIRNAME


def graph_version(root: Path) -> int | None:
    """The table version the current graph indexes, or None without a readable one of this format."""
    try:
        meta = json.loads((_dir(root) / _CURRENT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != GRAPH_FORMAT:
        return None
    version = meta.get("table_version")
    return version if isinstance(version, int) else None


def current_stamp(root: Path) -> int | None:
    """A cheap token that changes when a graph is (re)written: ``current.json``'s mtime, or None."""
    try:
        return (_dir(root) / _CURRENT).stat().st_mtime_ns
    except OSError:
        return None


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def build_graph(
    root: Path,
    *,
    version: int,
    dimension: int,
    batches: Iterable[tuple[pa.Array, npt.NDArray[np.uint64], npt.NDArray[np.float32]]],
    ef_construction: int,
) -> int:
    """Build the graph of table ``version`` from its rows, given in ``batches`` of (chunk ids, row
    addresses, vectors), and make it current; returns the rows indexed. Vectors are normalised
    here, a batch at a time, so the table's vectors are never all held twice (1.5 GB at 1M chunks).
    The files of the graph it replaces are removed (a reader holding it keeps its copy in memory)."""
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(dimension, _M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    ids: list[pa.Array] = []
    rowids: list[npt.NDArray[np.uint64]] = []
    for batch_ids, batch_rowids, vectors in batches:
        if not len(batch_ids) == len(batch_rowids) == vectors.shape[0]:
            raise StoreError(
                f"graph rows disagree: {len(batch_ids)} ids, {len(batch_rowids)} row ids, "
                f"{vectors.shape[0]} vectors"
            )
        ids.append(batch_ids)
        rowids.append(np.asarray(batch_rowids, dtype=np.uint64))
        index.add(np.ascontiguousarray(unit_rows(vectors.reshape(-1, dimension)), dtype=np.float32))
    folder = _dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"v{version}"
    _write_atomic(folder / f"{stem}.faiss", lambda p: faiss.write_index(index, str(p)))
    all_ids = pa.concat_arrays([a.cast(pa.string()) for a in ids]) if ids else pa.array([], pa.string())
    all_rowids = np.concatenate(rowids) if rowids else np.zeros(0, np.uint64)
    rows = pa.table({"id": all_ids, "rowid": pa.array(all_rowids, pa.uint64())})

    def write_rows(p: Path) -> None:
        with pa.OSFile(str(p), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as writer:
            writer.write_table(rows)

    _write_atomic(folder / f"{stem}.rows.arrow", write_rows)
    meta = {"format": GRAPH_FORMAT, "table_version": version, "rows": rows.num_rows, "dimension": dimension}
    _write_atomic(folder / _CURRENT, lambda p: p.write_text(json.dumps(meta), encoding="utf-8"))
    for old in folder.iterdir():
        if old.name != _CURRENT and not old.name.startswith((f"{stem}.", ".")):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
    return int(rows.num_rows)


def load_graph(root: Path, *, version: int, dimension: int) -> tuple[DenseGraph | None, str]:
    """The graph of table ``version``, or None and why it cannot be used (missing, stale, another
    format or dimension, files that disagree)."""
    indexed = graph_version(root)
    if indexed is None:
        return None, "no dense graph file of this format"
    if indexed != version:
        return None, f"the dense graph indexes table version {indexed}, the table is at {version}"
    folder = _dir(root)
    meta = json.loads((folder / _CURRENT).read_text(encoding="utf-8"))
    if meta.get("dimension") != dimension:
        return None, f"the dense graph has dimension {meta.get('dimension')}, the collection {dimension}"
    faiss = _faiss()
    try:
        index = faiss.read_index(str(folder / f"v{version}.faiss"))
        # Memory-mapped: the ids stay in the page cache, shared between processes.
        rows = pa.ipc.open_file(pa.memory_map(str(folder / f"v{version}.rows.arrow"))).read_all()
    except (OSError, RuntimeError) as exc:  # replaced by a newer build while being read
        return None, f"the dense graph could not be read ({exc})"
    if not index.ntotal == rows.num_rows == meta.get("rows"):
        return None, f"the dense graph's files disagree ({index.ntotal} vectors, {rows.num_rows} rows)"
    rowids = np.asarray(rows.column("rowid").to_numpy(), dtype=np.uint64)
    return DenseGraph(version, index, rows.column("id").combine_chunks(), rowids), ""
