from __future__ import annotations

import random
import unicodedata

import pytest

from ragline.cleaning.text import clean_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\tb", "a b"),
        ("a    b", "a b"),
        ("line   \nnext  ", "line\nnext"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("  \n\n  text  \n\n ", "text"),
        ("zero\u200bwidth\u200c\u200d\ufeff", "zerowidth"),
        ("soft\u00adhyphen", "softhyphen"),
        ("bell\x07 and\x00nul\x7f", "bell andnul"),
        ("ﬁne ①", "fine 1"),  # NFKC: ligature and circled digit
        ("non\u00a0breaking\u2003em\u1680ogham", "non breaking em ogham"),
        ("page1\x0cpage2", "page1\npage2"),
        ("e\u0301", "é"),
        ("e\u200b\u0301", "é"),  # removal exposes a composable pair
        (" indented\n  twice", "indented\n twice"),
        ("", ""),
        ("\n\t \u200b", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_keeps_single_blank_lines_and_markdown() -> None:
    text = "# Title\n\nPara one.\n\n## Sub\n- a\n- b"
    assert clean_text(text) == text


def test_clean_text_removes_lone_surrogates_so_text_encodes() -> None:
    cleaned = clean_text("ok\ud800bad")
    assert cleaned == "okbad"
    cleaned.encode("utf-8")


_ALPHABET = [
    *"ab cé\n\r\t  ",
    *["\u0301", "\u0308", "\u00a8", "\u200b", "\u00ad", "\ufeff", "\x00", "\x0c", "\x85", "\u2028"],
    *["\u00a0", "\u3000", "\u1680", "ﬁ", "①", "Å", "\u212b", "\ud800", "\u0345", "\u1100", "\u1161"],
]


def _random_strings(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        length = rng.randint(0, 40)
        if rng.random() < 0.3:
            # Arbitrary code points, not just the curated alphabet.
            out.append("".join(chr(rng.randint(0, 0x2FFFF)) for _ in range(length)))
        else:
            out.append("".join(rng.choice(_ALPHABET) for _ in range(length)))
    return out


def test_clean_text_is_idempotent_on_random_strings() -> None:
    for raw in _random_strings(20_000, seed=1234):
        once = clean_text(raw)
        assert clean_text(once) == once, repr(raw)


def test_clean_text_output_invariants_on_random_strings() -> None:
    for raw in _random_strings(5_000, seed=99):
        out = clean_text(raw)
        assert out == out.strip(" \n")
        assert "  " not in out
        assert " \n" not in out
        assert "\n\n\n" not in out
        assert "\r" not in out and "\t" not in out
        assert unicodedata.is_normalized("NFKC", out)
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in out if ch != "\n")
