"""Citation support: is each answer sentence backed by the passages it cites?

An answer is split into sentences (claims), each with the ``[n]`` markers that follow it. A
:class:`SupportJudge` scores every claim against its cited passages; the offline judge
(``support_score``) uses lexical and embedding evidence combined by a calibrated logistic model,
the LLM judge (``support_llm``) asks an OpenAI-compatible model and falls back to the offline
score. :func:`apply_support` then flags or removes the unsupported sentences
(``answer.unsupported``).

Precision and recall of citations follow ALCE (Gao et al., EMNLP 2023, "Enabling Large Language
Models to Generate Text with Citations", section 2.3): a sentence is supported when the
concatenation of its cited passages supports it; a citation is *irrelevant* when it does not
support the sentence alone and the sentence's other citations do without it.

Example::

    judge = OfflineSupportJudge(engine.embedder.transient())
    answer = apply_support(answer, context, judge, policy="flag")
    [s.supported for s in answer.support]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol, runtime_checkable

from ragline.generation.citations import parse_citations, strip_markers
from ragline.generation.lexical import terms
from ragline.generation.prompt import NOT_ENOUGH_INFORMATION
from ragline.text.sentences import sentence_spans
from ragline.types import Answer, Context, SentenceSupport, SupportJudgeName

UnsupportedPolicy = Literal["flag", "remove", "off"]
# A "sentence" with fewer content terms than this is a connective ("Here is what I found:"), not a
# claim: it is never judged, flagged or removed.
MIN_CLAIM_TERMS = 2
# Invalid markers are gone by now: re-reading a checked answer, any number is a citation.
_ANY_SOURCE = 999_999
_LEADING_MARKERS = re.compile(r"(?:\s*\[[^\]\n]{1,40}\])+")


@dataclass(frozen=True, slots=True)
class Claim:
    """One answer sentence: its text with markers (``start``/``end`` into the answer) and citations."""

    text: str
    start: int
    end: int
    citations: tuple[int, ...]

    @property
    def plain(self) -> str:
        """The sentence without its citation markers: what is judged."""
        return strip_markers(self.text)


def split_claims(text: str, n_sources: int) -> list[Claim]:
    """The sentences of an answer with the citations each carries.

    A marker written after the period (``... in 2016. [1] The next ...``) belongs to the sentence
    before it, although a splitter reads it as the start of the next one.

    >>> [(c.text, c.citations) for c in split_claims("It is red [1]. It won. [2] Ok.", 2)]
    [('It is red [1].', (1,)), ('It won. [2]', (2,)), ('Ok.', ())]
    """
    spans = [list(s) for s in sentence_spans(text)]
    for i in range(1, len(spans)):
        m = _LEADING_MARKERS.match(text, spans[i][0], spans[i][1])
        if m and parse_citations(m[0], n_sources).cited:
            spans[i - 1][1] = m.end()
            spans[i][0] = m.end()
            while spans[i][0] < spans[i][1] and text[spans[i][0]].isspace():
                spans[i][0] += 1
    out: list[Claim] = []
    for a, b in spans:
        if a >= b:
            continue
        sentence = text[a:b]
        out.append(Claim(sentence, a, b, parse_citations(sentence, n_sources).cited))
    return out


def is_claim(claim: Claim) -> bool:
    """Whether a sentence states something worth checking (enough content terms)."""
    return len(set(terms(claim.plain))) >= MIN_CLAIM_TERMS


@runtime_checkable
class SupportJudge(Protocol):
    """Judges claims against the passages they cite (``sources[n]`` is the text ``[n]`` names).

    ``errors`` holds what went wrong in the last call that the judge recovered from (an LLM judge's
    malformed reply answered by the offline score), for ``Answer.errors``.
    """

    name: SupportJudgeName

    @property
    def threshold(self) -> float:
        """The score at which a claim counts as supported."""
        ...

    def judge(self, claims: Sequence[Claim], sources: Mapping[int, str]) -> list[SentenceSupport]: ...

    def support_scores(self, claims: Sequence[str], evidence: Sequence[Sequence[str]]) -> list[float]:
        """Support of each claim by its evidence (texts read as one), in [0, 1]."""
        ...


ScoreFn = Callable[[tuple[int, ...]], float]


def alce_support(claim: Claim, score: ScoreFn, threshold: float, judge: SupportJudgeName) -> SentenceSupport:
    """One claim's support from ``score(citations)`` (the support of those cited passages read
    together): supported when all of them together reach ``threshold``; a citation is precise
    unless it fails alone while the others succeed without it (ALCE)."""
    cited = claim.citations
    if not cited:
        return SentenceSupport(claim.text, claim.start, claim.end, (), 0.0, False, None, (), judge)
    joint = score(cited)
    supported = joint >= threshold
    alone = {n: (score((n,)) if len(cited) > 1 else joint) for n in cited}
    precise: list[int] = []
    if supported:
        for n in cited:
            # Irrelevant: fails alone while the others succeed without it.
            others = tuple(m for m in cited if m != n)
            if alone[n] >= threshold or not others or score(others) < threshold:
                precise.append(n)
    best = max(cited, key=lambda n: alone[n])
    return SentenceSupport(
        claim.text, claim.start, claim.end, cited, joint, supported, best, tuple(precise), judge
    )


def apply_support(answer: Answer, context: Context, judge: SupportJudge, policy: UnsupportedPolicy) -> Answer:
    """``answer`` with ``support`` filled in; with ``policy="remove"`` its unsupported claims are
    cut from the text (and citations no kept sentence uses dropped). An answer that loses every
    claim abstains. Abstentions and ``policy="off"`` come back unchanged."""
    if policy == "off" or answer.abstained or not answer.text:
        return answer
    claims = [c for c in split_claims(answer.text, _ANY_SOURCE) if is_claim(c)]
    if not claims:
        return answer
    judged = judge.judge(claims, cited_sources(answer, context))
    errors = answer.errors + tuple(getattr(judge, "errors", ()))
    if policy == "flag" or all(s.supported for s in judged):
        return replace(answer, support=tuple(judged), errors=errors)
    return _remove_unsupported(answer, judged, errors)


def cited_sources(answer: Answer, context: Context) -> dict[int, str]:
    """The text each citation of ``answer`` stands for: the context passage holding its span (an
    LLM cites whole passages, the extractive answerer single sentences of them), else its quote."""
    out: dict[int, str] = {}
    for c in answer.citations:
        holder = next(
            (p for p in context.passages if p.doc_id == c.doc_id and p.start <= c.start and c.end <= p.end),
            None,
        )
        out[c.n] = holder.text if holder is not None else c.quote
    return out


def _remove_unsupported(answer: Answer, judged: Sequence[SentenceSupport], errors: tuple[str, ...]) -> Answer:
    cut = {(s.start, s.end) for s in judged if not s.supported}
    kept_claims = [s for s in judged if s.supported]
    if not kept_claims:
        return replace(
            answer,
            text=NOT_ENOUGH_INFORMATION,
            citations=[],
            abstained=True,
            support=tuple(replace(s, start=-1, end=-1, removed=True) for s in judged),
            errors=errors,
        )
    pieces: list[str] = []
    moved: dict[tuple[int, int], tuple[int, int]] = {}
    pos = 0
    for c in split_claims(answer.text, _ANY_SOURCE):
        if (c.start, c.end) in cut:
            continue
        if pieces:
            pos += 1
        moved[(c.start, c.end)] = (pos, pos + len(c.text))
        pieces.append(c.text)
        pos += len(c.text)
    text = " ".join(pieces)
    support = tuple(
        replace(s, start=-1, end=-1, removed=True)
        if not s.supported
        else replace(s, start=moved[(s.start, s.end)][0], end=moved[(s.start, s.end)][1])
        for s in judged
    )
    used = set(parse_citations(text, _ANY_SOURCE).cited)
    return replace(
        answer,
        text=text,
        citations=[c for c in answer.citations if c.n in used],
        support=support,
        errors=errors,
    )
