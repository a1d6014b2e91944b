"""Exact names first: for a query that names a setting, variable or code (``default_process_limit``,
``gc.auto``, ``KeepAliveTimeout``; see :mod:`ragline.text.identifiers`), the hits that spell it
rank above those that only share its words, and the entry that opens with it above both.

Why a reranker and not a keyword weight: the keyword index splits such names into plain words
("default", "process", "limit"), so a manual's many chunks about defaults and limits outrank the
setting's own entry (Postfix's ``postconf(5)``: 27th by BM25, 8th after fusion and late
interaction). Spelling is a fact about the text, checked on the head the rerankers see.

A hit's tier is 2 when a line of it (or its innermost section heading) opens with an asked name,
or with the term a definition question asks about ("What is a dangling object?": the glossary's
entry, not the user manual's chapter that mentions it throughout), plus the share of asked names
it spells anywhere (0 to 1). Hits keep their order within a tier;
the score is the previous stage's, raised by ``tier * (spread + 1)`` (``spread``: the head's score
range) so that scores stay in rank order. A query without such names leaves hits as they are.

Example::

    reranker = IdentifierReranker()
    hits = reranker.run("default value of default_process_limit", hits, top_k=10)
"""

from __future__ import annotations

from collections.abc import Sequence

from ragline.rerank.base import check_top_k, rescore
from ragline.text.identifiers import asked_term, identifiers, naming_grade, only_qualifies
from ragline.types import Hit

# A line opening with the name outranks any number of mentions elsewhere.
_ENTRY_TIER = 2.0
# Longer than this, the asked term is a description, not a name an entry opens with.
_MAX_TERM_WORDS = 4


def tier(text: str, names: Sequence[str], terms: Sequence[str] = ()) -> float:
    """How surely ``text`` is about ``names``: :data:`_ENTRY_TIER` when a line of it opens with one
    of them (or with one of ``terms``, the word a definition question asks about), plus the share
    of ``names`` it spells."""
    grades = [naming_grade(text, n) for n in names]
    opens = any(g == 2 for g in grades) or any(naming_grade(text, t) == 2 for t in terms)
    spelled = sum(g > 0 for g in grades) / len(names) if names else 0.0
    return (_ENTRY_TIER if opens else 0.0) + spelled


def _terms(query: str, names: Sequence[str]) -> tuple[str, ...]:
    """The term a definition question asks about, when short enough to be an entry's name: a
    glossary entry opens with it ("dangling object"), where prose only mentions it. Mentions of a
    plain term earn nothing (many chunks of a manual say "dangling object")."""
    term = asked_term(query)
    if term is None or len(term.split()) > _MAX_TERM_WORDS:
        return ()
    return () if term.casefold() in {n.casefold() for n in names} else (term,)


class IdentifierReranker:
    """Moves the hits that spell the query's identifiers to the front (see the module docstring)."""

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        # A name that only qualifies the asked item ("Which vmod_std function ...") is the page's
        # subject, not what the entry holding the answer spells.
        names = tuple(n for n in identifiers(query) if not only_qualifies(query, n))
        terms = _terms(query, names)
        if not (names or terms) or not hits:
            return list(hits[:top_k])
        tiers = [tier(_shown(h), names, terms) for h in hits]
        if not any(tiers):
            return list(hits[:top_k])
        scores = [h.score for h in hits]
        step = max(scores) - min(scores) + 1.0
        return rescore(hits, [s + t * step for s, t in zip(scores, tiers, strict=True)], top_k)


def _shown(hit: Hit) -> str:
    """The hit's text under its innermost section heading (an entry may be its section)."""
    path = hit.chunk.section_path
    return f"{path[-1] if path else ''}\n{hit.chunk.text}"
