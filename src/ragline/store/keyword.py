"""Keyword search as LanceDB's native full-text index does it, in plain Python: the text
analysis of the index :meth:`~ragline.store.lance.LanceStore.finalize` builds, and BM25.

Analysis (``FTS(stem=True, language="English", remove_stop_words=True)`` with LanceDB's defaults:
simple tokenizer, ``max_token_length`` 40, lower case, ASCII folding), measured on lancedb 0.40 /
pylance 14 by indexing probe words: tokens are runs of letters and digits; tokens of 40 bytes or
more are dropped; the rest are lower-cased, stemmed with the English Snowball stemmer (Porter2),
dropped when the stem is a stop word (NLTK's English list; the check runs after stemming, so
"because", stemmed "becaus", stays a term) and folded to ASCII ("café" -> "cafe"). The
tokenizer's notion of a letter (Rust's ``char::is_alphanumeric``) is approximated with Python's.

BM25 (Robertson, Walker, Jones, Hancock-Beaulieu & Gatford, "Okapi at TREC-3", 1994), with the
Robertson/Sparck Jones weight (Robertson & Sparck Jones, "Relevance weighting of search terms",
JASIS 1976) kept positive as in Lucene and LanceDB::

    score(d, q) = sum over query terms t of
                  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5)),   k1 = 1.2, b = 0.75

with ``|d|`` and ``avgdl`` counted in analysed tokens over the whole collection, and a query term
that repeats counting once per occurrence (as LanceDB does; RM3 weighs terms by repeating them).

Example::

    index = KeywordIndex([analyze(t) for t in texts])
    scores = index.scores(analyze("running dogs"))      # one score per text, 0 where none match
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

K1 = 1.2
B = 0.75
# LanceDB drops tokens of this many bytes or more (``max_token_length``).
MAX_TOKEN_BYTES = 40
_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)

# NLTK's English stop words without the ones containing an apostrophe (the tokenizer splits
# those), which is the list LanceDB's index removes (checked word by word against it).
_STOP_WORDS_TEXT = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom this that
    these those am is are was were be been being have has had having do does did doing a an the
    and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now d ll m o re ve y ain aren
    couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn weren won wouldn"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def keyword_query(text: str) -> str:
    """Strip punctuation so the full-text parser sees plain terms (``C++?`` -> ``C``)."""
    return " ".join(_PUNCT.sub(" ", text).split())


def _word_char(ch: str) -> bool:
    # Rust's is_alphanumeric also counts alphabetic combining marks (Indic vowel signs) as letters.
    return ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc")


_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def _tokens(text: str) -> list[str]:
    if text.isascii():  # the same runs, found by the regex engine (most of analysing a text)
        return _ASCII_WORD.findall(text)
    out: list[str] = []
    start = -1
    for i, ch in enumerate(text):
        if _word_char(ch):
            if start < 0:
                start = i
        elif start >= 0:
            out.append(text[start:i])
            start = -1
    if start >= 0:
        out.append(text[start:])
    return out


# Letters NFKD does not decompose that ASCII folding still maps (a few of Lucene's table's).
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "þ": "th", "ı": "i"})


def fold_ascii(token: str) -> str:
    """``token`` with accents removed and letters folded to ASCII where there is an equivalent."""
    if token.isascii():
        return token
    decomposed = unicodedata.normalize("NFKD", token.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def analyze(text: str) -> list[str]:
    """The terms LanceDB's English full-text index makes of ``text``, in order."""
    return [term for token in _tokens(text) if (term := _term(token)) is not None]


@functools.lru_cache(maxsize=1 << 16)
def _term(token: str) -> str | None:
    """The term one token becomes (None: dropped). Cached: words repeat (Zipf), and stemming in
    Python is most of the cost of analysing a text (100 Zipfian words: 1.8 -> 0.2 ms)."""
    if len(token.encode("utf-8")) >= MAX_TOKEN_BYTES:
        return None
    term = stem(token.lower())
    return None if term in STOP_WORDS else fold_ascii(term)


# -- the English Snowball stemmer (Porter2) ---------------------------------------------------------
# Martin Porter, "The English (Porter2) stemming algorithm", snowballstem.org/algorithms/english,
# in its current revision (more R1 prefixes such as "inter" and "organ", "ogist" -> "og", the
# "-ing" exceptions inside step 1b): what LanceDB's index runs (tantivy's Stemmer), checked on
# SciFact's vocabulary.

_V = frozenset("aeiouy")
_DOUBLES = ("bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt")
_LI_ENDINGS = frozenset("cdeghkmnrt")
_EXCEPTIONS = {
    "skis": "ski",
    "skies": "sky",
    "dying": "die",
    "lying": "lie",
    "tying": "tie",
    "idly": "idl",
    "gently": "gentl",
    "ugly": "ugli",
    "early": "earli",
    "only": "onli",
    "singly": "singl",
    "sky": "sky",
    "news": "news",
    "howe": "howe",
    "atlas": "atlas",
    "cosmos": "cosmos",
    "bias": "bias",
    "andes": "andes",
}
# R1 starts after these prefixes rather than after the first vowel-consonant pair.
_PREFIXES = ("arsen", "commun", "emerg", "gener", "inter", "later", "organ", "past", "univers")
# Words that are these plus "ing" keep "ing" (inning, outing, evening, ...); plus "eed", keep it.
_ING_STEMS = frozenset(["even", "cann", "inn", "earr", "herr", "out"])
_EED_STEMS = frozenset(["succ", "proc", "exc"])
_STEP2 = {
    "ization": "ize",
    "ational": "ate",
    "fulness": "ful",
    "ousness": "ous",
    "iveness": "ive",
    "tional": "tion",
    "biliti": "ble",
    "lessli": "less",
    "entli": "ent",
    "ation": "ate",
    "alism": "al",
    "aliti": "al",
    "ousli": "ous",
    "iviti": "ive",
    "fulli": "ful",
    "ogist": "og",
    "enci": "ence",
    "anci": "ance",
    "abli": "able",
    "izer": "ize",
    "ator": "ate",
    "alli": "al",
    "bli": "ble",
    "ogi": "og",
    "li": "",
}
_STEP3 = {
    "ational": "ate",
    "tional": "tion",
    "alize": "al",
    "icate": "ic",
    "iciti": "ic",
    "ative": "",
    "ical": "ic",
    "ness": "",
    "ful": "",
}
_STEP4_TEXT = "ement ance ence able ible ment ant ent ism ate iti ous ive ize ion al er ic"
_STEP4 = tuple(_STEP4_TEXT.split())


def _longest(word: str, suffixes: Sequence[str]) -> str | None:
    """The longest of ``suffixes`` ``word`` ends with (Snowball's ``among``)."""
    best = None
    for s in suffixes:
        if word.endswith(s) and (best is None or len(s) > len(best)):
            best = s
    return best


def _after_vowel_consonant(word: str, start: int) -> int:
    """Where the region after the first non-vowel following a vowel (from ``start``) begins."""
    i = start
    while i < len(word) and word[i] not in _V:
        i += 1
    i += 1
    while i < len(word) and word[i] in _V:
        i += 1
    return min(i + 1, len(word))


def _ends_short_syllable(word: str) -> bool:
    if len(word) == 2:
        return word[0] in _V and word[1] not in _V
    if word.endswith("past"):
        return True
    return len(word) > 2 and word[-3] not in _V and word[-2] in _V and word[-1] not in _V | set("wxY")


def stem(word: str) -> str:
    """The Porter2 stem of a lower-case ``word``."""
    if word in _EXCEPTIONS:
        return _EXCEPTIONS[word]
    if len(word) < 3:
        return word
    chars = list(word)
    for i, ch in enumerate(chars):
        if ch == "y" and (i == 0 or chars[i - 1] in _V):
            chars[i] = "Y"
    w = "".join(chars)
    prefix = next((p for p in _PREFIXES if w.startswith(p)), None)
    p1 = len(prefix) if prefix else _after_vowel_consonant(w, 0)
    p2 = _after_vowel_consonant(w, p1)
    w = _step1b(_step1a(w), p1)
    if len(w) > 2 and w[-1] in "yY" and w[-2] not in _V:
        w = w[:-1] + "i"
    w = _replace_in_r1(w, _STEP2, p1, p2)
    w = _replace_in_r1(w, _STEP3, p1, p2)
    w = _step4(w, p2)
    w = _step5(w, p1, p2)
    return w.replace("Y", "y")


def _step1a(w: str) -> str:
    suffix = _longest(w, ("sses", "ied", "ies", "us", "ss", "s"))
    if suffix == "sses":
        return w[:-2]
    if suffix in ("ied", "ies"):
        return w[:-3] + ("i" if len(w) > 4 else "ie")
    if suffix == "s" and any(ch in _V for ch in w[:-2]):
        return w[:-1]
    return w


def _step1b(w: str, p1: int) -> str:
    suffix = _longest(w, ("eed", "eedly", "ed", "edly", "ing", "ingly"))
    if suffix is None:
        return w
    rest = w[: -len(suffix)]
    if suffix in ("eed", "eedly"):
        return rest + "ee" if len(rest) >= p1 and rest not in _EED_STEMS else w
    if suffix == "ing":
        if rest in _ING_STEMS:
            return w
        if len(rest) == 2 and rest[1] == "y" and rest[0] not in _V:
            return rest[0] + "ie"  # dying, vying
    if not any(ch in _V for ch in rest):
        return w
    if rest.endswith(("at", "bl", "iz")):
        return rest + "e"
    if rest.endswith(_DOUBLES):
        # "added", "egged": a double after a leading a, e or o stays.
        return rest if len(rest) == 3 and rest[0] in "aeo" else rest[:-1]
    if len(rest) == p1 and _ends_short_syllable(rest):
        return rest + "e"
    return rest


def _replace_in_r1(w: str, table: dict[str, str], p1: int, p2: int) -> str:
    """Steps 2 and 3: the longest suffix of ``table``, when it lies in R1, by its replacement."""
    suffix = _longest(w, tuple(table))
    if suffix is None or len(w) - len(suffix) < p1:
        return w
    rest = w[: -len(suffix)]
    if (
        (suffix == "ogi" and not rest.endswith("l"))
        or (suffix == "li" and (not rest or rest[-1] not in _LI_ENDINGS))
        or (suffix == "ative" and len(rest) < p2)
    ):
        return w
    return rest + table[suffix]


def _step4(w: str, p2: int) -> str:
    suffix = _longest(w, _STEP4)
    if suffix is None or len(w) - len(suffix) < p2:
        return w
    rest = w[: -len(suffix)]
    if suffix == "ion" and not rest.endswith(("s", "t")):
        return w
    return rest


def _step5(w: str, p1: int, p2: int) -> str:
    if w.endswith("e"):
        rest = w[:-1]
        if len(rest) >= p2 or (len(rest) >= p1 and not _ends_short_syllable(rest)):
            return rest
    elif w.endswith("ll") and len(w) - 1 >= p2:
        return w[:-1]
    return w


# -- BM25 -------------------------------------------------------------------------------------------


class KeywordIndex:
    """BM25 over analysed texts (:func:`analyze`), one per row; rows with no terms still count in
    ``N`` and ``avgdl``, as in LanceDB's index."""

    def __init__(self, docs: Sequence[Sequence[str]]) -> None:
        n = self.n_docs = len(docs)
        counts = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n)
        self.lengths = counts.astype(np.float64)
        self.avgdl = float(self.lengths.mean()) if n else 0.0
        # Postings as one sorted (term, row) array: each term's rows ascending with their term
        # frequency, as a per-row Counter would append them, in a sort instead of a Python loop
        # (SciFact's 12k chunks: 0.67 -> ~0.2 s).
        self._vocab: dict[str, int] = {}
        vocab = self._vocab
        terms = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for d in docs for t in d),
            dtype=np.int64,
            count=int(counts.sum()),
        )
        width = max(n, 1)  # key = term * width + row
        keys, tf = np.unique(
            terms * width + np.repeat(np.arange(n, dtype=np.int64), counts), return_counts=True
        )
        self._rows = (keys % width).astype(np.intp)
        self._tf = tf.astype(np.float64)
        self._bounds = np.searchsorted(keys // width, np.arange(len(vocab) + 1))

    def postings(self, term: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]] | None:
        """The rows holding ``term`` (ascending) and its frequency in each; None when none does."""
        t = self._vocab.get(term)
        if t is None:
            return None
        lo, hi = int(self._bounds[t]), int(self._bounds[t + 1])
        return self._rows[lo:hi], self._tf[lo:hi]

    def idf(self, term: str) -> float:
        found = self.postings(term)
        return self._idf(0 if found is None else len(found[0]))

    def _idf(self, df: int) -> float:
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Each row's BM25 score for the analysed ``query``, and which rows match a term of it."""
        total = np.zeros(self.n_docs, dtype=np.float64)
        hit = np.zeros(self.n_docs, dtype=np.bool_)
        if not self.n_docs or self.avgdl == 0:
            return total, hit
        norm = K1 * (1.0 - B + B * self.lengths / self.avgdl)
        for term, count in Counter(query).items():
            found = self.postings(term)
            if found is None:
                continue
            rows, tf = found
            total[rows] += count * self._idf(len(rows)) * tf * (K1 + 1.0) / (tf + norm[rows])
            hit[rows] = True
        return total, hit
