"""RM3 pseudo-relevance feedback: the relevance-model math on toy texts, the expanded query string,
and a real LanceStore where expansion finds a document that shares no word with the query."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.errors import ConfigError
from ragline.query.prf import PRFKeywordExpander, expand_query, term_weights
from ragline.store.base import Candidate, SourceBatch
from ragline.store.filters import Compare, Filter
from ragline.store.lance import LanceStore
from ragline.testing.store_contract import DIM, vectors_for
from ragline.types import Chunk


def _chunks(texts: dict[str, str]) -> list[Chunk]:
    return [
        Chunk(id=cid, doc_id=cid, text=text, position=0, start=0, end=len(text), source="/s")
        for cid, text in texts.items()
    ]


def _store(root: Path, texts: dict[str, str]) -> LanceStore:
    store = LanceStore(root, dimension=DIM, model_id="test-model")
    chunks = _chunks(texts)
    store.upsert([SourceBatch("/s", "h", chunks, vectors_for(chunks, 1))])
    store.finalize()
    return store


# --- term_weights -----------------------------------------------------------------------------


def test_term_weights_hand_checked() -> None:
    # P(d|q) = 3/4, 1/4. P(w|d1): apple 2/3, banana 1/3. P(w|d2): banana 1/2, cherry 1/2.
    # P(apple|R) = 3/4·2/3 = 1/2; P(banana|R) = 3/4·1/3 + 1/4·1/2 = 3/8; P(cherry|R) = 1/8.
    weights = term_weights(["apple apple banana", "banana cherry"], [3.0, 1.0], n_terms=3)
    assert [t for t, _ in weights] == ["apple", "banana", "cherry"]
    assert [w for _, w in weights] == pytest.approx([0.5, 0.375, 0.125])
    # Truncated to two terms and renormalised: 1/2 and 3/8 over 7/8.
    top2 = term_weights(["apple apple banana", "banana cherry"], [3.0, 1.0], n_terms=2)
    assert top2 == [("apple", pytest.approx(4 / 7)), ("banana", pytest.approx(3 / 7))]


def test_term_weights_ignores_stopwords_numbers_and_case() -> None:
    weights = term_weights(["The Apple and THE apple of 2021", "an apple"], [1.0, 1.0], n_terms=10)
    assert weights == [("apple", pytest.approx(1.0))]


def test_term_weights_score_edge_cases() -> None:
    # All-zero (or negative) scores weigh the documents equally.
    assert term_weights(["apple", "banana"], [0.0, 0.0], 5) == [
        ("apple", pytest.approx(0.5)),
        ("banana", pytest.approx(0.5)),
    ]
    # A negative score counts as zero: its document adds nothing.
    assert term_weights(["apple", "banana"], [2.0, -1.0], 5) == [("apple", pytest.approx(1.0))]
    # Ties break alphabetically, so the output is deterministic.
    assert [t for t, _ in term_weights(["zeta alpha"], [1.0], 5)] == ["alpha", "zeta"]
    assert term_weights([], [], 5) == []
    assert term_weights(["apple"], [1.0], 0) == []
    assert term_weights(["the of and"], [1.0], 5) == []
    with pytest.raises(ConfigError, match="2 feedback texts but 1 scores"):
        term_weights(["a", "b"], [1.0], 5)


def test_custom_stopwords() -> None:
    assert term_weights(["apple banana"], [1.0], 5, stopwords=frozenset({"apple"})) == [
        ("banana", pytest.approx(1.0))
    ]


# --- expand_query -----------------------------------------------------------------------------


def test_expand_query_hand_checked() -> None:
    # P'(apple) = .5·.5 + .5·.4 = .45, P'(pie) = .25, P'(banana) = .3; unit = .45 / 5 = .09:
    # apple 5 copies, pie round(2.78) = 3, banana round(3.33) = 3.
    expanded = expand_query("apple pie", [("banana", 0.6), ("apple", 0.4)], 0.5)
    assert expanded == "apple apple apple apple apple pie pie pie banana banana banana"


def test_expansion_adds_feedback_terms_and_keeps_the_original_ones() -> None:
    expansion = [("veterinarian", 0.5), ("vaccination", 0.3), ("schedule", 0.18), ("rare", 0.02)]
    words = expand_query("How should I care for a kitten?", expansion, 0.5).split()
    assert {"care", "kitten", "veterinarian", "vaccination", "schedule"} <= set(words)
    # Query terms come first, in query order; the heaviest terms get max_repeat copies.
    assert list(dict.fromkeys(words)) == ["care", "kitten", "veterinarian", "vaccination", "schedule"]
    assert [words.count(w) for w in ("care", "kitten", "veterinarian", "vaccination", "schedule")] == [
        5,
        5,
        5,
        3,
        2,
    ]
    # A feedback term whose share rounds to nothing is left out; query terms never are.
    assert "rare" not in words
    tiny = expand_query("care kitten", [("veterinarian", 1.0)], 0.05).split()
    assert tiny.count("care") == 1 and tiny.count("kitten") == 1 and tiny.count("veterinarian") == 5


def test_expand_query_edge_cases() -> None:
    # original_weight 1: the query alone (one copy of each term, stop words dropped).
    assert expand_query("the kitten care", [("vet", 0.9)], 1.0, max_repeat=1) == "kitten care"
    assert expand_query("the of and", [("vet", 1.0)], 0.5) == "the of and"
    assert expand_query("kitten", [], 0.5) == "kitten " * 4 + "kitten"
    with pytest.raises(ConfigError, match="original_weight"):
        expand_query("kitten", [], 1.5)
    with pytest.raises(ConfigError, match="max_repeat"):
        expand_query("kitten", [], 0.5, max_repeat=0)


# --- LanceDB's full-text parser ----------------------------------------------------------------

FRUIT = {
    "c0": "apple apple banana",
    "c1": "banana banana cherry",
    "c2": "cherry apple",
    "c3": "durian fruit",
}


def _fts(store: LanceStore, query: str) -> dict[str, float]:
    rows = (
        store.chunks_table.search(query, query_type="fts", fts_columns="search_text")
        .select(["id", "_score"])
        .limit(10)
        .to_list()
    )
    return {r["id"]: r["_score"] for r in rows}


def test_lancedb_has_no_term_boosting_but_repetition_weighs(tmp_path: Path) -> None:
    """Pins what prf's docstring says: ``term^2`` is no boost, a repeated term counts again."""
    store = _store(tmp_path / "fruit", FRUIT)
    plain = _fts(store, "apple banana")
    assert _fts(store, "apple^5 banana") == pytest.approx(plain)
    assert _fts(store, "apple banana^5") == pytest.approx(plain)
    banana = _fts(store, "banana")
    apple_part = plain["c0"] - banana["c0"]
    tripled = _fts(store, "apple apple apple banana")
    assert tripled["c0"] == pytest.approx(3 * apple_part + banana["c0"], rel=1e-3)


# --- PRFKeywordExpander -------------------------------------------------------------------------

PETS = {
    "k1": "Kitten care guide: the veterinarian recommends a vaccination schedule and deworming.",
    "k2": "Kitten care at home starts with a vaccination schedule agreed with your veterinarian.",
    "k3": "Good kitten care means regular feeding, grooming and following the vaccination schedule.",
    "target": "Young cats need a veterinarian visit to start their vaccination schedule and deworming.",
    "engine": "Engine oil should be changed on schedule every ten thousand kilometres.",
    "garden": "The garden needs watering every morning during the dry summer.",
    "stocks": "Stock prices fell sharply after the quarterly earnings report.",
    "bread": "Bake the bread at high temperature with steam for a crisp crust.",
}


def test_expansion_finds_a_document_sharing_no_query_term(tmp_path: Path) -> None:
    store = _store(tmp_path / "pets", PETS)
    query = "kitten care"
    first = [c.chunk_id for c in store.keyword_candidates(query, 10)]
    assert set(first) == {"k1", "k2", "k3"}
    expanded = PRFKeywordExpander(store, fb_docs=3, fb_terms=8).run(query, None)
    assert {"kitten", "care", "veterinarian", "vaccination"} <= set(expanded.split())
    second = [c.chunk_id for c in store.keyword_candidates(expanded, 10)]
    assert "target" in second
    # The target shares the neighbours' vocabulary; the engine text shares one word at most.
    assert second.index("target") == 3
    assert second.index("target") < second.index("engine")


class _RecordingStore:
    def __init__(self, hits: list[tuple[Chunk, float]]) -> None:
        self.hits = hits
        self.calls: list[tuple[str, int, Filter | None]] = []

    def keyword_candidates(self, text: str, n: int, filters: Filter | None = None) -> list[Candidate]:
        self.calls.append((text, n, filters))
        return [Candidate(c.id, score, i) for i, (c, score) in enumerate(self.hits[:n])]

    def fetch_texts(self, candidates: list[Candidate]) -> list[str]:
        return [self.hits[c.ref][0].embed_text for c in candidates]


def test_expander_passes_filters_and_keeps_a_query_without_hits() -> None:
    where = Compare("year", "$gte", 2020)
    empty = _RecordingStore([])
    assert PRFKeywordExpander(empty, fb_docs=4).run("kitten care", where) == "kitten care"
    assert empty.calls == [("kitten care", 4, where)]
    [chunk] = _chunks({"c": "veterinarian visit"})
    one = _RecordingStore([(chunk, 2.0)])
    expanded = PRFKeywordExpander(one, fb_terms=1, original_weight=0.5).run("kitten", where)
    assert expanded.split()[0] == "kitten" and "veterinarian" in expanded
    assert one.calls[0][2] is where


def test_expander_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError):
        PRFKeywordExpander(_RecordingStore([]), fb_docs=0)
    with pytest.raises(ConfigError):
        PRFKeywordExpander(_RecordingStore([]), original_weight=-0.1)
