"""HFTokenizer's counts: summed over space-separated pieces where the tokenizer allows it, and always
equal to what the tokenizer gives the whole text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ragline.text.tokenizer as tokenizer_module
from ragline.text.tokenizer import HFTokenizer, packaged_model_dir

TRICKY = [
    "The cats were playing in the garden.",
    "",
    " ",
    "  two  spaces  ",
    "İstanbul’s café, naïve résumé",
    "control\x1fchar and zero\u200bwidth",
    "tab\tnew\nline\r\nreturn",
    "\u3000ideographic\u3000space and no\u00a0break",
    "[SEP]special [CLS] tokens foo[SEP]bar",
    "日本語のテキスト です",
    "x" * 150 + " longer than WordPiece's word limit",
    "ﬁne ﬂow Ⅻ ½ ² 🙂🙂",
    "\x0b\x0c\x1c\x85\u2028 separators",
]


def _whole(tok: HFTokenizer, texts: list[str]) -> list[int]:
    return [len(e.ids) for e in tok._tok.encode_batch(texts, add_special_tokens=False)]


def test_counts_summed_over_pieces_equal_the_whole_texts_counts() -> None:
    tok = HFTokenizer(packaged_model_dir())
    assert tok._additive  # all-MiniLM-L6-v2 is BERT's WordPiece pipeline
    mixed = [" ".join((a, b)) for a in TRICKY for b in TRICKY[::-1]]
    expected = _whole(tok, TRICKY + mixed)
    assert tok.count_batch(TRICKY + mixed) == expected
    assert tok.count_batch(TRICKY + mixed) == expected  # again, from the remembered pieces
    assert [tok.count(t) for t in TRICKY] == expected[: len(TRICKY)]
    assert tok.count("hello world") == 2


def test_the_remembered_pieces_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenizer_module, "_MAX_PIECES", 8)
    tok = HFTokenizer(packaged_model_dir())
    texts = [f"word{i} and some more words here" for i in range(6)]
    assert tok.count_batch(texts) == _whole(tok, texts)
    assert len(tok._pieces) <= 8 + len(texts[0].split(" "))
    assert tok.count_batch(texts[::-1]) == _whole(tok, texts[::-1])


def test_a_tokenizer_whose_tokens_may_cross_a_space_counts_whole_texts(tmp_path: Path) -> None:
    src = packaged_model_dir()
    cfg = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    # Metaspace (SentencePiece-style) keeps the space inside the next token: pieces do not add up.
    cfg["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}
    (tmp_path / "tokenizer.json").write_text(json.dumps(cfg), encoding="utf-8")
    tok = HFTokenizer(tmp_path)
    assert not tok._additive
    assert tok.count_batch(TRICKY) == _whole(tok, TRICKY)
    assert tok._pieces == {}
