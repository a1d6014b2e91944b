"""The offline answerer: the context's best sentences, quoted with numbered citations.

Each sentence of the assembled context is scored against the question by embedding similarity
(the same model that retrieved it), IDF-weighted lexical coverage and the rank of its passage. A
few non-redundant sentences are chosen with maximal marginal relevance (Carbonell & Goldstein 1998,
"The use of MMR, diversity-based reranking for reordering documents and producing summaries").
The answer abstains when a logistic confidence over the best sentence's similarity and coverage
falls below ``abstain_threshold``; its weights and the threshold were fitted on SQuAD questions
whose articles were or were not indexed (``bench/tune_answerer.py``, docs/benchmarks.md).

Example::

    answerer = ExtractiveAnswerer(engine.embedder)
    answer = collect(answerer.stream("When was Python 3.11 released?", context))
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from ragline.embedding.base import Embedder, Vectors, l2_normalize
from ragline.errors import ConfigError
from ragline.generation.citations import strip_markers
from ragline.generation.lexical import coverage, idf, terms
from ragline.generation.prompt import NOT_ENOUGH_INFORMATION
from ragline.generation.question import QuestionNeed, about, carries, classify
from ragline.generation.reader import Reader, Span
from ragline.generation.short import short_span, tidy_span
from ragline.text.sentences import answer_units, is_code, is_heading, sentence_spans
from ragline.types import Answer, Citation, Context, Final, Passage, ShortAnswer, StreamEvent, Token

ABSTAIN_TEXT = NOT_ENOUGH_INFORMATION

# Fewer content terms than this and a "sentence" is a fragment (a label, a number, a heading).
MIN_TERMS = 3
# Cosine similarity above which two sentences say the same thing; the second is never added.
NEAR_DUPLICATE = 0.95
# Candidate sentences taken from each passage before the best of the rest.
PER_PASSAGE = 2

#: The stored sentence vectors of chunks (a store's ``fetch_sentence_vectors``): for each chunk id,
#: its text and one vector per sentence (``sentence_spans`` of the text), or None.
SentenceVectors = Callable[[Sequence[str]], Sequence[tuple[str, Vectors] | None]]


@dataclass(frozen=True, slots=True)
class SentenceWeights:
    """How a sentence's score is made (tuned on the SQuAD calibration split, never on test)."""

    similarity: float = 0.40
    coverage: float = 0.35
    rank: float = 0.10
    # Share of a question term's weight earned when only the title/section path holds it.
    title_coverage: float = 0.5
    # A further sentence joins the answer only while it scores this share of the best one
    # (1.0 = always one sentence: best SQuAD F1, 0.765 answer recall; 0.9: F1 -0.012, recall +0.04).
    relative_cutoff: float = 0.9
    # What the question asks for (issue 23, tuned on bench/docs_qa's dev split and the SQuAD
    # calibration split): a unit that carries the asked kind of answer (a default, a number, a
    # code, a definition...) and one about the asked entity outrank one that only repeats words.
    answer_type: float = 0.15
    entity: float = 0.15
    # The best unit's passage (its text, title and section path) must mention at least this share
    # of the named entities (identifiers, products: QuestionNeed.named), else the question is
    # about something the collection does not hold
    # ("What is the default port of Redis?") and the answer abstains.
    min_entity_share: float = 1.0


def _about(need: QuestionNeed, s: _Sentence) -> float:
    """How much ``s`` is about the asked entities: in the unit 1, in the unit before it or the
    title/section path 0.5 (see :func:`ragline.generation.question.about`)."""
    near = about(need, s.terms | s.before, s.header)
    return 0.5 * (about(need, s.terms, frozenset()) + near)


def _head(title: str) -> str:
    """What goes before a unit the reader reads: its title, as in training ("Title: unit")."""
    return f"{title}: " if title.strip() else ""


def _reread(s: ScoredSentence, head: str, span: Span | None, mix: ReaderMix, prior: float) -> ScoredSentence:
    """``s`` scored by the reader's verdict plus ``prior``, its span moved into ``s.text``."""
    if span is None:
        return replace(s, score=prior, reader_logit=-20.0, reader_margin=-20.0)
    a, b = span.start - len(head), span.end - len(head)
    inside = (a, b) if a >= 0 and b > a else None
    return replace(
        s, score=mix.verdict(span) + prior, span=inside, reader_logit=span.logit, reader_margin=span.margin
    )


def _unit_text(p: Passage, text: str) -> str:
    """What a unit is embedded as: its passage's header (title, section path) on a line before it,
    as ingest embeds each sentence of a chunk (``chunking.sentence_vectors = "separate"``), so a
    vector the collection stored and one embedded now are the same vector."""
    return f"{p.header}\n{text}" if p.header else text


@dataclass(frozen=True, slots=True)
class ConfidenceModel:
    """``sigmoid(bias + w_similarity * similarity + w_coverage * coverage)`` of the best sentence."""

    # Fitted by logistic regression on 300 answerable + 300 unanswerable SQuAD calibration-split
    # questions (bench/tune_answerer.py; AUC 0.976 there, similarity alone 0.953).
    bias: float = -10.96
    w_similarity: float = 16.79
    w_coverage: float = 7.46

    def __call__(self, similarity: float, cov: float) -> float:
        z = self.bias + self.w_similarity * similarity + self.w_coverage * cov
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True, slots=True)
class ReaderMix:
    """How the reader's verdicts combine with the sentence scores (tuned on the SQuAD calibration
    split and bench/docs_qa's dev split; docs/benchmarks.md, "Extractive reader")."""

    # Units of the best scored ones that the reader reads (its cost grows with each).
    candidates: int = 4
    # The reader's verdict on a unit: this share of its answer head's probability, the rest its
    # span head's (sigmoid of the best span's margin over the no-answer span). On 160 calibration
    # questions the answer head alone ranked best (top unit holds gold 0.769 vs 0.744 at 0.5).
    signal: float = 1.0
    # A unit's rank is the reader's verdict plus this share of its sentence score relative to the
    # best one's (the sentence score knows the question's need and the asked entity).
    score: float = 0.5
    # Confidence = sigmoid(bias + w_logit * answer logit + w_margin * span margin +
    # w_similarity * similarity + w_coverage * coverage) of the chosen unit: logistic regression
    # on 80 answerable + 80 near-miss calibration questions (partial index; AUC 0.959), the bias
    # shifted so that the best-F1 threshold (0.41) lands on answer.abstain_threshold's 0.5.
    bias: float = -9.186
    w_logit: float = 0.893
    w_margin: float = 0.009
    w_similarity: float = 13.455
    w_coverage: float = 6.302
    # Kinds whose answer is no short span (steps, a comparison, a definition: the sentence is the
    # answer): no Answer.short from the reader.
    no_short: frozenset[str] = frozenset({"procedure", "difference", "definition", "overview"})
    # Kinds whose short answer the typed extraction finds in a documentation entry ("Default: |
    # KeepAliveTimeout 5" -> "5"), forms the reader never saw in SQuAD.
    typed_first: frozenset[str] = frozenset({"default", "code"})
    # Kinds the reader does not re-rank: an overview ("What do we know about X?") is answered by
    # several sentences in the sentence scores' order, not by the one span a factoid reader finds.
    unread: frozenset[str] = frozenset({"overview"})

    def verdict(self, span: Span) -> float:
        """How sure the reader is that the unit it read answers the question, in [0, 1]."""
        return self.signal * span.probability + (1.0 - self.signal) * _sigmoid(span.margin)

    def confidence(self, s: ScoredSentence) -> float:
        z = (
            self.bias
            + self.w_logit * max(-20.0, s.reader_logit if s.reader_logit is not None else -20.0)
            + self.w_margin * max(-20.0, s.reader_margin if s.reader_margin is not None else -20.0)
            + self.w_similarity * s.similarity
            + self.w_coverage * s.coverage
        )
        return _sigmoid(z)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


class _Sentence(NamedTuple):
    passage: int
    start: int
    end: int
    text: str
    # The text without the document's own citation markers: what is scored, embedded and answered.
    shown: str
    terms: set[str]
    # Terms of the passage's title and section path.
    header: frozenset[str]
    # Terms of the unit before it in the same passage ("this macro", "it" point back there).
    before: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    """A context sentence and how well it answers the question (offsets into its document)."""

    passage: int
    start: int
    end: int
    text: str
    coverage: float
    similarity: float
    score: float
    # Share of the question's asked entities the unit (or its neighbourhood) mentions.
    entity_share: float = 1.0
    # The reader's answer span in ``text`` (offsets into it) and its logit, when it read the unit.
    span: tuple[int, int] | None = None
    reader_logit: float | None = None
    reader_margin: float | None = None


class ExtractiveAnswerer:
    """Answers with the context's own sentences; see the module docstring."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 3,
        candidate_sentences: int = 8,
        mmr_lambda: float = 0.7,
        abstain_threshold: float = 0.5,
        confidence: ConfidenceModel | None = None,
        weights: SentenceWeights | None = None,
        reader: Reader | None = None,
        mix: ReaderMix | None = None,
    ) -> None:
        if max_sentences < 1 or candidate_sentences < 1:
            raise ConfigError(
                f"max_sentences ({max_sentences}) and candidate_sentences ({candidate_sentences}) "
                "must be at least 1"
            )
        if not 0.0 <= mmr_lambda <= 1.0 or not 0.0 <= abstain_threshold <= 1.0:
            raise ConfigError(
                f"mmr_lambda ({mmr_lambda}) and abstain_threshold ({abstain_threshold}) must lie in [0, 1]"
            )
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.candidate_sentences = candidate_sentences
        self.mmr_lambda = mmr_lambda
        self.abstain_threshold = abstain_threshold
        self.confidence = confidence or ConfidenceModel()
        self.weights = weights or SentenceWeights()
        # The learned reader re-ranks the best units and finds the short answer; without it the
        # sentence scores decide alone (the model file is optional: a source checkout may lack it).
        self.reader = reader
        self.mix = mix or ReaderMix()
        # Where the collection's stored sentence vectors come from (see :meth:`over`); None: every
        # candidate unit is embedded at query time.
        self.stored: SentenceVectors | None = None

    def over(self, stored: SentenceVectors | None) -> ExtractiveAnswerer:
        """This answerer reading candidate units' vectors from ``stored`` (a collection's stored
        sentence vectors) where a unit is one of its chunk's stored sentences; a shallow copy, so
        answerers shared between collections stay independent.

        Example::

            answerer.over(store.fetch_sentence_vectors).stream(question, context)
        """
        other = copy.copy(self)
        other.stored = stored
        return other

    def unit_vectors(self, context: Context, units: Sequence[_Sentence]) -> Vectors:
        """Each unit's embedding (``header + "\\n" + unit``, unit length): the vector the collection
        stored for it where the unit is one of its chunk's sentences (embedding 8 units cold cost
        ~36 ms of a ~150 ms ``ask`` on the quiet machine), the rest embedded now (through the
        embedder's in-memory cache, keyed by text)."""
        out = np.zeros((len(units), self.embedder.dimension), dtype=np.float32)
        reused = self._stored_rows(context, units)
        for j, v in reused.items():
            out[j] = v
        missing = [j for j in range(len(units)) if j not in reused]
        if missing:
            texts = [_unit_text(context.passages[units[j].passage], units[j].text) for j in missing]
            out[missing] = self.embedder.embed_documents(texts)
        return out

    def _stored_rows(self, context: Context, units: Sequence[_Sentence]) -> dict[int, Vectors]:
        """Stored sentence vectors of ``units`` by index: a unit gets one when its document span is
        exactly a sentence of a chunk that covers it (table rows and a label joined to its
        definition are answer units, not stored sentences, and are embedded now)."""
        if self.stored is None or not units:
            return {}
        covering: dict[int, list[tuple[str, int]]] = {}
        for j, u in enumerate(units):
            for c in context.passages[u.passage].chunks:
                if c.start <= u.start and u.end <= c.end:
                    covering.setdefault(j, []).append((c.chunk_id, c.start))
        ids = list(dict.fromkeys(cid for spans in covering.values() for cid, _ in spans))
        if not ids:
            return {}
        by_span: dict[tuple[int, int], Vectors] = {}
        texts: dict[tuple[int, int], str] = {}
        starts = {cid: start for spans in covering.values() for cid, start in spans}
        for cid, got in zip(ids, self.stored(ids), strict=True):
            if got is None:
                continue
            text, vecs = got
            spans = sentence_spans(text)
            # One vector per sentence is what "separate" sentence vectors are; "late" ones may
            # have fewer (truncation) and are pooled differently: not this unit's embedding.
            if len(spans) != len(vecs):
                continue
            base = starts[cid]
            for (a, b), v in zip(spans, vecs, strict=True):
                by_span[(base + a, base + b)] = v
                texts[(base + a, base + b)] = text[a:b]
        out: dict[int, Vectors] = {}
        for j, u in enumerate(units):
            key = (u.start, u.end)
            if key in by_span and texts[key] == u.text:
                out[j] = by_span[key]
        if out:
            # Stored as float16: back to unit length, as a fresh embedding is.
            rows = l2_normalize(np.asarray(list(out.values()), dtype=np.float32))
            out = dict(zip(out, rows, strict=True))
        return out

    def warm_up(self) -> None:
        """Load the reader's graph now rather than on the first question."""
        if self.reader is not None:
            self.reader.warm_up()

    # -- scoring ---------------------------------------------------------------------------------

    def score(
        self, question: str, context: Context, need: QuestionNeed | None = None
    ) -> tuple[list[ScoredSentence], np.ndarray]:
        """Candidate units, best first, and their embeddings (rows in the same order)."""
        need = need or classify(question)
        q_terms = need.content_terms(set(terms(question)))
        found: list[_Sentence] = []
        for i, p in enumerate(context.passages):
            # A sentence says "it was completed in 1889"; its title says what "it" is.
            header = frozenset(terms(p.header))
            before: frozenset[str] = frozenset()
            for a, b in answer_units(p.text):
                text = p.text[a:b]
                if is_heading(text) or is_code(text):
                    continue
                shown = strip_markers(text)
                t = set(terms(shown))
                if len(t) >= MIN_TERMS:
                    found.append(_Sentence(i, p.start + a, p.start + b, text, shown, t, header, before))
                before = frozenset(t)
        if not found:
            return [], np.zeros((0, 0), dtype=np.float32)
        weights = idf([f.terms | f.header for f in found])
        default = math.log(1.0 + len(found))  # a question term no sentence has: rarest of all
        w = self.weights
        covs = [coverage(q_terms, f.terms, weights, default, f.header, w.title_coverage) for f in found]
        priors = [1.0 / (1.0 + math.log(context.passages[f.passage].rank)) for f in found]
        kinds = [carries(need, f.shown) for f in found]
        abouts = [_about(need, f) for f in found]
        # What the question needs counts before embedding too: the unit stating the default may
        # share fewer words with the question than its neighbours do.
        pre = [
            c + 0.25 * r + w.answer_type * k + w.entity * e
            for c, r, k, e in zip(covs, priors, kinds, abouts, strict=True)
        ]
        # Embedding every sentence costs more than the rest of ask; lexical coverage and the
        # passage rank pick the candidates worth embedding.
        keep = self._candidates(found, pre)
        # Long sentences are embedded by their opening: the model's cost grows with length and the
        # model keeps the first embedding.max_tokens. Each unit is embedded as ingest embeds a
        # sentence (header, then the sentence), so the stored sentence vectors serve most units.
        vecs = self.unit_vectors(context, [found[i] for i in keep])
        sims = vecs @ self.embedder.embed_query(question)
        scored = [
            ScoredSentence(
                passage=found[i].passage,
                start=found[i].start,
                end=found[i].end,
                text=found[i].text,
                coverage=covs[i],
                similarity=float(s),
                score=w.similarity * float(s)
                + w.coverage * covs[i]
                + w.rank * priors[i]
                + w.answer_type * kinds[i]
                + w.entity * abouts[i],
                entity_share=abouts[i],
            )
            for i, s in zip(keep, sims, strict=True)
        ]
        order = sorted(range(len(scored)), key=lambda j: -scored[j].score)
        return [scored[j] for j in order], vecs[order]

    def _candidates(self, found: list[_Sentence], pre: list[float]) -> list[int]:
        """Indexes of the sentences worth embedding: each passage's best by coverage, best passages
        first (so a passage whose wording differs from the question still gets a say), then the
        best of the rest."""
        by_passage: dict[int, list[int]] = {}
        for i in sorted(range(len(found)), key=lambda i: -pre[i]):
            by_passage.setdefault(found[i].passage, []).append(i)
        keep: list[int] = []
        for rows in by_passage.values():
            keep.extend(rows[:PER_PASSAGE])
        keep.sort(key=lambda i: found[i].passage)
        keep = keep[: self.candidate_sentences]
        chosen = set(keep)
        rest = [i for rows in by_passage.values() for i in rows if i not in chosen]
        rest.sort(key=lambda i: -pre[i])
        return keep + rest[: self.candidate_sentences - len(keep)]

    def reread(
        self, question: str, context: Context, scored: list[ScoredSentence], vecs: np.ndarray
    ) -> tuple[list[ScoredSentence], np.ndarray, float]:
        """The best units re-ranked by the reader, with its spans, and the answer's confidence."""
        assert self.reader is not None
        k = min(self.mix.candidates, len(scored))
        heads = [_head(context.passages[s.passage].title) for s in scored[:k]]
        spans = self.reader.read(question, [h + s.text for h, s in zip(heads, scored[:k], strict=True)])
        best = scored[0].score or 1.0
        read: list[ScoredSentence] = []
        for s, h, span in zip(scored[:k], heads, spans, strict=True):
            read.append(_reread(s, h, span, self.mix, self.mix.score * s.score / best))
        order = sorted(range(k), key=lambda j: -read[j].score)
        rest = [replace(s, score=-1.0) for s in scored[k:]]
        top = read[order[0]]
        confidence = self.mix.confidence(top)
        return [read[j] for j in order] + rest, np.concatenate([vecs[:k][order], vecs[k:]]), confidence

    def select(self, scored: list[ScoredSentence], vecs: np.ndarray) -> list[ScoredSentence]:
        """Up to ``max_sentences`` relevant, mutually non-redundant sentences (MMR)."""
        if not scored:
            return []
        chosen = [0]
        best = scored[0].score
        while len(chosen) < self.max_sentences:
            pick, pick_value = -1, -math.inf
            for j in range(1, len(scored)):
                if j in chosen or scored[j].score < self.weights.relative_cutoff * best:
                    continue
                redundancy = float(np.max(vecs[chosen] @ vecs[j]))
                if redundancy >= NEAR_DUPLICATE:
                    continue
                value = self.mmr_lambda * scored[j].score - (1.0 - self.mmr_lambda) * redundancy
                if value > pick_value:
                    pick, pick_value = j, value
            if pick < 0:
                break
            chosen.append(pick)
        return [scored[j] for j in chosen]

    # -- answering -------------------------------------------------------------------------------

    def stream(self, question: str, context: Context) -> Iterator[StreamEvent]:
        need = classify(question)
        scored, vecs = self.score(question, context, need)
        confidence = self.confidence(scored[0].similarity, scored[0].coverage) if scored else 0.0
        if scored and self.reader is not None and need.kind not in self.mix.unread:
            scored, vecs, read_confidence = self.reread(question, context, scored, vecs)
            # Both calibrated on SQuAD near misses; the reader's alone was sure (0.86) of httpd's
            # graceful restart for "How do I restart Tomcat gracefully?", the sentence score was
            # not (0.03): the mean needs both to agree (bench/docs_qa dev, docs/benchmarks.md).
            confidence = 0.5 * (confidence + read_confidence)
        if (
            scored
            and need.named
            and self._entity_share(need, context, scored[0]) < self.weights.min_entity_share
        ):
            # The question is about something no chosen passage mentions: sharing "default port"
            # with the collection is not knowing Redis's default port.
            confidence = min(confidence, self.abstain_threshold / 2)
        if confidence < self.abstain_threshold:
            yield Token(ABSTAIN_TEXT)
            yield Final(self._answer(question, ABSTAIN_TEXT, [], True, confidence))
            return
        citations: list[Citation] = []
        pieces: list[str] = []
        short: ShortAnswer | None = None
        for n, s in enumerate(self.select(scored, vecs), 1):
            p = context.passages[s.passage]
            span = p.chunk_at(s.start)
            citations.append(
                Citation(
                    n=n,
                    chunk_id=span.chunk_id,
                    doc_id=p.doc_id,
                    source=p.source,
                    title=p.title,
                    section_path=p.section_path,
                    page=span.page,
                    start=s.start,
                    end=s.end,
                    quote=s.text,
                )
            )
            if short is None and self.reader is not None and need.kind not in self.mix.typed_first:
                if s.span is not None and need.kind not in self.mix.no_short:
                    a, b = tidy_span(s.text, *s.span)
                    short = ShortAnswer(text=s.text[a:b], n=n, start=s.start + a, end=s.start + b)
            elif short is None:
                found = short_span(need, question, s.text)
                if found is not None:
                    a, b = tidy_span(s.text, *found)
                    short = ShortAnswer(text=s.text[a:b], n=n, start=s.start + a, end=s.start + b)
            # The quote keeps the document's exact text (it matches start/end); the answer drops the
            # document's own [n] markers so that every marker in it is one of these citations.
            piece = f"{' '.join(strip_markers(s.text).split())} [{n}]"
            yield Token(piece if n == 1 else " " + piece)
            pieces.append(piece)
        answer = self._answer(question, " ".join(pieces), citations, False, confidence)
        yield Final(replace(answer, short=short) if short is not None else answer)

    @staticmethod
    def _entity_share(need: QuestionNeed, context: Context, best: ScoredSentence) -> float:
        """Share of the named entities (identifiers, products) that the best unit's passage (text,
        title, section path) mentions (the whole context named "Microsoft" somewhere for an SQL
        Server question)."""
        p = context.passages[best.passage]
        present = set(terms(p.text)) | set(terms(p.header))
        hits = sum(set(terms(e)) <= present for e in need.named)
        return hits / len(need.named)

    @staticmethod
    def _answer(
        question: str, text: str, citations: list[Citation], abstained: bool, confidence: float
    ) -> Answer:
        return Answer(
            question=question,
            text=text,
            citations=citations,
            abstained=abstained,
            mode="extractive",
            confidence=confidence,
            trace_id="",
        )
