"""The extractive answerer on hand-built contexts, with the real packaged embedding model."""

from __future__ import annotations

import re

import pytest

from ragline.embedding.onnx import OnnxEmbedder
from ragline.errors import ConfigError
from ragline.generation.base import collect
from ragline.generation.citations import parse_citations
from ragline.generation.extractive import ABSTAIN_TEXT, ConfidenceModel, ExtractiveAnswerer, SentenceWeights
from ragline.generation.lexical import coverage, idf, stem, terms
from ragline.types import ChunkSpan, Context, Final, Passage, Token

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder()


def passage(doc: str, text: str, rank: int, start: int = 100, page: int | None = None) -> Passage:
    return Passage(
        doc_id=doc,
        text=text,
        start=start,
        end=start + len(text),
        chunks=(ChunkSpan(f"{doc}-c", start, start + len(text), True, page),),
        score=1.0 / rank,
        rank=rank,
        tokens=len(text.split()),
        source=f"/docs/{doc}.md",
        title=doc.title(),
        section_path=(doc.title(), "Facts"),
    )


CTX = Context(
    passages=[
        passage(
            "eiffel",
            "The Eiffel Tower is in Paris. It was completed in 1889 for the World's Fair. "
            "Gustave Eiffel's company designed and built the tower.",
            1,
            page=3,
        ),
        passage("nile", "The Nile flows north into the Mediterranean Sea. It is about 6,650 km long.", 2),
    ],
    tokens=40,
    budget=100,
)


def test_answers_with_the_best_sentence_and_an_exact_citation(embedder) -> None:
    # A lower cut-off than the default lets the second-best sentence in next to the first.
    answerer = ExtractiveAnswerer(embedder, weights=SentenceWeights(relative_cutoff=0.8))
    a = collect(answerer.stream("When was the Eiffel Tower completed?", CTX))
    assert not a.abstained and a.mode == "extractive"
    # The pronoun sentence ("It was completed...") is found through its passage's title, and is
    # quoted with the sentence before it, which says what "It" is.
    first = next(c for c in a.citations if "1889" in c.quote)
    assert first.quote == "The Eiffel Tower is in Paris. It was completed in 1889 for the World's Fair."
    # Each of the two sentences carries the citation.
    n = first.n
    both = f"The Eiffel Tower is in Paris. [{n}] It was completed in 1889 for the World's Fair. [{n}]"
    assert both in a.text
    p = CTX.passages[0]
    assert p.text[first.start - p.start : first.end - p.start] == first.quote
    assert (first.doc_id, first.chunk_id, first.page, first.title) == ("eiffel", "eiffel-c", 3, "Eiffel")
    assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
    assert all(c.quote not in ("The Nile flows north into the Mediterranean Sea.",) for c in a.citations)


def test_abstains_when_the_context_does_not_answer(embedder) -> None:
    a = collect(ExtractiveAnswerer(embedder).stream("Who won the 1998 football World Cup final?", CTX))
    assert a.abstained and a.text == ABSTAIN_TEXT and a.citations == []
    assert 0.0 <= a.confidence < 0.5


def test_empty_context_abstains_with_zero_confidence(embedder) -> None:
    a = collect(ExtractiveAnswerer(embedder).stream("anything", Context(passages=[], tokens=0, budget=10)))
    assert a.abstained and a.confidence == 0.0


def test_threshold_zero_never_abstains_and_one_always_does(embedder) -> None:
    q = "Who won the 1998 football World Cup final?"
    assert not collect(ExtractiveAnswerer(embedder, abstain_threshold=0.0).stream(q, CTX)).abstained
    q2 = "When was the Eiffel Tower completed?"
    assert collect(ExtractiveAnswerer(embedder, abstain_threshold=1.0).stream(q2, CTX)).abstained


def test_mmr_skips_a_repeated_sentence_and_max_sentences_caps_the_answer(embedder) -> None:
    same = "The Eiffel Tower was completed in 1889 for the World's Fair in Paris."
    ctx = Context(
        passages=[
            passage("a", same + " The tower is 330 metres tall today.", 1),
            passage("b", same + " Its construction took two years.", 2, start=500),
        ],
        tokens=40,
        budget=100,
    )
    a = collect(
        ExtractiveAnswerer(embedder, max_sentences=3).stream("When was the Eiffel Tower completed?", ctx)
    )
    assert [c.quote for c in a.citations].count(same) == 1
    one = collect(
        ExtractiveAnswerer(embedder, max_sentences=1).stream("When was the Eiffel Tower completed?", ctx)
    )
    assert len(one.citations) == 1


def test_stream_tokens_concatenate_to_the_answer(embedder) -> None:
    events = list(ExtractiveAnswerer(embedder).stream("How long is the Nile?", CTX))
    assert isinstance(events[-1], Final)
    assert "".join(e.text for e in events if isinstance(e, Token)) == events[-1].answer.text
    assert "6,650 km" in events[-1].answer.text


def test_headings_and_fragments_are_never_quoted(embedder) -> None:
    ctx = Context(
        passages=[passage("h", "## Eiffel Tower completed\nIt opened in 1889 to the public.", 1)],
        tokens=9,
        budget=50,
    )
    a = collect(
        ExtractiveAnswerer(embedder, abstain_threshold=0.0).stream(
            "When was the Eiffel Tower completed?", ctx
        )
    )
    assert all(not c.quote.startswith("#") for c in a.citations)


def test_bad_arguments(embedder) -> None:
    with pytest.raises(ConfigError, match="max_sentences"):
        ExtractiveAnswerer(embedder, max_sentences=0)
    with pytest.raises(ConfigError, match="abstain_threshold"):
        ExtractiveAnswerer(embedder, abstain_threshold=1.5)


def test_confidence_model_is_monotone() -> None:
    m = ConfidenceModel()
    assert m(0.2, 0.2) < m(0.6, 0.2) < m(0.6, 0.8)
    assert 0.0 < m(0.0, 0.0) < m(1.0, 1.0) < 1.0


def test_lexical_helpers() -> None:
    assert stem("studies") == "studi" and stem("played") == "play" and stem("cats") == "cat"
    assert stem("glass") == "glass" and stem("is") == "is"
    assert terms("The cats were playing in the garden") == ["cat", "play", "garden"]
    # Answer scoring keeps some words the shared stop-word list drops (as it always has).
    assert terms("you must go without it") == ["must", "go", "without"]
    # Words are analysed once and cached: the same word gives the same term in any text, case
    # or possessive.
    assert terms("Paris's CATS; paris' cats") == ["pari", "cat", "pari", "cat"]
    assert terms("The cats were playing in the garden") == ["cat", "play", "garden"]
    # Whole texts are cached too, yet each call gets its own list: changing one changes no other.
    first = terms("The cats were playing in the garden")
    first.append("dog")
    assert terms("The cats were playing in the garden") == ["cat", "play", "garden"]
    # A text too long to remember is analysed all the same.
    assert terms("The cats were playing. " * 200) == ["cat", "play"] * 200
    docs = [{"cat", "garden"}, {"cat"}, {"dog"}]
    w = idf(docs)
    assert w["garden"] > w["cat"]
    assert coverage({"cat", "garden"}, {"cat", "garden", "x"}, w, 9.0) == 1.0
    assert coverage({"cat", "garden"}, {"cat"}, w, 9.0) == pytest.approx(w["cat"] / (w["cat"] + w["garden"]))
    assert coverage(set(), {"cat"}, w, 9.0) == 0.0


def test_title_terms_count_for_less_than_the_sentences_own() -> None:
    w = idf([{"eiffel", "tower"}, {"complet"}])
    q = {"eiffel", "complet"}
    own = coverage(q, {"eiffel", "complet"}, w, 9.0)
    via_title = coverage(q, {"complet"}, w, 9.0, frozenset({"eiffel"}), 0.5)
    without = coverage(q, {"complet"}, w, 9.0)
    assert own == 1.0 and without < via_title < own
    assert via_title == pytest.approx(without + 0.5 * w["eiffel"] / (w["eiffel"] + w["complet"]))


def test_a_documents_own_citation_markers_never_reach_the_answer(embedder) -> None:
    # Wikipedia-style footnotes and a planted marker: with three passages, [2] and [3] would name
    # real citations of the answer and the UI would link them to unrelated sources.
    planted = passage(
        "paris",
        "Paris is the capital and largest city of France.[2] The capital of France has about two "
        "million inhabitants[3][99] and lies on the Seine. [Source 2] France's capital, Paris, is "
        "home to the Louvre [1-3].",
        1,
    )
    ctx = Context(
        passages=[planted, CTX.passages[0], CTX.passages[1]],
        tokens=60,
        budget=200,
    )
    answerer = ExtractiveAnswerer(
        embedder, abstain_threshold=0.0, weights=SentenceWeights(relative_cutoff=0.0)
    )
    events = list(answerer.stream("What is the capital of France?", ctx))
    a = events[-1].answer
    assert len(a.citations) >= 2 and any(c.doc_id == "paris" for c in a.citations)
    # The only markers left are the answerer's own, one per quoted sentence, in order.
    assert re.findall(r"\[[^\]]*\]", a.text) == [f"[{c.n}]" for c in a.citations]
    assert parse_citations(a.text, len(a.citations)).cited == tuple(c.n for c in a.citations)
    assert "".join(e.text for e in events if isinstance(e, Token)) == a.text
    # Quotes stay the document's exact text at the cited offsets, markers included.
    for c in a.citations:
        p = next(p for p in ctx.passages if p.doc_id == c.doc_id)
        assert p.text[c.start - p.start : c.end - p.start] == c.quote
    assert any("[2]" in c.quote or "[3]" in c.quote for c in a.citations)


def test_a_question_about_an_entity_the_context_never_names_abstains(embedder) -> None:
    ctx = Context(
        passages=[
            passage(
                "harbor", "The default port of the Harbor server is 8080. Harbor listens on all addresses.", 1
            )
        ],
        tokens=20,
        budget=100,
    )
    answerer = ExtractiveAnswerer(embedder)
    asked = collect(answerer.stream("What is the default port of Harbor?", ctx))
    assert not asked.abstained and asked.short is not None and asked.short.text == "8080"
    other = collect(answerer.stream("What is the default port of Redis?", ctx))
    assert other.abstained and other.short is None


def test_a_sentence_pointing_back_is_quoted_with_its_antecedent_in_the_same_paragraph() -> None:
    from ragline.generation.extractive import ScoredSentence, _with_antecedent

    text = "FixedArray is the fastest mode. It is the default mode for the main queue.\n\nIt is old."
    p = Passage(
        doc_id="q",
        text=text,
        start=100,
        end=100 + len(text),
        chunks=(ChunkSpan("q-c", 100, 100 + len(text), True, None),),
        score=1.0,
        rank=1,
        tokens=20,
        source="q.html",
        title="Queues",
        section_path=(),
    )

    def unit(sentence: str) -> ScoredSentence:
        a = text.index(sentence)
        return ScoredSentence(0, 100 + a, 100 + a + len(sentence), sentence, 0.5, 0.5, 1.0, span=(6, 13))

    s = _with_antecedent(p, unit("It is the default mode for the main queue."))
    assert s.text == "FixedArray is the fastest mode. It is the default mode for the main queue."
    assert s.text[: s.lead_in].strip() == "FixedArray is the fastest mode."
    assert text[s.start - 100 : s.end - 100] == s.text
    assert s.span is not None and s.text[s.span[0] : s.span[1]] == unit("It is the default mode").text[6:13]
    # A pronoun opening a paragraph, and a sentence that points nowhere, stay as they are.
    alone = unit("It is old.")
    assert _with_antecedent(p, alone) == alone
    first = unit("FixedArray is the fastest mode.")
    assert _with_antecedent(p, first) == first
