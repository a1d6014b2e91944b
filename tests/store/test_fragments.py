"""HeldColumn: a Lance column held per fragment, re-read only where the fragment changed."""

from __future__ import annotations

import gc
from pathlib import Path

import lance
import numpy as np
import pyarrow as pa
import pytest

from ragline.store.fragments import HeldColumn, gather, gather_blobs, held_elsewhere

DIM = 4


def _batch(start: int, n: int, rng: np.random.Generator) -> pa.Table:
    """Rows ``start..start+n``: a vector each and 0-3 sentence vectors (float16, as stored)."""
    units = [rng.normal(size=(int(k), DIM)).astype(np.float16) for k in rng.integers(0, 4, n)]
    unit_type = pa.list_(pa.list_(pa.float16(), DIM))
    return pa.table(
        {
            "id": [f"c{i}" for i in range(start, start + n)],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(rng.normal(size=n * DIM).astype(np.float32)), DIM
            ),
            "units": pa.array([[list(map(float, u)) for u in m] for m in units], type=unit_type),
            "blob": pa.array(
                [None if i % 5 == 4 else f"b{i}".encode() * (i % 3 + 1) for i in range(start, start + n)],
                type=pa.large_binary(),
            ),
        }
    )


def _taken(ds: lance.LanceDataset, addresses: list[int], column: str) -> list[np.ndarray]:
    """What a row read gives for ``addresses``: each row's vectors as a (k, DIM) array."""
    col = ds._take_rows(addresses, columns=[column]).column(column).to_pylist()
    return [np.asarray(v if column == "units" else [v], dtype=np.float32).reshape(-1, DIM) for v in col]


def _split(got: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[np.ndarray]:
    matrix, counts, _ = got
    edges = np.cumsum(counts)[:-1]
    return [m.astype(np.float32).reshape(-1, DIM) for m in np.split(matrix, edges)]


def _addresses(ds: lance.LanceDataset) -> list[int]:
    return [int(a) for a in ds.to_table(columns=[], with_row_id=True).column("_rowid").to_pylist()]


@pytest.mark.parametrize("column", ["units", "vector"])
def test_held_rows_equal_the_rows_read_across_fragments_in_any_order(tmp_path: Path, column: str) -> None:
    rng = np.random.default_rng(3)
    ds = lance.write_dataset(_batch(0, 40, rng), tmp_path / "t.lance")
    ds = lance.write_dataset(_batch(40, 25, rng), tmp_path / "t.lance", mode="append")
    held = HeldColumn(column, DIM)
    frags = held.update(ds, 1 << 20)
    assert frags is not None and len(frags) == 2 and held.nbytes > 0
    addresses = _addresses(ds)
    order = [addresses[i] for i in rng.permutation(len(addresses))] + addresses[:5]  # repeats
    got = gather(frags, order)
    assert got is not None
    for mine, theirs in zip(_split(got), _taken(ds, order, column), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    # The lengths are those of the stored values as float32.
    np.testing.assert_array_equal(got[2], np.linalg.norm(got[0].astype(np.float32), axis=1))
    assert gather(frags, []) is not None and len(gather(frags, [])[1]) == 0


def test_only_new_or_rewritten_fragments_are_read_again(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    ds = lance.write_dataset(_batch(0, 30, rng), tmp_path / "t.lance")
    held = HeldColumn("units", DIM)
    first = held.update(ds, 1 << 20)
    assert first is not None
    (fid,) = first
    # A delete adds a deletion file, an append a new fragment: the first fragment is not re-read.
    ds.delete("id = 'c3'")
    ds = lance.write_dataset(_batch(30, 10, rng), tmp_path / "t.lance", mode="append")
    second = held.update(ds, 1 << 20)
    assert second is not None and len(second) == 2 and second[fid] is first[fid]
    # A compaction writes new fragments: the old ones are dropped, the new ones read.
    ds.optimize.compact_files(target_rows_per_fragment=1000, materialize_deletions_threshold=0.0)
    ds = lance.dataset(tmp_path / "t.lance")
    third = held.update(ds, 1 << 20)
    assert third is not None and fid not in third
    addresses = _addresses(ds)
    got = gather(third, addresses)
    assert got is not None
    for mine, theirs in zip(_split(got), _taken(ds, addresses, "units"), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_a_row_not_live_when_read_is_never_served_from_memory(tmp_path: Path) -> None:
    """A restored version can list a row live again that was deleted when its fragment was read:
    that row is read from the table (None), not served as a row without vectors."""
    rng = np.random.default_rng(5)
    ds = lance.write_dataset(_batch(0, 20, rng), tmp_path / "t.lance")
    before = ds.version
    address = _addresses(ds)[7]
    ds.delete("id = 'c7'")
    held = HeldColumn("units", DIM)
    frags = held.update(lance.dataset(tmp_path / "t.lance"), 1 << 20)
    assert frags is not None
    restored = lance.dataset(tmp_path / "t.lance", version=before)
    restored.restore()
    restored = lance.dataset(tmp_path / "t.lance")
    assert address in _addresses(restored)
    again = held.update(restored, 1 << 20)
    assert again is not None
    assert gather(again, [address]) is None
    assert gather(again, [_addresses(restored)[0]]) is not None
    # A fragment not held at all (another table's address): read from the table too.
    assert gather(again, [(99 << 32) | 1]) is None


def test_a_column_past_the_budget_or_a_missing_column_is_not_held(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    ds = lance.write_dataset(_batch(0, 50, rng), tmp_path / "t.lance")
    held = HeldColumn("vector", DIM)
    assert held.estimate(ds) == pytest.approx(50 * DIM * 4, rel=0.2)
    assert held.update(ds, 1 << 20) is not None and held.nbytes > 0
    assert held.update(ds, 100) is None and held.nbytes == 0  # over budget: what it held is freed
    assert held.update(ds, 0) is None
    assert HeldColumn("absent", DIM).update(ds, 1 << 20) is None


def test_held_blobs_equal_the_rows_read_and_rows_not_live_are_read_again(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ds = lance.write_dataset(_batch(0, 30, rng), tmp_path / "t.lance")
    ds = lance.write_dataset(_batch(30, 12, rng), tmp_path / "t.lance", mode="append")
    before = ds.version
    address = _addresses(ds)[3]
    ds.delete("id = 'c3'")
    held = HeldColumn("blob", DIM, blobs=True)
    frags = held.update(lance.dataset(tmp_path / "t.lance"), 1 << 20)
    assert frags is not None and len(frags) == 2
    live = _addresses(lance.dataset(tmp_path / "t.lance"))
    order = [live[i] for i in rng.permutation(len(live))] + live[:3]
    want = ds._take_rows(order, columns=["blob"]).column("blob").to_pylist()
    assert gather_blobs(frags, order) == want and None in want
    # Restored, the deleted row is live again: not served from what was held.
    restored = lance.dataset(tmp_path / "t.lance", version=before)
    restored.restore()
    again = held.update(lance.dataset(tmp_path / "t.lance"), 1 << 20)
    assert again is not None and gather_blobs(again, [address]) is None


def test_the_budget_is_shared_by_every_held_column_of_the_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    ds = lance.write_dataset(_batch(0, 40, rng), tmp_path / "t.lance")
    one, other = HeldColumn("vector", DIM), HeldColumn("units", DIM)
    base = held_elsewhere([one, other])  # other tests' columns still alive, if any
    assert one.update(ds, 1 << 20) is not None
    assert held_elsewhere([other]) == base + one.nbytes and held_elsewhere([one, other]) == base
    one.clear()
    assert held_elsewhere([other]) == base
    assert one.update(ds, 1 << 20) is not None
    del one  # a store dropped: its columns no longer count
    gc.collect()
    assert held_elsewhere([other]) == base
