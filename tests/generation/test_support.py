"""Citation support: answers split into claims, ALCE support/precision, the offline score, and
flagging or removing unsupported sentences."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragline.generation.support import (
    Claim,
    alce_support,
    apply_support,
    cited_sources,
    is_claim,
    split_claims,
)
from ragline.generation.support_score import OfflineSupportJudge, SupportModel, support_features
from ragline.testing.doubles import HashEmbedder
from ragline.types import Answer, ChunkSpan, Citation, Context, Passage

SOURCES = {
    1: "The Harbor Lighthouse was built by Ada Moreau in 1887. It stands 41 metres tall.",
    2: "The keeper's cottage was added in 1902. Visitors may climb the tower on Sundays.",
}


def test_markers_after_the_period_belong_to_the_sentence_before() -> None:
    text = "It was built in 1887 [1]. It is 41 metres tall. [1] Visitors climb it [2]."
    claims = split_claims(text, 2)
    assert [(c.text, c.citations) for c in claims] == [
        ("It was built in 1887 [1].", (1,)),
        ("It is 41 metres tall. [1]", (1,)),
        ("Visitors climb it [2].", (2,)),
    ]
    assert all(text[c.start : c.end] == c.text for c in claims)
    assert claims[1].plain == "It is 41 metres tall."
    assert not is_claim(Claim("Here it is:", 0, 11, ())) and is_claim(claims[0])


def _scores(table: dict[tuple[int, ...], float]):
    return lambda cited: table[tuple(sorted(cited))]


def test_alce_support_and_precision_by_hand() -> None:
    claim = Claim("x [1, 2, 3]", 0, 11, (1, 2, 3))
    # Together supported; [1] alone supports it (precise); [2] alone does not and [1, 3] do
    # without it (irrelevant); [3] alone does not and [1, 2] do without it (irrelevant).
    table = {(1, 2, 3): 0.9, (1,): 0.8, (2,): 0.1, (3,): 0.2, (1, 3): 0.9, (1, 2): 0.9, (2, 3): 0.3}
    s = alce_support(claim, _scores(table), 0.5, "offline")
    assert s.supported and s.score == 0.9 and s.precise == (1,) and s.passage == 1
    # [2] and [3] only together: neither alone, and neither can go -> both precise.
    table2 = {(2, 3): 0.7, (2,): 0.2, (3,): 0.3}
    s2 = alce_support(Claim("y [2, 3]", 0, 8, (2, 3)), _scores(table2), 0.5, "offline")
    assert s2.supported and s2.precise == (2, 3) and s2.passage == 3
    # Unsupported: no citation is precise. No citation: unsupported, score 0.
    s3 = alce_support(Claim("z [1]", 0, 5, (1,)), _scores({(1,): 0.2}), 0.5, "offline")
    assert not s3.supported and s3.precise == ()
    s4 = alce_support(Claim("w", 0, 1, ()), _scores({}), 0.5, "offline")
    assert (s4.supported, s4.score, s4.passage) == (False, 0.0, None)


def test_features_catch_swapped_numbers_and_names() -> None:
    evidence = ["The Harbor Lighthouse was built by Ada Moreau in 1887."]
    same = support_features("The Harbor Lighthouse was built by Ada Moreau in 1887 [1].", evidence, 1.0)
    assert (same.coverage, same.terms_missing, same.numbers_missing, same.entities_missing) == (
        1.0,
        0.0,
        0.0,
        0.0,
    )
    year = support_features("The Harbor Lighthouse was built by Ada Moreau in 1902.", evidence, 0.9)
    assert year.numbers_missing == 1.0 and year.terms_missing == pytest.approx(1 / 3)
    name = support_features("The Harbor Lighthouse was built by Jean Dupont in 1887.", evidence, 0.9)
    # "Harbor", "Lighthouse" present; "Jean", "Dupont" missing (2 of 4 names).
    assert name.entities_missing == 0.5 and name.numbers_missing == 0.0


def test_offline_judge_separates_supported_from_unsupported_claims() -> None:
    judge = OfflineSupportJudge(HashEmbedder())
    text = (
        "The Harbor Lighthouse was built by Ada Moreau in 1887 [1]. "
        "The lighthouse stands 41 metres tall [1]. "
        "The lighthouse was built in Paris by Gustave Eiffel [1]. "
        "The keeper's cottage was added in 1950 [2]. "
        "Visitors may climb the tower on Sundays [1, 2]."
    )
    got = judge.judge(split_claims(text, 2), SOURCES)
    assert [s.supported for s in got] == [True, True, False, False, True]
    assert got[0].score >= judge.threshold > got[2].score
    # [1] is irrelevant to the last sentence: [2] alone supports it.
    assert got[4].precise == (2,) and got[4].passage == 2
    # The model was never run: the cosine's fitted weight is 0.
    assert SupportModel().uses_cosine is False
    assert judge.embedder.calls == []


def _passage(doc: str, text: str, start: int, rank: int) -> Passage:
    return Passage(
        doc, text, start, start + len(text), (ChunkSpan(f"{doc}-c", start, start + len(text)),), 1.0, rank, 10
    )


def _citation(n: int, doc: str, start: int, end: int, quote: str) -> Citation:
    return Citation(n, f"{doc}-c", doc, f"{doc}.md", doc, (), None, start, end, quote)


def _answer(text: str, citations: list[Citation]) -> Answer:
    return Answer("q?", text, citations, False, "llm", 1.0, "")


CONTEXT = Context([_passage("light", SOURCES[1], 0, 1), _passage("cottage", SOURCES[2], 100, 2)], 20, 100)


def test_cited_sources_maps_sentence_citations_to_their_passages() -> None:
    # The extractive answerer cites sentences: [1] is the second passage's sentence.
    cite = _citation(1, "cottage", 100, 136, "The keeper's cottage was added in 1902.")
    answer = _answer("The keeper's cottage was added in 1902. [1]", [cite])
    assert cited_sources(answer, CONTEXT) == {1: SOURCES[2]}
    # A citation whose span no passage holds falls back to its quote.
    stray = _citation(2, "other", 0, 10, "A quote.")
    assert cited_sources(_answer("x", [stray]), CONTEXT) == {2: "A quote."}


LLM_TEXT = (
    "Here is what I found: The Harbor Lighthouse was built by Ada Moreau in 1887 [1]. "
    "The lighthouse was built in Paris [2]. Visitors may climb the tower on Sundays [2]."
)


def _llm_answer() -> Answer:
    return _answer(LLM_TEXT, [_citation(1, "light", 0, 80, "q1"), _citation(2, "cottage", 100, 180, "q2")])


def test_flag_reports_each_claim_and_keeps_the_text() -> None:
    judge = OfflineSupportJudge(HashEmbedder())
    a = apply_support(_llm_answer(), CONTEXT, judge, "flag")
    assert a.text == LLM_TEXT and len(a.citations) == 2
    assert [(s.supported, s.citations) for s in a.support] == [(True, (1,)), (False, (2,)), (True, (2,))]
    flagged = a.support[1]
    assert a.text[flagged.start : flagged.end] == "The lighthouse was built in Paris [2]."
    assert apply_support(_llm_answer(), CONTEXT, judge, "off").support == ()


def test_remove_cuts_unsupported_claims_and_unused_citations() -> None:
    judge = OfflineSupportJudge(HashEmbedder())
    a = apply_support(_llm_answer(), CONTEXT, judge, "remove")
    assert a.text == (
        "Here is what I found: The Harbor Lighthouse was built by Ada Moreau in 1887 [1]. "
        "Visitors may climb the tower on Sundays [2]."
    )
    removed = [s for s in a.support if s.removed]
    assert [s.sentence for s in removed] == ["The lighthouse was built in Paris [2]."]
    assert (removed[0].start, removed[0].end) == (-1, -1)
    for s in a.support:
        if not s.removed:
            assert a.text[s.start : s.end] == s.sentence
    # Citation [2] is still used by the kept sentence; an answer losing every claim abstains.
    assert [c.n for c in a.citations] == [1, 2]
    only_bad = _answer("The lighthouse was built in Paris [1].", [_citation(1, "light", 0, 80, "q")])
    gone = apply_support(only_bad, CONTEXT, judge, "remove")
    assert gone.abstained and gone.citations == [] and gone.support[0].removed


def test_abstentions_are_not_checked() -> None:
    judge = OfflineSupportJudge(HashEmbedder())
    a = replace(_llm_answer(), abstained=True)
    assert apply_support(a, CONTEXT, judge, "remove") is a


def test_the_llm_judge_needs_an_llm(tmp_path) -> None:
    from ragline.errors import ConfigError
    from ragline.settings import AnswerSettings
    from tests.helpers import fast_engine

    engine = fast_engine(tmp_path / "data")
    with pytest.raises(ConfigError, match=r"support_judge='llm' needs llm\.base_url"):
        engine.answering.support_judge(AnswerSettings(support_judge="llm"))
    assert engine.answering.support_judge(AnswerSettings()) is engine.answering.offline_judge
