"""The extractive reader: a small encoder that reads (question, passage) and points at the answer.

all-MiniLM-L6-v2 fine-tuned on SQuAD's calibration articles (``bench/train_reader.py``, or a
user's own pairs with ``ragline tune answerer``) with two heads: start/end logits over the
passage's tokens (the short answer's span, Devlin et al. 2019, section 4.2) and an answer logit on
[CLS] (does this window answer the question at all; trained with windows of the same article and
of other articles as negatives, so it also says when to abstain). The graph is int8 ONNX shipped in
the package (``models/reader``), run with ONNX Runtime; torch is needed only to train.

Example::

    reader = OnnxReader.packaged()   # None when the package ships no model
    span = reader.read("Who designed it?", ["The tower was designed by Gustave Eiffel."])[0]
    span.text, span.probability      # ("Gustave Eiffel", 0.97)
"""

from __future__ import annotations

import json
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ragline.errors import ConfigError

log = logging.getLogger(__name__)

MODEL_FILE = "reader.onnx"
META_FILE = "reader.json"
TOKENIZER_FILE = "tokenizer.json"
# The question keeps at most this many tokens; the rest of the window is the passage.
MAX_QUESTION_TOKENS = 64
# Longest answer span considered, in WordPiece tokens (SQuAD answers: 95% are under 12 words).
# 30 let the span run on past the answer ("The Dornbirner Ach had to be diverted, too, and it now
# flows parallel ..."): at 15, span EM / F1 on 822 held-out calibration units 0.474 / 0.634 ->
# 0.483 / 0.634, and the answerer's EM / F1 on the held-out articles 0.467 / 0.564 -> 0.483 /
# 0.572 (bench/span_decoding.py, bench/reader_heldout.py). Length and question-word penalties
# gained nothing more there (docs/benchmarks.md, "Span quality at int8 speed").
MAX_ANSWER_TOKENS = 15


def packaged_reader_dir() -> Path:
    """Where the package keeps its trained reader (it may be absent from a source checkout)."""
    return Path(__file__).resolve().parent / "models" / "reader"


@dataclass(frozen=True, slots=True)
class Window:
    """One model input: [CLS] question [SEP] passage[a:b] [SEP] and each token's passage offsets."""

    passage: int
    ids: list[int]
    type_ids: list[int]
    # Character (start, end) in the passage per token; (-1, -1) for the question and special tokens.
    offsets: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Span:
    """The reader's best answer in one passage: character offsets, text and its probability."""

    passage: int
    start: int
    end: int
    text: str
    # The answer head's logit for the best window (how sure the passage answers the question)
    # and its sigmoid.
    logit: float
    probability: float
    # start + end logits of the span (comparable across passages of one question).
    span_score: float
    # span_score minus the [CLS] "no answer" span's (training points unanswered windows there):
    # the span head's own verdict on whether the passage answers.
    margin: float = 0.0


class Featurizer:
    """Turns (question, passage) into model windows with the model's own WordPiece tokenizer."""

    def __init__(self, tokenizer_path: Path, max_seq: int = 256, stride: int = 64) -> None:
        if max_seq < MAX_QUESTION_TOKENS + 16:
            raise ConfigError(f"max_seq ({max_seq}) must be at least {MAX_QUESTION_TOKENS + 16} tokens")
        self.tokenizer_path = Path(tokenizer_path)
        self.max_seq = max_seq
        self.stride = stride

    @cached_property
    def tok(self) -> Any:
        from tokenizers import Tokenizer

        if not self.tokenizer_path.is_file():
            raise ConfigError(f"the reader's tokenizer {str(self.tokenizer_path)!r} does not exist")
        tok = Tokenizer.from_file(str(self.tokenizer_path))
        tok.no_truncation()
        tok.no_padding()
        return tok

    @cached_property
    def special(self) -> tuple[int, int]:
        cls, sep = self.tok.token_to_id("[CLS]"), self.tok.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise ConfigError(f"{self.tokenizer_path} is not a BERT WordPiece tokenizer (no [CLS]/[SEP])")
        return int(cls), int(sep)

    def windows(self, question: str, passages: list[str]) -> list[Window]:
        """Every passage cut into overlapping windows that fit ``max_seq`` beside the question."""
        cls, sep = self.special
        q_ids = list(self.tok.encode(question, add_special_tokens=False).ids)[:MAX_QUESTION_TOKENS]
        room = self.max_seq - len(q_ids) - 3
        head = [cls, *q_ids, sep]
        out: list[Window] = []
        for i, enc in enumerate(self.tok.encode_batch(passages, add_special_tokens=False)):
            ids, offs = list(enc.ids), [(int(a), int(b)) for a, b in enc.offsets]
            a = 0
            while True:
                b = min(len(ids), a + room)
                out.append(
                    Window(
                        i,
                        head + ids[a:b] + [sep],
                        [0] * len(head) + [1] * (b - a + 1),
                        [(-1, -1)] * len(head) + offs[a:b] + [(-1, -1)],
                    )
                )
                if b >= len(ids):
                    break
                a = b - min(self.stride, room // 2)
        return out


def pad(windows: list[Window]) -> dict[str, npt.NDArray[np.int64]]:
    """The windows as right-padded int64 arrays (input_ids, attention_mask, token_type_ids)."""
    n = max(len(w.ids) for w in windows)
    ids = np.zeros((len(windows), n), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for r, w in enumerate(windows):
        ids[r, : len(w.ids)] = w.ids
        mask[r, : len(w.ids)] = 1
        types[r, : len(w.ids)] = w.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def best_span(
    window: Window, start: npt.NDArray[np.float32], end: npt.NDArray[np.float32]
) -> tuple[int, int, float] | None:
    """(first token, last token, start+end logit) of the best passage span, or None."""
    ctx = np.asarray([o[0] >= 0 for o in window.offsets] + [False] * (len(start) - len(window.offsets)))
    if not ctx.any():
        return None
    s = np.where(ctx, start, -np.inf)
    e = np.where(ctx, end, -np.inf)
    # score[i, j] = s[i] + e[j] for i <= j < i + MAX_ANSWER_TOKENS.
    scores = s[:, None] + e[None, :]
    n = len(s)
    i, j = np.indices((n, n))
    scores = np.where((j >= i) & (j < i + MAX_ANSWER_TOKENS), scores, -np.inf)
    flat = int(np.argmax(scores))
    a, b = divmod(flat, n)
    value = float(scores[a, b])
    return (a, b, value) if math.isfinite(value) else None


class Reader(Protocol):
    """Reads passages for a question: the best answer span of each (see the module docstring)."""

    def read(self, question: str, passages: list[str]) -> list[Span | None]: ...

    def warm_up(self) -> None: ...

    @property
    def meta(self) -> dict[str, Any]: ...


class OnnxReader:
    """The trained reader run by ONNX Runtime; loads on first use (or :meth:`warm_up`)."""

    def __init__(self, model_dir: Path, *, threads: int = 1) -> None:
        self.model_dir = Path(model_dir)
        # Windows read at once (each on one core), not threads inside one run.
        self.threads = threads
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def packaged(cls, *, threads: int = 1) -> OnnxReader | None:
        """The reader the package ships, or None (with the reason logged) when it has none."""
        d = packaged_reader_dir()
        if not (d / MODEL_FILE).is_file():
            log.info("no packaged reader model at %s; the extractive answerer scores sentences without it", d)
            return None
        return cls(d, threads=threads)

    @cached_property
    def meta(self) -> dict[str, Any]:
        path = self.model_dir / META_FILE
        if not path.is_file():
            raise ConfigError(f"the reader model directory {str(self.model_dir)!r} has no {META_FILE}")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    @cached_property
    def featurizer(self) -> Featurizer:
        return Featurizer(
            self.model_dir / TOKENIZER_FILE,
            int(self.meta.get("max_seq", 256)),
            int(self.meta.get("stride", 64)),
        )

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        path = self.model_dir / MODEL_FILE
        if not path.is_file():
            raise ConfigError(
                f"no reader model at {str(path)!r}; train one with `ragline tune answerer` or "
                "reinstall ragline (the package ships one)"
            )
        opts = ort.SessionOptions()
        # One thread a run, ``threads`` runs at once (:meth:`logits`): the windows are ~80
        # tokens, too small to split well across cores. The answerer's 5.3 windows a question
        # (SQuAD calibration) took 37.9 ms wall / 60.8 ms CPU as one run after another on 2
        # threads, and 29.8 / 46.3 ms two at a time on one thread each (outputs identical).
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        # As the embedder's session: a spinning pool takes the cores the next query needs.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def _runner(self) -> Any:
        # The lock makes the first use build the session once when several threads ask at once.
        with self._lock:
            return self._session

    def _windows_pool(self) -> ThreadPoolExecutor | None:
        if self.threads <= 1:
            return None
        with self._lock:
            if self._pool is None:
                # Shared by every question: concurrent asks queue here rather than run more
                # reader windows at once than ``threads`` cores.
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ragline-reader")
            return self._pool

    def warm_up(self) -> None:
        """Load the graph and tokenizer now rather than on the first question."""
        self.read("warm up", ["The reader is ready."])

    def logits(
        self, windows: list[Window]
    ) -> tuple[list[npt.NDArray[np.float32]], list[npt.NDArray[np.float32]], npt.NDArray[np.float32]]:
        """Start and end logits of each window (over its own tokens) and its answer logit.

        Each window runs alone: the int8 graph quantises activations with one scale per tensor and
        run, so in a batch one window's largest value would set the others' resolution (the int8
        embedder measured cosine 0.992 between a text alone and in a batch), and alone nothing is
        padded (the windows of 60 SQuAD questions: 15.8-15.9 ms against 17.1-17.9 ms a batch)."""
        session = self._runner()
        pool = self._windows_pool() if len(windows) > 1 else None

        def run(r: int) -> Any:
            return session.run(None, pad([windows[r]]))

        # Longest first, so a long window does not start last and run alone at the end (the
        # answerer's windows: 22.7 -> 20.6 ms a question on 2 cores). ONNX Runtime's run() is
        # thread-safe and releases the GIL, so on the pool the windows run side by side.
        order = sorted(range(len(windows)), key=lambda r: -len(windows[r].ids))
        by_row = dict(zip(order, (pool.map if pool else map)(run, order), strict=True))
        outs = [by_row[r] for r in range(len(windows))]
        starts = [np.asarray(start, dtype=np.float32)[0] for start, _, _ in outs]
        ends = [np.asarray(end, dtype=np.float32)[0] for _, end, _ in outs]
        answers = np.array([np.asarray(a).reshape(-1)[0] for _, _, a in outs], dtype=np.float32)
        return starts, ends, answers

    def read(self, question: str, passages: list[str]) -> list[Span | None]:
        """The best span of each passage (None for a passage with no readable text)."""
        windows = self.featurizer.windows(question, passages)
        if not windows:
            return [None] * len(passages)
        start, end, answer = self.logits(windows)
        best: list[Span | None] = [None] * len(passages)
        for r, w in enumerate(windows):
            found = best_span(w, start[r], end[r])
            if found is None:
                continue
            a, b, value = found
            logit = float(answer[r])
            cur = best[w.passage]
            if cur is None or (logit, value) > (cur.logit, cur.span_score):
                c0, c1 = w.offsets[a][0], w.offsets[b][1]
                text = passages[w.passage][c0:c1]
                prob = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
                margin = value - float(start[r][0] + end[r][0])
                best[w.passage] = Span(w.passage, c0, c1, text, logit, prob, value, margin)
        return best
