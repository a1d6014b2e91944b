from __future__ import annotations

from ragline.cleaning.dedup import DedupResult, dedup_documents
from ragline.types import Document


def _doc(doc_id: str, text: str, title: str = "") -> Document:
    return Document(id=doc_id, source=f"/src/{doc_id}", text=text, title=title)


def test_dedup_keeps_first_occurrence_in_order() -> None:
    docs = [_doc("a", "alpha"), _doc("b", "beta"), _doc("c", "alpha"), _doc("d", "gamma"), _doc("e", "beta")]
    result = dedup_documents(iter(docs))
    assert isinstance(result, DedupResult)
    assert [d.id for d in result.kept] == ["a", "b", "d"]
    assert [(d.id, original) for d, original in result.duplicates] == [("c", "a"), ("e", "b")]


def test_dedup_considers_title_part_of_the_content() -> None:
    result = dedup_documents([_doc("a", "same", title="One"), _doc("b", "same", title="Two")])
    assert [d.id for d in result.kept] == ["a", "b"]
    assert result.duplicates == []


def test_dedup_of_nothing() -> None:
    result = dedup_documents([])
    assert result.kept == [] and result.duplicates == []


def test_seen_map_carries_duplicates_across_calls() -> None:
    seen: dict[str, str] = {}
    first = dedup_documents([Document(id="a", source="f1", text="same words")], seen)
    second = dedup_documents(
        [Document(id="b", source="f2", text="same words"), Document(id="c", source="f2", text="new")], seen
    )
    assert [d.id for d in first.kept] == ["a"]
    assert [d.id for d in second.kept] == ["c"]
    assert [(d.id, orig) for d, orig in second.duplicates] == [("b", "a")]
