"""Follow-on sentences: the reader reads a unit with the one after it, so an answer stated in a
sentence that goes on from the question's words ("Extension causes ... thinner." then "This is
primarily accomplished through normal faulting ...") is read and chosen, with its citation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ragline.embedding.cache import CachedEmbedder, EmbeddingCache
from ragline.embedding.onnx import OnnxEmbedder
from ragline.generation.base import collect
from ragline.generation.extractive import ExtractiveAnswerer, ReaderMix, _follow_on
from ragline.generation.reader import OnnxReader
from ragline.text.sentences import answer_units
from ragline.types import Answer, ChunkSpan, Context, Passage

pytestmark = pytest.mark.integration

# Wikipedia, "Geology" (structural geology).
EXTENSION = (
    "Extension causes the rock units as a whole to become longer and thinner. This is primarily "
    "accomplished through normal faulting and through the ductile stretching and thinning. Normal "
    "faults drop rock units that are higher below those that are lower."
)
COMPRESSION = (
    "In the process of compression, rock units are shortened and thickened. Compression causes "
    "folding and thrust faults."
)


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder()


def _passage(doc: str, title: str, text: str, rank: int, start: int = 0) -> Passage:
    return Passage(
        doc_id=doc,
        text=text,
        start=start,
        end=start + len(text),
        chunks=(ChunkSpan(f"{doc}-c", start, start + len(text), True, None),),
        score=1.0 / rank,
        rank=rank,
        tokens=len(text.split()),
        source=f"/docs/{doc}.md",
        title=title,
        section_path=(title,),
    )


def _geology() -> Context:
    # The passage starts mid-document: citations carry document offsets.
    return Context(
        passages=[
            _passage("geology", "Geology", EXTENSION, 1, start=120),
            _passage("folds", "Geology", COMPRESSION, 2),
        ],
        tokens=80,
        budget=400,
    )


def _ask(embedder: OnnxEmbedder, reader: OnnxReader, question: str, ctx: Context, follow: int) -> Answer:
    mix = replace(ReaderMix(), follow=follow)
    return collect(ExtractiveAnswerer(embedder, reader=reader, mix=mix).stream(question, ctx))


def test_the_sentence_after_the_matching_one_is_read_and_quoted_with_it(
    embedder: OnnxEmbedder, reader: OnnxReader
) -> None:
    question = "What causes rock extension?"
    # The answer sentence shares no word with the question ("This is primarily accomplished
    # through ..."): without follow-on reading the answer quotes the sentence before it only.
    alone = _ask(embedder, reader, question, _geology(), follow=0)
    assert not alone.abstained and "normal faulting" not in alone.text
    a = _ask(embedder, reader, question, _geology(), follow=ReaderMix().follow)
    assert not a.abstained and a.confidence >= 0.5
    # The first citation quotes both sentences, with exact document offsets (the passage starts
    # at 120 in its document), and the answer leads with it.
    first = a.citations[0]
    assert first.quote.startswith("Extension causes") and "normal faulting" in first.quote
    assert EXTENSION[first.start - 120 : first.end - 120] == first.quote
    assert a.text.startswith(f"{first.quote} [1]")
    assert a.short is not None and a.short.n == 1
    assert EXTENSION[a.short.start - 120 : a.short.end - 120] == a.short.text


def test_the_short_answer_moves_after_the_first_unit_only_for_a_clearly_better_span(
    embedder: OnnxEmbedder, reader: OnnxReader
) -> None:
    # Reading the pair, the reader's best span is "ductile stretching and thinning" (start + end
    # logits 7.8 against the first unit's own span, ~5.7, with the per-channel int8 reader): the
    # short answer moves to it only when it beats the first unit's by ``follow_span``.
    question = "What causes rock extension?"

    def short(follow_span: float) -> str | None:
        mix = replace(ReaderMix(), follow_span=follow_span)
        a = collect(ExtractiveAnswerer(embedder, reader=reader, mix=mix).stream(question, _geology()))
        assert "normal faulting" in a.citations[0].quote
        return None if a.short is None else a.short.text

    assert short(0.0) == short(ReaderMix().follow_span) == "ductile stretching and thinning"
    own = short(5.0)
    assert own is not None and own in EXTENSION.split(". ")[0] and "thinner" in own


def test_follow_on_reading_embeds_nothing_more(
    tmp_path: Path, embedder: OnnxEmbedder, reader: OnnxReader
) -> None:
    # The pair is scored with the first unit's vector and evidence (it holds the question's
    # words): no unit is embedded for it, so stored sentence vectors ("separate" or "mapped")
    # serve exactly as before.
    question = "What causes rock extension?"
    cached = CachedEmbedder(embedder, EmbeddingCache(tmp_path / "cache.sqlite"))
    counts = []
    for follow in (0, 2):
        transient = cached.transient()
        collect(
            ExtractiveAnswerer(transient, reader=reader, mix=replace(ReaderMix(), follow=follow)).stream(
                question, _geology()
            )
        )
        counts.append(transient.embedded)
    assert counts[0] == counts[1] > 0


def test_a_sentence_that_answers_alone_keeps_its_own_read(embedder: OnnxEmbedder, reader: OnnxReader) -> None:
    # Where the reader's span stays in the first unit, the pair adds nothing: the answer is the
    # one the single units give.
    question = "What causes folding and thrust faults?"
    off = _ask(embedder, reader, question, _geology(), follow=0)
    on = _ask(embedder, reader, question, _geology(), follow=ReaderMix().follow)
    assert on.short is not None and "ompression" in on.short.text
    assert (on.text, on.short) == (off.text, off.short)


def test_the_units_after_stop_at_a_heading_code_or_the_passages_end() -> None:
    text = "## Port\n\nListen sets the port. The default is 80. Use 443 for TLS.\n\n## Next\n\nIt is on."
    p = _passage("httpd", "Apache", text, 1, start=50)
    units = answer_units(text)
    shown = [text[a:b] for a, b in units]
    u = shown.index("Listen sets the port.")

    def after(u: int, n: int, p: Passage = p, units: list[tuple[int, int]] = units) -> str | None:
        got = _follow_on(p, units, u, n)
        return None if got is None else p.text[got[0] - p.start : got[1] - p.start]

    assert after(u, 1) == "The default is 80."
    assert after(u, 2) == "The default is 80. Use 443 for TLS."
    assert after(u, 3) == after(u, 2)  # the heading ends the run
    assert after(u + 2, 1) is None  # a heading follows
    assert after(len(units) - 1, 1) is None  # the passage ends
    code = "Run it like this:\n\n```\nmake all\n```"
    c = _passage("make", "Make", code, 1)
    assert after(0, 1, c, answer_units(code)) is None


def test_units_quoted_with_the_one_before_them_are_not_quoted_again(
    embedder: OnnxEmbedder, reader: OnnxReader
) -> None:
    # The pair keeps its first unit's vector, so the sentences it now quotes would pass the
    # answer's redundancy check and be chosen again beside it (make demo's venv answer quoted
    # "This will create the tutorial-env directory ..." twice).
    mix = replace(ReaderMix(), follow=ReaderMix().follow, relative_cutoff=0.0)
    answerer = ExtractiveAnswerer(embedder, reader=reader, mix=mix, max_sentences=4)
    a = collect(answerer.stream("What causes rock extension?", _geology()))
    assert not a.abstained and "normal faulting" in a.citations[0].quote
    spans = [(c.doc_id, c.start, c.end) for c in a.citations]
    for i, (doc, s, e) in enumerate(spans):
        for doc2, s2, e2 in spans[i + 1 :]:
            assert doc != doc2 or e <= s2 or e2 <= s, a.citations
