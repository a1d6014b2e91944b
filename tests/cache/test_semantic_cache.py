"""The semantic answer cache with the real embedding model and the calibrated threshold: a
reworded question gets the cached answer, marked and naming the original question; a different
question about the same paragraph does not."""

from __future__ import annotations

from pathlib import Path

import pytest

import ragline
from ragline.settings import CacheSettings
from ragline.types import Document

pytestmark = pytest.mark.integration

PARAGRAPH = (
    "The Harbor Lighthouse was built in 1872 by the engineer Thomas Reed. Its lamp burned whale oil "
    "until 1910, when an electric light replaced it. The tower is 42 metres tall and was automated "
    "in 1985; since 2001 it has housed a small maritime museum."
)


def test_a_reworded_question_gets_the_cached_answer_and_another_question_does_not(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path, store={"backend": "memory"}, cache={"semantic": "on"})
    engine.upsert_documents(
        [Document(id="lighthouse", source="guide", text=PARAGRAPH, title="Harbor Lighthouse")]
    )
    assert engine.cache is not None and engine.cache.semantic_threshold == CacheSettings().semantic_threshold
    original = engine.ask("When was the Harbor Lighthouse built?")
    assert original.cached is None
    reworded = engine.ask("when was harbor lighthouse built")
    assert reworded.cached is not None and reworded.cached.kind == "semantic"
    assert reworded.cached.question == "When was the Harbor Lighthouse built?"
    assert reworded.question == "when was harbor lighthouse built"
    assert reworded.text == original.text and reworded.citations == original.citations
    assert reworded.cached.similarity >= engine.cache.semantic_threshold
    for other in ("Who built the Harbor Lighthouse?", "When was the Harbor Lighthouse automated?"):
        answer = engine.ask(other)
        assert answer.cached is None, (other, answer.cached)
    counts = engine.cache.counts()
    assert counts[("semantic", "hit")] == 1 and counts[("semantic", "miss")] == 3


def test_the_semantic_cache_is_off_for_the_offline_answerer_by_default(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path, store={"backend": "memory"})
    assert engine.cache is not None and not engine.cache.semantic
