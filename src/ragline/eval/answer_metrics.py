"""Answer metrics as small pure functions over judged sentences and ranked relevance flags.

* Citation recall and precision as ALCE (Gao et al., EMNLP 2023, "Enabling Large Language Models
  to Generate Text with Citations", section 2.3): recall is the share of an answer's sentences
  supported by their cited passages together (a sentence citing nothing is unsupported);
  precision the share of its citations that are not irrelevant (see
  :class:`~ragline.types.SentenceSupport`). Both per answer, then averaged over answers; an
  answer with no citation has precision 0, as in ALCE's ``eval.py``.
* Faithfulness as RAGAS (Es et al., EACL 2024 demo, "RAGAS: Automated Evaluation of Retrieval
  Augmented Generation"): the share of an answer's sentences the whole retrieved context supports.
* Answer relevance: the cosine between the question and the answer embeddings, or, as RAGAS,
  the mean cosine between the question and questions an LLM writes for the answer.
* Context precision as RAGAS: ``sum_k precision@k * rel_k / (relevant contexts in the top K)``;
  context recall: the share of gold passages (or of ground-truth sentences) the contexts hold.
* hit@k (some relevant context in the first k) and precision@k (relevant share of the first k,
  ``k`` in the denominator as trec_eval's ``P.k``).

Example::

    citation_recall([support_1, support_2])     # 0.5 when one of two sentences is supported
    context_precision([True, False, True])      # (1/1 + 2/3) / 2 = 0.8333
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ragline.errors import ConfigError
from ragline.types import SentenceSupport


def citation_recall(sentences: Sequence[SentenceSupport]) -> float:
    """Share of the sentences their citations support (ALCE citation recall); 0.0 for none."""
    return sum(s.supported for s in sentences) / len(sentences) if sentences else 0.0


def citation_precision(sentences: Sequence[SentenceSupport]) -> float:
    """Share of the citations that are relevant to their sentence (ALCE citation precision);
    0.0 when the sentences cite nothing."""
    total = sum(len(s.citations) for s in sentences)
    return sum(len(s.precise) for s in sentences) / total if total else 0.0


def faithfulness(supported: Sequence[bool]) -> float:
    """Share of an answer's sentences the retrieved context supports (RAGAS); 0.0 for none."""
    return sum(supported) / len(supported) if supported else 0.0


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cosine similarity of two vectors; 0.0 when either is zero."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / n if n else 0.0


def answer_relevance(question: np.ndarray, answers: Sequence[np.ndarray]) -> float:
    """Mean cosine between the question's vector and the answer's (or generated questions') vectors."""
    return math.fsum(cosine(question, a) for a in answers) / len(answers) if answers else 0.0


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"cutoff k={k!r} is invalid: pass an integer >= 1 (e.g. k=5)")


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant context is among the first ``k``, else 0.0."""
    _check_k(k)
    return float(any(relevant[:k]))


def precision_at_k(relevant: Sequence[bool], k: int) -> float:
    """Relevant contexts among the first ``k``, divided by ``k`` (fewer contexts count as misses)."""
    _check_k(k)
    return sum(relevant[:k]) / k


def context_precision(relevant: Sequence[bool]) -> float:
    """RAGAS context precision: precision@k averaged over the ranks k holding a relevant context;
    0.0 when none is relevant."""
    hits = 0
    total = 0.0
    for i, rel in enumerate(relevant):
        if rel:
            hits += 1
            total += hits / (i + 1)
    return total / hits if hits else 0.0


def context_recall(found: Sequence[bool]) -> float:
    """Share of the gold items (passages, or ground-truth sentences) the contexts hold; 0.0 for none."""
    return sum(found) / len(found) if found else 0.0


def mean(values: Sequence[float | None]) -> float | None:
    """The mean of the values that are not None; None when there are none."""
    kept = [v for v in values if v is not None]
    return math.fsum(kept) / len(kept) if kept else None
