"""Columns of a Lance table held in memory fragment by fragment, addressed by row address.

A Lance row address is ``fragment id << 32 | offset``. A fragment's data files never change once
written (a delete adds a deletion file, an update or a compaction writes new fragments, a new
column adds data files), so what was read from a fragment stays right for every later version
that still lists it with the same data files: after an ingest only the new fragments are read,
and a search's candidates (live rows of the version searched) find their values by address with
no row read. :class:`HeldColumn` is that cache for one column (vectors, lists of vectors, or one
binary or string value a row); ``LanceStore`` uses it above its ANN threshold, within
``store.held_columns_mb``.

Example::

    held = HeldColumn("unit_vectors", dimension=384)
    fragments = held.update(dataset, budget_bytes=512 << 20)
    if fragments is not None:
        found = gather(fragments, [c.ref & ADDRESS for c in candidates])  # None: read the rows
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_OFFSET_BITS = 32
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1
# Rows whose size estimates a column's before it is read into memory.
_SAMPLE_ROWS = 64
# Rows decoded at a time when a fragment is read.
_READ_BATCH = 8192
# Vectors converted to float32 at a time when their lengths are computed.
_NORM_BLOCK = 65_536


@dataclass(frozen=True, slots=True)
class _Fragment:
    """One fragment's vectors as stored: the row at offset ``o`` owns
    ``matrix[starts[o] : starts[o] + counts[o]]``. A row that was not live when the fragment was
    read has count -1: a version restored since may list it live again, and it is then read from
    the table, not taken for a row without vectors."""

    files: tuple[str, ...]
    matrix: npt.NDArray[Any]
    starts: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]
    # Each stored vector's length as float32 (what scaling it to unit length divides by).
    norms: npt.NDArray[np.float32]

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes + self.starts.nbytes + self.counts.nbytes + self.norms.nbytes)


def _files(fragment: Any) -> tuple[str, ...]:
    return tuple(d.path for d in fragment.metadata.files)


def _release_freed() -> None:
    """Give the heap pages freed after a read back to the OS (glibc only; elsewhere a no-op).
    Lance decodes on its own threads, whose malloc arenas keep what a read freed: holding the
    100k synthetic collection's 292 MB of sentence vectors left 764 MB resident, 509 MB after this
    (8 ms)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return


def _values(col: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """How many vectors each row of ``col`` has, and the vectors' values, copied out of Arrow."""
    if pa.types.is_fixed_size_list(col.type):
        counts = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.int64)
        values = pc.drop_null(col).flatten() if col.null_count else col.flatten()
    else:
        counts = np.asarray(pc.list_value_length(col).fill_null(0).to_numpy(), dtype=np.int64)
        values = col.flatten().flatten()
    return counts, np.array(values.to_numpy(zero_copy_only=False))


def _read(fragment: Any, column: str, dimension: int) -> _Fragment:
    """``column`` of every live row of ``fragment``: a fixed-size vector (one per row) or a list of
    them, kept in the stored value type."""
    offsets_parts, counts_parts, value_parts = [], [], []
    # Batch by batch, one read ahead: the decoded Arrow data is never all in memory beside the copy.
    for batch in fragment.to_batches(
        columns=[column], with_row_id=True, batch_size=_READ_BATCH, batch_readahead=1
    ):
        offsets_parts.append(np.asarray(batch.column("_rowid").to_numpy(), dtype=np.uint64))
        counts_part, values = _values(batch.column(column))
        counts_parts.append(counts_part)
        value_parts.append(values)
    offsets = (
        np.concatenate(offsets_parts) & np.uint64(_OFFSET_MASK) if offsets_parts else np.zeros(0, np.uint64)
    )
    counts_live = np.concatenate(counts_parts) if counts_parts else np.zeros(0, np.int64)
    matrix = (np.concatenate(value_parts) if value_parts else np.zeros(0, np.float32)).reshape(-1, dimension)
    del value_parts
    size = int(offsets.max()) + 1 if len(offsets) else 0
    counts = np.full(size, -1, dtype=np.int64)
    starts = np.zeros(size, dtype=np.int64)
    at = offsets.astype(np.intp)
    counts[at] = counts_live
    starts[at] = np.cumsum(counts_live) - counts_live
    norms = np.empty(len(matrix), dtype=np.float32)
    for i in range(0, len(matrix), _NORM_BLOCK):  # float32 copies a block at a time, not all at once
        block = np.asarray(matrix[i : i + _NORM_BLOCK], dtype=np.float32)
        norms[i : i + len(block)] = np.linalg.norm(block, axis=1)
    return _Fragment(_files(fragment), matrix, starts, counts, norms)


@dataclass(frozen=True, slots=True)
class _BlobFragment:
    """One fragment's binary column as stored: the row at offset ``o`` is ``blobs[at[o]]`` (-1:
    the row was not live when read, as for :class:`_Fragment`)."""

    files: tuple[str, ...]
    blobs: pa.Array
    at: npt.NDArray[np.int64]

    @property
    def nbytes(self) -> int:
        return int(self.blobs.nbytes + self.at.nbytes)


def _read_blobs(fragment: Any, column: str) -> _BlobFragment:
    """``column`` (binary, e.g. packed token states) of every live row of ``fragment``."""
    offsets_parts, blob_parts = [], []
    for batch in fragment.to_batches(
        columns=[column], with_row_id=True, batch_size=_READ_BATCH, batch_readahead=1
    ):
        offsets_parts.append(np.asarray(batch.column("_rowid").to_numpy(), dtype=np.uint64))
        blob_parts.append(batch.column(column))
    if not blob_parts:
        return _BlobFragment(_files(fragment), pa.array([], pa.large_binary()), np.zeros(0, np.int64))
    offsets = (np.concatenate(offsets_parts) & np.uint64(_OFFSET_MASK)).astype(np.intp)
    blobs = pa.concat_arrays(blob_parts)  # one array: its own buffers, not the batches'
    at = np.full(int(offsets.max()) + 1, -1, dtype=np.int64)
    at[offsets] = np.arange(len(offsets))
    return _BlobFragment(_files(fragment), blobs, at)


# Bytes each live HeldColumn holds (by id), for a budget shared by every store of the process.
_ledger_lock = threading.Lock()
_ledger: dict[int, int] = {}


def _record(key: int, nbytes: int) -> None:
    with _ledger_lock:
        if nbytes:
            _ledger[key] = nbytes
        else:
            _ledger.pop(key, None)


def held_elsewhere(mine: Iterable[HeldColumn]) -> int:
    """Bytes held by every :class:`HeldColumn` of the process but ``mine``: a store's budget is
    what the process's budget leaves after the other collections' columns."""
    own = {id(h) for h in mine}
    with _ledger_lock:
        return sum(n for key, n in _ledger.items() if key not in own)


class HeldColumn:
    """One column of a Lance dataset in memory, per fragment, re-read only for fragments it has
    not seen (see the module's docstring): vectors or lists of them for :func:`gather`, or with
    ``blobs=True`` one binary or string value a row for :func:`gather_blobs`. Thread-safe;
    ``update`` is called once per table version."""

    def __init__(self, column: str, dimension: int, *, blobs: bool = False) -> None:
        self.column = column
        self.dimension = dimension
        self.blobs = blobs
        self._lock = threading.Lock()
        self._fragments: dict[int, Any] = {}
        weakref.finalize(self, _record, id(self), 0)

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return sum(f.nbytes for f in self._fragments.values())

    def estimate(self, dataset: Any) -> int:
        """The bytes ``dataset``'s column would take in memory, estimated from its first rows."""
        rows = int(dataset.count_rows())
        if not rows:
            return 0
        sample = dataset.head(_SAMPLE_ROWS, columns=[self.column])
        return int(sample.column(self.column).nbytes / max(sample.num_rows, 1) * rows)

    def update(self, dataset: Any, budget_bytes: int) -> dict[int, Any] | None:
        """Hold ``dataset``'s fragments (reading only those not held with the same data files)
        and drop the rest; None, holding nothing, when the column is estimated to take more than
        ``budget_bytes``. The returned map is this version's: later updates do not change it."""
        if budget_bytes <= 0 or self.column not in dataset.schema.names:
            self.clear()
            return None
        if self.estimate(dataset) > budget_bytes:
            self.clear()
            return None
        with self._lock:
            now: dict[int, Any] = {}
            read = 0
            for fragment in dataset.get_fragments():
                held = self._fragments.get(fragment.fragment_id)
                if held is None or held.files != _files(fragment):
                    held = (
                        _read_blobs(fragment, self.column)
                        if self.blobs
                        else _read(fragment, self.column, self.dimension)
                    )
                    read += 1
                now[fragment.fragment_id] = held
            self._fragments = now
        _record(id(self), self.nbytes)
        if read:
            _release_freed()
        return dict(now)

    def clear(self) -> None:
        with self._lock:
            self._fragments = {}
        _record(id(self), 0)


def gather(
    fragments: dict[int, _Fragment], addresses: Sequence[int]
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.float32]] | None:
    """The held vectors of the rows at ``addresses``, one after another in that order, how many
    each row has, and each vector's length (float32); None when a row is not held (its fragment
    was not read, or the row was not live then): the caller reads the rows instead."""
    if not len(addresses):
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    address = np.asarray(addresses, dtype=np.uint64)
    frag = (address >> np.uint64(_OFFSET_BITS)).astype(np.int64)
    offset = (address & np.uint64(_OFFSET_MASK)).astype(np.intp)
    counts = np.zeros(len(address), dtype=np.int64)
    starts = np.zeros(len(address), dtype=np.int64)
    which = np.zeros(len(address), dtype=np.intp)
    kept: list[_Fragment] = []
    # A few fragments at most between compactions: one vectorised lookup per fragment.
    for j, fid in enumerate(np.unique(frag).tolist()):
        held = fragments.get(int(fid))
        mine = np.flatnonzero(frag == fid)
        if held is None or int(offset[mine].max()) >= len(held.counts):
            return None
        counts[mine] = held.counts[offset[mine]]
        starts[mine] = held.starts[offset[mine]]
        which[mine] = j
        kept.append(held)
    if len(counts) and int(counts.min()) < 0:
        return None
    # Row k of the result: the k-th vector of the rows in order, at its fragment's start + index.
    total = int(counts.sum())
    before = np.cumsum(counts) - counts
    rows = np.repeat(starts - before, counts) + np.arange(total)
    if len(kept) == 1:
        return kept[0].matrix[rows], counts, kept[0].norms[rows]
    owner = np.repeat(which, counts)
    out = np.empty((total, kept[0].matrix.shape[1]), dtype=kept[0].matrix.dtype)
    norms = np.empty(total, dtype=np.float32)
    for j, held in enumerate(kept):
        mask = owner == j
        out[mask] = held.matrix[rows[mask]]
        norms[mask] = held.norms[rows[mask]]
    return out, counts, norms


def gather_blobs(fragments: dict[int, _BlobFragment], addresses: Sequence[int]) -> list[Any] | None:
    """The held values of the rows at ``addresses``, in that order (None for a null value); None
    when a row is not held, as :func:`gather`."""
    if not len(addresses):
        return []
    address = np.asarray(addresses, dtype=np.uint64)
    frag = (address >> np.uint64(_OFFSET_BITS)).astype(np.int64)
    offset = (address & np.uint64(_OFFSET_MASK)).astype(np.intp)
    out: list[Any] = [None] * len(address)
    for fid in np.unique(frag).tolist():
        held = fragments.get(int(fid))
        mine = np.flatnonzero(frag == fid)
        if held is None or int(offset[mine].max()) >= len(held.at):
            return None
        at = held.at[offset[mine]]
        if len(at) and int(at.min()) < 0:
            return None
        values = held.blobs.take(pa.array(at)).to_pylist()
        if len(mine) == len(address):
            return list(values)
        for i, value in zip(mine.tolist(), values, strict=True):
            out[i] = value
    return out
