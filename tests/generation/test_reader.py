"""The packaged extractive reader (int8 ONNX) on tiny real inputs, and the answerer built on it."""

from __future__ import annotations

import pytest

from ragline.embedding.onnx import OnnxEmbedder
from ragline.errors import ConfigError
from ragline.generation.answering import Answering
from ragline.generation.base import collect
from ragline.generation.extractive import ExtractiveAnswerer, ReaderMix, SentenceWeights
from ragline.generation.reader import Featurizer, OnnxReader, packaged_reader_dir
from ragline.settings import AnswerSettings, Settings
from ragline.types import ChunkSpan, Context, Passage

pytestmark = pytest.mark.integration

EIFFEL = (
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889 as the "
    "entrance to the World's Fair. The tower was designed by the engineer Maurice Koechlin."
)


def test_the_packaged_reader_points_at_the_answer_span(reader: OnnxReader) -> None:
    # As the answerer uses it: one answer unit per passage, after its title.
    units = [f"Eiffel Tower: {u}" for u in EIFFEL.split(". ")]
    spans = reader.read("Who designed the Eiffel Tower?", units)
    assert all(s is not None for s in spans) and [s.passage for s in spans if s] == [0, 1, 2]
    best = max((s for s in spans if s is not None), key=lambda s: s.margin)
    assert best.passage == 2 and "Koechlin" in best.text
    assert units[2][best.start : best.end] == best.text
    year = reader.read("In what year was the Eiffel Tower completed?", [units[1]])[0]
    assert year is not None and year.text == "1889"
    assert reader.meta["max_seq"] >= 128


def test_a_passage_reads_the_same_alone_and_among_others(reader: OnnxReader) -> None:
    """Each window runs alone, so a passage's span and logits do not depend on what else is read
    with it (in one int8 batch the largest activation would set every window's resolution)."""
    units = [f"Eiffel Tower: {u}" for u in EIFFEL.split(". ")]
    long = "Eiffel Tower: " + " ".join(
        ["The tower is repainted every seven years with sixty tonnes of paint."] * 6
    )
    question = "Who designed the Eiffel Tower?"
    alone = reader.read(question, [units[2]])[0]
    among = reader.read(question, [long, units[0], units[2]])[2]
    assert alone is not None and among is not None
    assert (among.start, among.end, among.text) == (alone.start, alone.end, alone.text)
    assert among.logit == alone.logit and among.span_score == alone.span_score
    windows = reader.featurizer.windows(question, [units[2], long])
    start, end, answer = reader.logits(windows)
    assert [len(s) for s in start] == [len(w.ids) for w in windows] == [len(e) for e in end]
    assert answer.shape == (len(windows),)


def test_windows_read_side_by_side_equal_those_read_one_after_another() -> None:
    """``threads`` windows run at once (one core each); the spans and logits are those of one
    window after another, also when several questions read at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    one, two = OnnxReader.packaged(threads=1), OnnxReader.packaged(threads=2)
    assert one is not None and two is not None
    units = [f"Eiffel Tower: {u}" for u in EIFFEL.split(". ")]
    asks = [
        ("Who designed the Eiffel Tower?", units),
        ("In what year was the Eiffel Tower completed?", units[::-1]),
        ("Where is the Eiffel Tower?", units[:2]),
    ]
    expected = [one.read(q, ps) for q, ps in asks]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda a: two.read(*a), asks * 3))
    assert got == expected * 3
    assert "1889" in [s.text for s in expected[1] if s is not None]


def test_featurizer_windows_cover_a_long_passage_with_overlap(reader: OnnxReader) -> None:
    f = Featurizer(packaged_reader_dir() / "tokenizer.json", max_seq=96, stride=16)
    text = " ".join(f"word{i}" for i in range(300))
    windows = f.windows("which word?", [text])
    assert len(windows) > 2 and all(len(w.ids) <= 96 for w in windows)
    covered = {o for w in windows for o in w.offsets if o[0] >= 0}
    assert min(a for a, _ in covered) == 0 and max(b for _, b in covered) == len(text)
    # Consecutive windows overlap, so an answer cut by one window's end is whole in the next.
    first_end = max(b for a, b in windows[0].offsets if a >= 0)
    second_start = min(a for a, b in windows[1].offsets if a >= 0)
    assert second_start < first_end


def _passage(doc: str, text: str, rank: int) -> Passage:
    return Passage(
        doc_id=doc,
        text=text,
        start=0,
        end=len(text),
        chunks=(ChunkSpan(f"{doc}-c", 0, len(text), True, None),),
        score=1.0 / rank,
        rank=rank,
        tokens=len(text.split()),
        source=f"/docs/{doc}.md",
        title=doc.title(),
        section_path=(doc.title(),),
    )


def test_the_answerer_returns_the_readers_short_answer_with_its_citation(reader: OnnxReader) -> None:
    ctx = Context(
        passages=[
            _passage("eiffel", EIFFEL, 1),
            _passage("nile", "The Nile flows north. It is 6,650 km long.", 2),
        ],
        tokens=60,
        budget=200,
    )
    answerer = ExtractiveAnswerer(OnnxEmbedder(), reader=reader)
    a = collect(answerer.stream("Who designed the Eiffel Tower?", ctx))
    assert not a.abstained and a.short is not None
    assert "Koechlin" in a.short.text
    cited = a.citations[a.short.n - 1]
    assert cited.quote == "The tower was designed by the engineer Maurice Koechlin."
    assert EIFFEL[a.short.start : a.short.end] == a.short.text


def test_units_the_reader_ranked_join_the_answer_by_the_mixs_cutoff(reader: OnnxReader) -> None:
    # The reader's verdicts put runners-up far below the best unit, so a read answer has its own
    # cut-off for further units; the sentence scores' one governs answers the reader did not rank.
    ctx = Context(passages=[_passage("eiffel", EIFFEL, 1)], tokens=60, budget=200)
    question = "Who designed the Eiffel Tower?"

    def units(sentences: float, read: float, with_reader: bool = True) -> int:
        answerer = ExtractiveAnswerer(
            OnnxEmbedder(),
            abstain_threshold=0.0,
            reader=reader if with_reader else None,
            weights=SentenceWeights(relative_cutoff=sentences),
            mix=ReaderMix(relative_cutoff=read),
        )
        return len(collect(answerer.stream(question, ctx)).citations)

    assert units(sentences=0.0, read=1.0) == 1
    assert units(sentences=1.0, read=0.0) == 3
    assert units(sentences=0.0, read=1.0, with_reader=False) == 3


def test_an_overview_question_keeps_the_sentence_order_and_gets_no_short_answer(reader: OnnxReader) -> None:
    # "What do we know about X?" asks for what the documents say, not one fact: the reader (a
    # factoid span model) re-ranking it put a side remark first and returned it as the short answer.
    ctx = Context(passages=[_passage("eiffel", EIFFEL, 1)], tokens=60, budget=200)
    question = "What do we know about the Eiffel Tower?"
    with_reader = collect(ExtractiveAnswerer(OnnxEmbedder(), reader=reader).stream(question, ctx))
    without = collect(ExtractiveAnswerer(OnnxEmbedder()).stream(question, ctx))
    assert not with_reader.abstained and with_reader.short is None
    assert [c.quote for c in with_reader.citations] == [c.quote for c in without.citations]
    # A factoid question on the same passage still goes through the reader.
    factoid = collect(
        ExtractiveAnswerer(OnnxEmbedder(), reader=reader).stream("When was the Eiffel Tower completed?", ctx)
    )
    assert factoid.short is not None and "1889" in factoid.short.text


def test_reader_settings_pick_none_the_packaged_or_a_missing_path(tmp_path) -> None:
    answering = Answering(Settings(), embedder=None, token_counter=lambda: None)  # type: ignore[arg-type]
    assert answering._reader(AnswerSettings(reader="off")) is None
    assert isinstance(answering._reader(AnswerSettings()), OnnxReader)
    with pytest.raises(ConfigError, match=r"reader_path .* holds no reader\.onnx"):
        answering._reader(AnswerSettings(reader_path=str(tmp_path)))


def test_the_packaged_reader_records_how_it_was_quantised(reader: OnnxReader) -> None:
    """reader.json says how the shipped graph was quantised, and the graph is what it says: int8
    per-channel weights and an int8 word-embedding table with one scale per row."""
    import onnx
    from onnx import numpy_helper

    q = reader.meta["quantization"]
    assert reader.meta["quantized"] is True and q["weight_type"] == "QInt8" and q["per_channel"] is True
    assert "one scale per row" in q["word_embeddings"] and "exported_from" in reader.meta
    graph = onnx.load(str(packaged_reader_dir() / "reader.onnx")).graph
    init = {i.name: i for i in graph.initializer}
    rows = numpy_helper.to_array(init["encoder.embeddings.word_embeddings.weight_int8"])
    scale = numpy_helper.to_array(init["encoder.embeddings.word_embeddings.weight_scale"])
    assert rows.dtype.name == "int8" and rows.shape[0] == scale.shape[0] > 30_000 and scale.shape[1] == 1
    # Per-channel: a MatMul weight's scale is a vector (one per output column), not one number.
    scales = [numpy_helper.to_array(i) for n, i in init.items() if "MatMul" in n and n.endswith("_scale")]
    assert scales and all(s.size > 1 for s in scales)


def test_the_short_answer_stops_at_the_answer_instead_of_running_on(reader: OnnxReader) -> None:
    """SQuAD held-out calibration text: with spans of up to 30 tokens the reader's best span ran on
    through the sentence ("... had to be diverted, too, and it now flows parallel to the canalized
    Rhine"); MAX_ANSWER_TOKENS = 15 keeps the name the question asks for."""
    text = (
        "The Dornbirner Ach had to be diverted, too, and it now flows parallel to the canalized Rhine "
        "into the lake."
    )
    ctx = Context(passages=[_passage("rhine", text, 1)], tokens=40, budget=200)
    answerer = ExtractiveAnswerer(OnnxEmbedder(), reader=reader)
    a = collect(answerer.stream("What was diverted and now flows parallel to the Rhine?", ctx))
    assert not a.abstained and a.short is not None
    assert a.short.text.removeprefix("The ") == "Dornbirner Ach"
    assert text[a.short.start : a.short.end] == a.short.text
