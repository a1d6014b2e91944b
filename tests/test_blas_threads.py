"""``blas_threads``: the engine caps numpy's BLAS threads when it builds its first retriever."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from ragline.errors import ConfigError
from tests.helpers import fast_engine, write_fact_corpus


def _blas_threads() -> set[int]:
    return {int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture
def restored() -> Iterator[None]:
    # The cap is process-wide: put back what the test process had.
    with threadpool_limits(limits=None, user_api="blas"):
        before = _blas_threads()
        yield
    assert _blas_threads() == before


def test_the_first_search_caps_blas_threads(tmp_path: Path, restored: None) -> None:
    if not _blas_threads():
        pytest.skip("numpy here has no BLAS that threadpoolctl can see")
    write_fact_corpus(tmp_path / "docs")
    threadpool_limits(limits=2, user_api="blas")
    engine = fast_engine(tmp_path / "data")
    engine.ingest([tmp_path / "docs"])
    assert engine.search("When was the lighthouse built?")
    assert _blas_threads() == {1}


def test_none_leaves_blas_threads_alone(tmp_path: Path, restored: None) -> None:
    if not _blas_threads():
        pytest.skip("numpy here has no BLAS that threadpoolctl can see")
    write_fact_corpus(tmp_path / "docs")
    threadpool_limits(limits=2, user_api="blas")
    engine = fast_engine(tmp_path / "data", blas_threads=None)
    engine.ingest([tmp_path / "docs"])
    assert engine.search("When was the lighthouse built?")
    assert _blas_threads() == {2}


def test_blas_threads_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="blas_threads"):
        fast_engine(tmp_path / "data", blas_threads=0)
