from __future__ import annotations

import itertools
import random

import pytest

from ragline.chunking.spans import TokenizedText, scale_overlap, split_span
from ragline.errors import ConfigError


def _split(tok, text: str, budget: int, overlap: int = 0) -> tuple[TokenizedText, list[str]]:
    tt = TokenizedText.of(text, tok)
    return tt, [text[s:e] for s, e in split_span(tt, 0, len(text), budget, overlap)]


def test_count_is_tokens_starting_in_range(tok) -> None:
    tt = TokenizedText.of("hello big world", tok)
    assert tt.count(0, len(tt.text)) == 3
    assert tt.count(0, 9) == 2
    assert tt.count(6, 6) == 0


def test_prefers_paragraph_break_over_sentence_end(tok) -> None:
    para1 = " ".join(["alpha beta gamma."] * 8)  # 32 tokens, 8 sentence ends
    para2 = " ".join(["delta epsilon zeta."] * 8)
    text = f"{para1}\n\n{para2}"
    _, pieces = _split(tok, text, budget=48)
    assert pieces[0] == para1
    assert pieces[1] == para2


def test_sentence_then_comma_then_space(tok) -> None:
    sentence = "one two three four five six seven eight nine ten."
    _, pieces = _split(tok, f"{sentence} {sentence} {sentence}", budget=15)
    assert all(p.endswith(".") for p in pieces), pieces

    clause = "one two three four five six seven eight nine,"
    _, pieces = _split(tok, " ".join([clause] * 4), budget=15)
    assert all(p.endswith(",") for p in pieces[:-1]), pieces

    _, pieces = _split(tok, " ".join(f"w{i}" for i in range(40)), budget=7)
    words = [w for p in pieces for w in p.split(" ")]
    assert words == [f"w{i}" for i in range(40)]  # only cut between words


def test_separator_too_early_is_not_used(tok) -> None:
    # A paragraph break after 2 tokens would make a sliver: the chunk is filled with the next text.
    text = "Title here\n\n" + " ".join(f"word{i}" for i in range(60))
    tt, pieces = _split(tok, text, budget=30)
    assert pieces[0].startswith("Title here\n\nword0")
    assert tt.count(0, len(pieces[0])) > 30 // 2


def test_long_word_cut_at_token_boundaries_only(tok) -> None:
    rng = random.Random(1)
    # Under the tokenizer's 100-char word limit, so it is many word pieces, not one [UNK].
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(95))
    text = f"intro {word} outro"
    tt = TokenizedText.of(text, tok)
    assert tt.count(6, 6 + len(word)) > 30
    spans = split_span(tt, 0, len(text), budget=8)
    starts = set(tt.starts)
    assert len(spans) > 4
    cuts_inside_word = 0
    for (s1, e1), (s2, _) in itertools.pairwise(spans):
        assert tt.count(s1, e1) <= 8
        if e1 == s2:
            cuts_inside_word += 1
            assert s2 in starts  # between two word pieces, never inside one
    assert cuts_inside_word >= 3
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")


def test_unknown_long_word_is_one_token_and_kept_whole(tok) -> None:
    word = "x" * 300  # longer than the tokenizer's word limit: a single [UNK] token
    text = f"a b {word} c d"
    _, pieces = _split(tok, text, budget=2)
    assert any(word in p for p in pieces)
    assert all(p.replace(word, "").strip(" abcd") == "" for p in pieces)


def test_overlap_repeats_whole_words(tok) -> None:
    text = " ".join(f"token{i}" for i in range(200))
    tt = TokenizedText.of(text, tok)
    spans = split_span(tt, 0, len(text), budget=40, overlap=10)
    assert len(spans) > 3
    for (s1, e1), (s2, e2) in itertools.pairwise(spans):
        assert s1 < s2 < e1 < e2
        assert text[s2 - 1] == " "  # starts on a word
        shared = tt.count(s2, e1)
        assert 5 <= shared <= 10, shared


def test_no_overlap_when_zero(tok) -> None:
    text = " ".join(f"token{i}" for i in range(200))
    tt = TokenizedText.of(text, tok)
    spans = split_span(tt, 0, len(text), budget=40, overlap=0)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(spans))


def test_subrange_and_blank_range(tok) -> None:
    text = "cat dog   \n\n   sun sky"
    tt = TokenizedText.of(text, tok)
    assert split_span(tt, 7, 15, budget=5) == []
    assert split_span(tt, 4, len(text), budget=5) == [(4, len(text))]
    assert [text[s:e] for s, e in split_span(tt, 4, len(text), budget=1)] == ["dog", "sun", "sky"]


def test_excess_callback_shortens_chunk(tok) -> None:
    text = " ".join(f"w{i}" for i in range(30))
    tt = TokenizedText.of(text, tok)
    calls: list[tuple[int, int]] = []

    def excess(s: int, e: int) -> int:
        calls.append((s, e))
        return max(0, tt.count(s, e) - 10)

    spans = split_span(tt, 0, len(text), budget=40, excess=excess)
    assert calls
    assert all(tt.count(s, e) <= 10 for s, e in spans)


@pytest.mark.parametrize(("budget", "overlap"), [(0, 0), (-3, 0), (10, 10), (10, -1)])
def test_invalid_budget_or_overlap(tok, budget: int, overlap: int) -> None:
    tt = TokenizedText.of("some text", tok)
    with pytest.raises(ConfigError):
        split_span(tt, 0, 9, budget, overlap)


def test_scale_overlap_keeps_ratio_below_budget() -> None:
    assert scale_overlap(32, 200, 200) == 32
    assert scale_overlap(32, 200, 100) == 16
    assert scale_overlap(199, 200, 10) < 10
