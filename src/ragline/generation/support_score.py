"""The offline support judge: lexical and embedding evidence, combined by a calibrated logistic model.

A claim is compared with the sentences of its evidence (the passages it cites, read together):

* ``coverage``: share of the claim's content terms found anywhere in the evidence;
* ``local``: the best share found in one evidence sentence (a claim is usually one sentence's fact);
* ``terms_missing``: how many of its content terms the evidence lacks (0, 1, 2, 3 or more, over 3):
  one swapped phrase in a long sentence barely moves the shares above;
* ``numbers_missing`` / ``entities_missing``: share of its numbers and capitalised names the evidence
  lacks (a swapped year or name is the typical unsupported claim that still shares every word);
* ``cosine``: the best cosine between the claim and an evidence sentence (the embedding model).

:class:`SupportModel` holds the logistic weights and the threshold fitted on the SQuAD calibration
split by ``bench/citation_support.py`` (docs/benchmarks.md, "Citation support"); a claim the
evidence holds verbatim gets cosine 1 without running the model, and no claim runs it while the
cosine's fitted weight is 0 (as now).

Example::

    judge = OfflineSupportJudge(engine.embedder.transient())
    judge.support_scores(["Paris is the capital of France."], [["Paris is France's capital."]])
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ragline.embedding.base import Embedder, Vectors
from ragline.generation.citations import strip_markers
from ragline.generation.lexical import stem, terms
from ragline.generation.support import Claim, alce_support
from ragline.text.sentences import sentence_spans
from ragline.text.words import STOPWORDS
from ragline.types import SentenceSupport, SupportJudgeName

_NUMBER = re.compile(r"\d(?:[\d,.]*\d)?")
_NAME = re.compile(r"\b[A-Z][\w'’-]*")
_SPACE = re.compile(r"\s+")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
# Claims and evidence sentences are embedded by their opening, as the extractive answerer does.
_EMBED_CHARS = 400

FEATURES = ("coverage", "local", "terms_missing", "numbers_missing", "entities_missing", "cosine")
# Words an answer uses to attribute a claim ("According to the documents, ...", "the source
# states"): never evidence a passage must hold.
FRAMING: frozenset[str] = frozenset(
    stem(w)
    for w in [
        "according",
        "document",
        "documents",
        "source",
        "sources",
        "context",
        "passage",
        "passages",
        "text",
        "states",
        "stated",
        "mentions",
        "mentioned",
        "indicates",
        "indicated",
        "says",
        "said",
        "shows",
        "shown",
    ]
)
# Missing terms beyond this many count the same.
_MISSING_CAP = 3


@dataclass(frozen=True, slots=True)
class SupportFeatures:
    """The evidence for one claim, each in [0, 1] (see the module docstring)."""

    coverage: float
    local: float
    terms_missing: float
    numbers_missing: float
    entities_missing: float
    cosine: float

    def as_tuple(self) -> tuple[float, ...]:
        return (
            self.coverage,
            self.local,
            self.terms_missing,
            self.numbers_missing,
            self.entities_missing,
            self.cosine,
        )


@dataclass(frozen=True, slots=True)
class SupportModel:
    """``sigmoid(bias + weights . features)``; ``threshold`` is where a claim counts as supported.

    Fitted by logistic regression on the SQuAD v1.1 dev calibration split (articles with index
    % 4 in {0, 1}; bench/citation_support.py, docs/benchmarks.md), the weights held to their
    expected signs: ``local`` and ``cosine`` came out with the wrong sign there (the sampled
    claims' paraphrases and swapped answers are about equally close to their passages in
    embedding space) and got weight 0, so the model is not run for them. Threshold: best F1 on
    calibration (test split: precision 0.875, recall 0.794, AUC 0.931).
    """

    bias: float = 1.79
    weights: tuple[float, ...] = (0.518, 0.0, -3.754, -4.862, -2.617, 0.0)
    threshold: float = 0.71

    @property
    def uses_cosine(self) -> bool:
        return self.weights[FEATURES.index("cosine")] != 0.0

    def __call__(self, f: SupportFeatures) -> float:
        z = self.bias + math.fsum(w * x for w, x in zip(self.weights, f.as_tuple(), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in _NUMBER.finditer(text)}


def _names(text: str) -> set[str]:
    """Capitalised words other than the sentence's first word, lower-cased (stop words left out)."""
    out: set[str] = set()
    for m in _NAME.finditer(text):
        if m.start() == 0 or _EDGE.sub("", text[: m.start()]) == "":
            continue
        word = m.group(0).lower().rstrip("'’")
        if word not in STOPWORDS:
            out.add(word)
    return out


def _share_missing(wanted: set[str], present: set[str]) -> float:
    return len(wanted - present) / len(wanted) if wanted else 0.0


def verbatim(claim: str, evidence: Sequence[str]) -> bool:
    """Whether the claim (markers and edge punctuation aside) occurs word for word in the evidence."""
    needle = _EDGE.sub("", _normal(strip_markers(claim)))
    return bool(needle) and needle in _normal(" ".join(evidence))


def support_features(claim: str, sentences: Sequence[str], cosine: float) -> SupportFeatures:
    """The lexical evidence of ``sentences`` for ``claim``, with a cosine computed by the caller."""
    plain = strip_markers(claim)
    wanted = set(terms(plain)) - FRAMING
    per_sentence = [terms(s) for s in sentences]
    present = {t for ws in per_sentence for t in ws}
    if wanted:
        coverage = len(wanted & present) / len(wanted)
        local = max((len(wanted & set(ws)) / len(wanted) for ws in per_sentence), default=0.0)
    else:
        coverage = local = 1.0
    joined = " ".join(sentences)
    evidence_words = {w.lower().rstrip("'’") for w in re.findall(r"[\w'’-]+", joined)}
    return SupportFeatures(
        coverage=coverage,
        local=local,
        terms_missing=min(len(wanted - present), _MISSING_CAP) / _MISSING_CAP,
        numbers_missing=_share_missing(_numbers(plain), _numbers(joined)),
        entities_missing=_share_missing(_names(plain), evidence_words),
        cosine=max(0.0, min(1.0, cosine)),
    )


def evidence_sentences(text: str) -> list[str]:
    """A passage's sentences without the document's own citation markers."""
    return [s for a, b in sentence_spans(text) if (s := strip_markers(text[a:b]))]


class OfflineSupportJudge:
    """Scores claims with :func:`support_features` and a :class:`SupportModel`; no network.

    Example::

        judge = OfflineSupportJudge(embedder)
        supports = judge.judge(split_claims(answer.text, 99), {1: passage_text})
    """

    name: SupportJudgeName = "offline"

    def __init__(self, embedder: Embedder, model: SupportModel | None = None) -> None:
        self.embedder = embedder
        self.model = model or SupportModel()
        self.errors: tuple[str, ...] = ()

    @property
    def threshold(self) -> float:
        return self.model.threshold

    def _vectors(self, texts: Sequence[str]) -> dict[str, Vectors]:
        if not self.model.uses_cosine:
            return {}
        unique = list(dict.fromkeys(t[:_EMBED_CHARS] for t in texts))
        if not unique:
            return {}
        vecs = self.embedder.embed_documents(unique)
        return dict(zip(unique, vecs, strict=True))

    def _score(self, claim: str, sentences: Sequence[str], vecs: dict[str, Vectors]) -> float:
        if verbatim(claim, sentences):
            cosine = 1.0
        elif sentences and self.model.uses_cosine:
            c = vecs[strip_markers(claim)[:_EMBED_CHARS]]
            cosine = float(np.max(np.stack([vecs[s[:_EMBED_CHARS]] for s in sentences]) @ c))
        else:
            cosine = 0.0
        return self.model(support_features(claim, sentences, cosine))

    def support_scores(self, claims: Sequence[str], evidence: Sequence[Sequence[str]]) -> list[float]:
        """Support of ``claims[i]`` by the texts ``evidence[i]`` read together, in [0, 1]."""
        split = [[s for text in texts for s in evidence_sentences(text)] for texts in evidence]
        need: list[str] = []
        for claim, sentences in zip(claims, split, strict=True):
            if sentences and not verbatim(claim, sentences):
                need.append(strip_markers(claim))
                need.extend(sentences)
        vecs = self._vectors(need)
        return [self._score(c, s, vecs) for c, s in zip(claims, split, strict=True)]

    def judge(self, claims: Sequence[Claim], sources: Mapping[int, str]) -> list[SentenceSupport]:
        """Each claim against the sources it cites (ALCE support and precision)."""
        passages = {n: evidence_sentences(sources[n]) for c in claims for n in c.citations if n in sources}
        need: list[str] = []
        for c in claims:
            union = [s for n in c.citations for s in passages.get(n, [])]
            if union and (len(c.citations) > 1 or not verbatim(c.plain, union)):
                need.append(c.plain)
                need.extend(union)
        vecs = self._vectors(need)
        out: list[SentenceSupport] = []
        for c in claims:

            def score(cited: tuple[int, ...], claim: Claim = c) -> float:
                return self._score(claim.plain, [s for n in cited for s in passages.get(n, [])], vecs)

            out.append(alce_support(c, score, self.threshold, self.name))
        return out
