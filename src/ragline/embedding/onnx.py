"""The default embedder: a sentence-transformers BERT model run through ONNX Runtime.

The model's weights are exported to ONNX once (with eager attention, so ORT can fuse it) and the
optimised graph is cached on disk under ``<cache_dir>/onnx/<fingerprint>/``. Later starts load the
cached graph in well under a second and never import torch.

Example::

    emb = OnnxEmbedder()          # the packaged all-MiniLM-L6-v2
    emb.embed_query("hello").shape  # (384,)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragline.embedding.base import Vectors, l2_normalize
from ragline.embedding.sentence_vectors import Span, separate_sentence_vectors
from ragline.embedding.tokens import TokenMatrix, token_rows
from ragline.errors import EmbeddingError
from ragline.locks import file_lock
from ragline.text.tokenizer import packaged_model_dir

log = logging.getLogger(__name__)

# Token states of the last queries embedded, for the late-interaction reranker that follows.
_QUERY_TOKENS_KEPT = 64
_EXPORT_VERSION = "1"  # bump when the export recipe changes, so stale cached graphs are rebuilt


def weights_fingerprint(model_dir: Path) -> str:
    """12 hex chars identifying a model directory's weights and config (cheap: size, name, config)."""
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "1_Pooling/config.json", "modules.json"):
        p = model_dir / name
        if p.is_file():
            h.update(name.encode())
            h.update(p.read_bytes())
    for name in ("model.safetensors", "pytorch_model.bin"):
        p = model_dir / name
        if p.is_file():
            # Hashing the head and tail plus the size tells weight files apart without reading 90 MB.
            size = p.stat().st_size
            h.update(f"{name}:{size}".encode())
            with p.open("rb") as f:
                h.update(f.read(1 << 20))
                f.seek(max(0, size - (1 << 20)))
                h.update(f.read(1 << 20))
    return h.hexdigest()[:12]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def export_onnx(model_dir: Path, out_path: Path) -> None:
    """Export a BERT-family model directory to an ORT-optimised ONNX graph at ``out_path``."""
    try:
        import torch
        from transformers import AutoConfig, AutoModel
    except ImportError:
        raise EmbeddingError(
            "exporting the embedding model to ONNX needs torch and transformers: "
            "pip install 'ragline[export]' (torch==2.13.0 for the CPU build)"
        ) from None
    from onnxruntime.transformers import optimizer

    # Belt and braces next to local_files_only: the hub client must never try the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")
    model.eval()

    class _Wrapper(torch.nn.Module):
        # transformers 5 expects keyword arguments; torch.onnx.export passes positionals.
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        # The tracer's warnings concern control flow that is fixed for BERT encoders; they would
        # only alarm users on the one-time export.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Wrapper(model),
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(raw),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "seq"},
                    "attention_mask": {0: "batch", 1: "seq"},
                    "token_type_ids": {0: "batch", 1: "seq"},
                    "last_hidden_state": {0: "batch", 1: "seq"},
                },
                opset_version=17,
                dynamo=False,
            )
        opt = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
        )
        tmp_out = Path(tmp) / "model.onnx"
        opt.save_model_to_file(str(tmp_out))
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp_out), str(out_path.with_suffix(".partial")))
        os.replace(out_path.with_suffix(".partial"), out_path)


def _pool_spans(
    hidden: npt.NDArray[np.float32], encoding: Any, head: int, spans: Sequence[Span], normalize: bool
) -> Vectors:
    """Mean token state over each span's tokens plus the header's (a token belongs to the span
    its first character falls in); special tokens ([CLS], [SEP]) never count."""
    k = len(encoding.ids)
    starts = np.asarray([o[0] for o in encoding.offsets], dtype=np.int64)
    real = ~np.asarray(encoding.special_tokens_mask, dtype=bool)
    in_head = real & (starts < head)
    rows = []
    for a, b in spans:
        sel = (real & (starts >= a) & (starts < b)) | in_head
        if (sel & ~in_head).any():
            rows.append(hidden[:k][sel].mean(axis=0))
    if not rows:
        return np.zeros((0, hidden.shape[-1]), dtype=np.float32)
    pooled = np.asarray(rows, dtype=np.float32)
    return l2_normalize(pooled) if normalize else pooled


class OnnxEmbedder:
    """Sentence-transformers model (mean or CLS pooling) on ONNX Runtime, batched by length."""

    def __init__(
        self,
        model_dir: Path | None = None,
        cache_dir: Path | None = None,
        batch_size: int = 32,
        threads: int = 2,
        max_tokens: int = 256,
        name: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else packaged_model_dir()
        if not (self.model_dir / "config.json").is_file():
            raise EmbeddingError(
                f"{self.model_dir} is not a sentence-transformers model directory (no config.json); "
                "set embedding.model_path to one"
            )
        self.cache_dir = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "ragline"
        self.batch_size = batch_size
        self.threads = threads
        st_cfg = _read_json(self.model_dir / "sentence_bert_config.json")
        self.max_tokens = min(max_tokens, int(st_cfg.get("max_seq_length", max_tokens)))
        self.name = name or ("all-MiniLM-L6-v2" if model_dir is None else self.model_dir.name)
        self._query_tokens: OrderedDict[str, TokenMatrix] = OrderedDict()
        self._query_lock = threading.Lock()

    @cached_property
    def _fingerprint(self) -> str:
        return weights_fingerprint(self.model_dir)

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self._fingerprint}"

    @cached_property
    def _pooling(self) -> tuple[str, bool]:
        pool_cfg = _read_json(self.model_dir / "1_Pooling" / "config.json")
        mode = "cls" if pool_cfg.get("pooling_mode_cls_token") else "mean"
        modules = self.model_dir / "modules.json"
        normalize = (not modules.is_file()) or "Normalize" in modules.read_text(encoding="utf-8")
        return mode, normalize

    @cached_property
    def dimension(self) -> int:
        return int(_read_json(self.model_dir / "config.json")["hidden_size"])

    @property
    def onnx_path(self) -> Path:
        return self.cache_dir / "onnx" / f"{self._fingerprint}-v{_EXPORT_VERSION}" / "model.onnx"

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_tokens)
        tok.no_padding()
        return tok

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        path = self.onnx_path
        if not path.is_file():
            with file_lock(path.parent.parent / f"{path.parent.name}.lock", f"ONNX export {path}"):
                if not path.is_file():
                    log.info("exporting %s to ONNX at %s (once)", self.model_dir, path)
                    export_onnx(self.model_dir, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        # ONNX Runtime's pool busy-waits after each run by default; on a small machine that spin
        # takes the cores the vector and BM25 searches need right after the query is embedded.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load the cached ONNX model {path} ({exc}); delete that file to re-export it"
            ) from exc

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX session now rather than on the first call."""
        self.embed_query("warm up")

    def _hidden(self, encodings: list[Any]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Token states ``(n, width, dim)`` and the attention mask of one padded batch."""
        n = len(encodings)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        hidden = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )[0]
        return np.asarray(hidden, dtype=np.float32), mask

    def _pool(self, hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
        """One vector per text: the model's own pooling (CLS or masked mean), normalised if it is."""
        mode, normalize = self._pooling
        if mode == "cls":
            pooled = hidden[:, 0, :]
        else:
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        pooled = pooled.astype(np.float32)
        return l2_normalize(pooled) if normalize else pooled

    def _run(self, encodings: list[Any]) -> Vectors:
        return self._pool(*self._hidden(encodings))

    def embed_spans(
        self, texts: Sequence[str], heads: Sequence[int], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Chunk vectors and, from the same run, one vector per span (late chunking).

        Each span's vector is the mean of the token states of the span and of the header
        ``texts[i][:heads[i]]``; spans cut off by truncation get none. CLS-pooling models embed
        the spans as separate texts instead, as pooling a span means nothing to them.
        """
        mode, normalize = self._pooling
        if mode == "cls":
            return self.embed_documents(texts), separate_sentence_vectors(self, texts, heads, spans)
        return self._pooled_and(texts, lambda i, h, e: _pool_spans(h, e, heads[i], spans[i], normalize))

    def embed_spans_with_tokens(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix]]:
        """:meth:`embed_spans` and :meth:`embed_with_tokens` from one model run: what ingest
        stores with ``chunking.sentence_vectors = "late"`` and token states, at the cost of the
        chunk texts alone."""
        mode, normalize = self._pooling
        if mode == "cls":
            vectors, tokens = self.embed_with_tokens(texts, content_only=content_only)
            return vectors, separate_sentence_vectors(self, texts, heads, spans), tokens
        states: list[TokenMatrix] = [np.zeros((0, self.dimension), dtype=np.float32)] * len(texts)

        def each(i: int, h: npt.NDArray[np.float32], e: Any) -> Vectors:
            states[i] = token_rows(h, e, content_only=content_only)
            return _pool_spans(h, e, heads[i], spans[i], normalize)

        vectors, pooled = self._pooled_and(texts, each)
        return vectors, pooled, states

    def _pooled_and(
        self, texts: Sequence[str], each: Callable[[int, npt.NDArray[np.float32], Any], Vectors]
    ) -> tuple[Vectors, list[Vectors]]:
        """Each text's vector and ``each(i, token states, encoding)`` of text ``i``, from one
        batched model run (batches of similar length, so little compute goes to padding)."""
        n = len(texts)
        out = np.empty((n, self.dimension), dtype=np.float32)
        extra: list[Vectors] = [np.zeros((0, self.dimension), dtype=np.float32)] * n
        if not n:
            return out, extra
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(n), key=lambda i: len(encodings[i].ids))
        for b in range(0, n, self.batch_size):
            idx = order[b : b + self.batch_size]
            hidden, mask = self._hidden([encodings[i] for i in idx])
            out[idx] = self._pool(hidden, mask)
            for row, i in enumerate(idx):
                extra[i] = each(i, hidden[row], encodings[i])
        return out, extra

    def embed_with_tokens(
        self, texts: Sequence[str], *, content_only: bool = False
    ) -> tuple[Vectors, list[TokenMatrix]]:
        """Each text's vector and, from the same model run, its unit-length contextual token
        embeddings (special tokens left out; with ``content_only`` stop words and punctuation too):
        what late-interaction reranking matches against.

        Example::

            vectors, tokens = emb.embed_with_tokens(["rotate api keys"])
            tokens[0].shape  # (3, 384)
        """
        return self._pooled_and(texts, lambda _, h, e: token_rows(h, e, content_only=content_only))

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Batching texts of similar length wastes less compute on padding.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            out[idx] = self._run([encodings[i] for i in idx])
        return out

    def embed_query(self, text: str) -> Vectors:
        result: Vectors = self.embed_queries([text])[0]
        return result

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Several queries in one model run (micro-batching), each as :meth:`embed_query` gives it."""
        encodings = [self._tokenizer.encode(t) for t in texts]
        hidden, mask = self._hidden(encodings)
        # The same run gives the queries' token states; late-interaction reranking asks for them
        # right after the search, so keeping the last few saves it a second model run.
        for i, (text, encoding) in enumerate(zip(texts, encodings, strict=True)):
            tokens = token_rows(hidden[i], encoding)
            tokens.setflags(write=False)
            with self._query_lock:
                self._query_tokens[text] = tokens
                self._query_tokens.move_to_end(text)
                while len(self._query_tokens) > _QUERY_TOKENS_KEPT:
                    self._query_tokens.popitem(last=False)
        return self._pool(hidden, mask)

    def query_tokens(self, text: str) -> TokenMatrix:
        """``text``'s token states (as :meth:`embed_with_tokens`), from its recent
        :meth:`embed_query` run when there was one."""
        with self._query_lock:
            kept = self._query_tokens.get(text)
        if kept is not None:
            return kept
        tokens = self.embed_with_tokens([text])[1][0]
        tokens.setflags(write=False)
        return tokens
