"""Content words: the word tokens RM3 feedback, filter extraction and the feedback gate count."""

from __future__ import annotations

from ragline.text.words import STOPWORDS, content_words


def test_content_words_drop_stop_words_numbers_and_single_letters() -> None:
    assert content_words("The 2 cats' vet-visits") == ["cats", "vet", "visits"]
    assert content_words("a B c 1999 x2 Über_alles") == ["x2", "über", "alles"]
    assert content_words("") == [] and content_words("the of and") == []


def test_custom_stopwords_replace_the_default_list() -> None:
    assert content_words("apple banana", frozenset({"banana"})) == ["apple"]
    assert content_words("the apple", frozenset()) == ["the", "apple"]
    assert "the" in STOPWORDS and "kitten" not in STOPWORDS
