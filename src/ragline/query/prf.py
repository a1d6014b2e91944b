"""RM3 pseudo-relevance feedback for the keyword side.

The first-pass keyword hits are assumed relevant; the terms they share are added to the query, so
that a document using the neighbours' vocabulary but none of the query's words can still be found.

The relevance model is RM1 (Lavrenko & Croft, "Relevance-Based Language Models", SIGIR 2001)::

    P(w|R) ∝ Σ_d P(w|d) · P(d|q)        P(w|d) = tf(w, d) / |d|,  P(d|q) = score(d) / Σ score

truncated to the ``n_terms`` most probable terms and renormalised, then interpolated with the
original query model as in RM3 (Abdul-Jaleel et al., "UMass at TREC 2004: Novelty and HARD", 2004)::

    P'(w|q) = λ · P_mle(w|q) + (1 − λ) · P(w|R)

LanceDB's full-text query parser (lancedb 0.40, checked against a real ``LanceStore``) has no term
boosting: ``apple^5`` scores exactly like ``apple`` (the ``^5`` is split off as a token that matches
nothing), and ``AND``/``OR`` are dropped as stop words; :func:`ragline.store.keyword.keyword_query`
also strips ``^`` before the parser sees it. A repeated term, however, adds its BM25 contribution
once per occurrence (``apple apple apple banana`` scores 3·bm25(apple) + bm25(banana), measured to
the third decimal), so :func:`expand_query` encodes weights by repeating terms in proportion.

Example::

    expander = PRFKeywordExpander(store, fb_docs=10, fb_terms=10, original_weight=0.5)
    hits = store.keyword_candidates(expander.run("kitten care", None), 10)
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence, Set
from typing import Protocol

from ragline.errors import ConfigError
from ragline.store.base import Candidate
from ragline.store.filters import Filter
from ragline.text.words import STOPWORDS, content_words

log = logging.getLogger(__name__)


def term_weights(
    feedback_texts: Sequence[str],
    scores: Sequence[float],
    n_terms: int,
    stopwords: Set[str] = STOPWORDS,
) -> list[tuple[str, float]]:
    """The relevance model P(w|R) over feedback documents: the ``n_terms`` best terms, summing to 1.

    RM1 (Lavrenko & Croft 2001): P(w|R) ∝ Σ_d P(w|d)·P(d|q) with P(w|d) the maximum-likelihood
    term frequency and P(d|q) the first-pass scores normalised to sum to 1 (negative scores count
    as 0; all-zero scores weigh documents equally). Ties break alphabetically, so the output is
    deterministic.

    Example::

        term_weights(["apple apple banana", "banana cherry"], [3.0, 1.0], n_terms=2)
        # [('apple', 0.571...), ('banana', 0.428...)]
    """
    if len(feedback_texts) != len(scores):
        raise ConfigError(f"{len(feedback_texts)} feedback texts but {len(scores)} scores; give one each")
    if n_terms < 1 or not scores:
        return []
    positive = [max(0.0, float(s)) for s in scores]
    total = sum(positive)
    doc_weights = [s / total for s in positive] if total > 0 else [1.0 / len(positive)] * len(positive)
    model: defaultdict[str, float] = defaultdict(float)
    for text, weight in zip(feedback_texts, doc_weights, strict=True):
        terms = content_words(text, stopwords)
        if not terms or weight == 0.0:
            continue
        for term, tf in Counter(terms).items():
            model[term] += weight * tf / len(terms)
    top = sorted(model.items(), key=lambda kv: (-kv[1], kv[0]))[:n_terms]
    mass = sum(w for _, w in top)
    # Truncate-and-renormalise, as RM3 implementations (Indri, Anserini) do before interpolating.
    return [(term, w / mass) for term, w in top] if mass > 0 else []


def expand_query(
    query: str,
    expansion: list[tuple[str, float]],
    original_weight: float,
    *,
    max_repeat: int = 5,
    stopwords: Set[str] = STOPWORDS,
) -> str:
    """An RM3-expanded keyword query string: query terms first, then the feedback terms.

    P'(w|q) = λ·P_mle(w|q) + (1 − λ)·P(w|R) with λ = ``original_weight`` (Abdul-Jaleel et al.
    2004). Since LanceDB has no ``term^w`` boosting (see the module docstring), each term is written
    P'(w|q) / unit times (rounded), where the heaviest term gets ``max_repeat`` copies; query terms
    always appear at least once, feedback terms whose share rounds to nothing are left out.

    Example::

        expand_query("apple pie", [("banana", 0.6), ("apple", 0.4)], 0.5)
        # 'apple apple apple apple apple pie pie pie banana banana banana'
    """
    if not 0.0 <= original_weight <= 1.0:
        raise ConfigError(f"original_weight={original_weight} must lie in [0, 1]")
    if max_repeat < 1:
        raise ConfigError(f"max_repeat={max_repeat} must be at least 1")
    original = content_words(query, stopwords)
    if not original:
        # Nothing to weigh against (a stop-word-only query): the feedback terms alone would be a
        # different question, so leave the query as it is.
        return query
    counts = Counter(original)
    weights: dict[str, float] = {t: original_weight * c / len(original) for t, c in counts.items()}
    for term, w in expansion:
        weights[term] = weights.get(term, 0.0) + (1.0 - original_weight) * w
    heaviest = max(weights.values())
    if heaviest <= 0.0:
        return query
    unit = heaviest / max_repeat
    words: list[str] = []
    # dict order: query terms in query order, then feedback terms in the order given (best first).
    for term, w in weights.items():
        copies = int(w / unit + 0.5)  # half up, not Python's half-to-even
        if term in counts:
            copies = max(1, copies)
        words.extend([term] * copies)
    return " ".join(words)


class FeedbackSource(Protocol):
    """What :meth:`PRFKeywordExpander.run` reads: a store's keyword search and indexed texts."""

    def keyword_candidates(self, text: str, n: int, filters: Filter | None = None) -> list[Candidate]: ...

    def fetch_texts(self, candidates: Sequence[Candidate]) -> list[str]: ...


class PRFKeywordExpander:
    """Expands a keyword query with RM3 terms from its own first-pass BM25 hits.

    ``fb_docs`` feedback chunks, ``fb_terms`` expansion terms, ``original_weight`` the RM3 λ; the
    defaults (10, 10, 0.5) are Anserini's RM3 defaults. ``store`` is searched by :meth:`run`; None
    when feedback texts come in hand (:meth:`expand_texts`).

    Example::

        expanded = PRFKeywordExpander(store).run("kitten care", filters=None)
        hits = store.keyword_candidates(expanded, 10)
    """

    def __init__(
        self,
        store: FeedbackSource | None,
        fb_docs: int = 10,
        fb_terms: int = 10,
        original_weight: float = 0.5,
    ) -> None:
        if fb_docs < 1 or fb_terms < 1:
            raise ConfigError(f"fb_docs={fb_docs} and fb_terms={fb_terms} must be at least 1")
        if not 0.0 <= original_weight <= 1.0:
            raise ConfigError(f"original_weight={original_weight} must lie in [0, 1]")
        self.store = store
        self.fb_docs = fb_docs
        self.fb_terms = fb_terms
        self.original_weight = original_weight

    def run(self, query: str, filters: Filter | None = None) -> str:
        """The expanded query string; ``query`` unchanged when the first pass finds nothing.

        The first pass uses the same ``filters`` so that feedback comes from documents the final
        search can return.
        """
        if self.store is None:
            raise ConfigError("PRFKeywordExpander.run searches a store: pass one to the constructor")
        first = self.store.keyword_candidates(query, self.fb_docs, filters)
        # The indexed text (header + text) is what the store searches, so feedback sees the same words.
        return self.expand_texts(query, self.store.fetch_texts(first), [c.score for c in first])

    def expand_texts(self, query: str, texts: Sequence[str], scores: Sequence[float]) -> str:
        """The expanded query from first-pass hits already in hand: their indexed texts and scores
        (the first ``fb_docs``); ``query`` unchanged when there are none."""
        texts, scores = texts[: self.fb_docs], scores[: self.fb_docs]
        if not texts:
            return query
        expansion = term_weights(texts, scores, self.fb_terms)
        expanded = expand_query(query, expansion, self.original_weight)
        log.debug("PRF expanded %r -> %r", query, expanded)
        return expanded
