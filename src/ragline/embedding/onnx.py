"""The default embedder: a sentence-transformers BERT model run through ONNX Runtime.

The model's weights are exported to ONNX once (with eager attention, so ORT can fuse it) and the
optimised graph is cached on disk under ``<cache_dir>/onnx/<fingerprint>/``. Later starts load the
cached graph in well under a second and never import torch. Besides ``last_hidden_state`` the
graph outputs the states entering each layer (``hidden_<i>``, computed anyway: asking for none of
them costs nothing); ``split`` sentence vectors run the last layers again per sentence, through
single-layer graphs cut out of the optimised one (``layer-<i>.onnx``, written beside it on first use).

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
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ragline.embedding.base import Vectors, l2_normalize, model_id
from ragline.embedding.sentence_vectors import Span, separate_sentence_vectors
from ragline.embedding.tokens import TokenMatrix, token_rows
from ragline.errors import EmbeddingError
from ragline.locks import file_lock
from ragline.text.tokenizer import packaged_model_dir

log = logging.getLogger(__name__)

# Token states of the last queries embedded, for the late-interaction reranker that follows.
_QUERY_TOKENS_KEPT = 64
# Bump when the export recipe changes, so stale cached graphs are rebuilt. "2": the graph also
# outputs the hidden states entering each layer, and each layer is exported alone ("split").
_EXPORT_VERSION = "2"
_SPLIT_FALLBACK_LOGGED: set[str] = set()


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
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                output_hidden_states=True,
            )
            # hidden_states[i] enters layer i (0: the embeddings); the last is last_hidden_state.
            return (out.last_hidden_state, *out.hidden_states[:-1])

    states = [f"hidden_{i}" for i in range(int(config.num_hidden_layers))]
    names = ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state", *states]
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
                output_names=["last_hidden_state", *states],
                dynamic_axes={name: {0: "batch", 1: "seq"} for name in names},
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


def _layer_file(i: int) -> str:
    """The file of encoder layer ``i`` cut out of the main graph, beside it."""
    return f"layer-{i}.onnx"


def extract_layer(main: Any, i: int, layers: int) -> Any:
    """Encoder layer ``i`` of the exported graph ``main`` (an ``onnx.ModelProto``) as a graph of
    its own: input ``hidden`` (the states entering it, ``(batch, seq, dim)``) plus the padding
    mask, as ``mask_index`` (int32 lengths, what ORT's fused ``Attention`` reads) or
    ``attention_mask`` (int64 ``(batch, seq)``) when the optimiser left it unfused; output ``out``.

    Cut from the optimised graph rather than exported again, so a block goes through the same
    fused kernels as the chunk did, and no torch is needed after the one-time export.
    """
    import onnx
    from onnx import TensorProto, helper

    g = main.graph
    source = f"hidden_{i}"
    target = "last_hidden_state" if i == layers - 1 else f"hidden_{i + 1}"
    producer = {o: n for n in g.node for o in n.output}
    inits = {t.name for t in g.initializer}
    mask_inputs = {n.input[3] for n in g.node if n.op_type == "Attention" and len(n.input) > 3 and n.input[3]}
    # Layer 0 reads the fused embedding node's output, which hidden_0 (an unfused copy of the
    # embedding layer, kept as an output) equals.
    sources = {source} | (
        {n.output[0] for n in g.node if n.op_type == "EmbedLayerNormalization"} if i == 0 else set()
    )
    keep: list[Any] = []
    seen: set[str] = set()
    external: set[str] = set()
    todo = [target]
    while todo:
        name = todo.pop()
        if name in seen or not name:
            continue
        seen.add(name)
        if name in sources or name in inits:
            continue
        if name in mask_inputs or name not in producer:
            external.add(name)
            continue
        node = producer[name]
        if node not in keep:
            keep.append(node)
            todo.extend(node.input)
    extra = external - mask_inputs
    if len(external & mask_inputs) > 1 or extra - {"attention_mask"}:
        raise EmbeddingError(
            f"layer {i} of the exported graph depends on {sorted(external)}, not only on its input "
            "states and the mask; set chunking.sentence_vectors = 'separate' for this model"
        )
    order = {id(n): k for k, n in enumerate(g.node)}
    keep.sort(key=lambda n: order[id(n)])
    dim = None
    renames = {**{x: "hidden" for x in sources}, target: "out"}
    inputs = [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "seq", dim])]
    for name in sorted(external):
        if name in mask_inputs:
            renames[name] = "mask_index"
            inputs.append(helper.make_tensor_value_info("mask_index", TensorProto.INT32, ["batch"]))
        else:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"]))
    nodes = []
    for n in keep:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        copy.input[:] = [renames.get(x, x) for x in n.input]
        copy.output[:] = [renames.get(x, x) for x in n.output]
        nodes.append(copy)
    used = {x for n in keep for x in n.input}
    graph = helper.make_graph(
        nodes,
        f"layer_{i}",
        inputs,
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", "seq", dim])],
        initializer=[t for t in g.initializer if t.name in used],
    )
    model = helper.make_model(graph, opset_imports=list(main.opset_import))
    model.ir_version = main.ir_version
    return model


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


def _split_blocks(encoding: Any, head: int, spans: Sequence[Span]) -> list[npt.NDArray[np.int64]]:
    """Per span kept as :func:`_pool_spans` keeps it, the rows of its block: the special tokens
    ([CLS], [SEP]), the header's tokens and the span's, in text order, as the tokenizer would lay
    out ``header + sentence`` embedded on its own (the header's rows matter: without them the
    block loses most of its likeness to that text, docs/benchmarks.md)."""
    starts = np.asarray([o[0] for o in encoding.offsets], dtype=np.int64)
    real = ~np.asarray(encoding.special_tokens_mask, dtype=bool)
    in_head = real & (starts < head)
    blocks = []
    for a, b in spans:
        own = real & (starts >= a) & (starts < b) & ~in_head
        if own.any():
            blocks.append(np.flatnonzero(own | in_head | ~real))
    return blocks


_BLOCK_BATCH = 8  # sentence blocks per run of the split layers


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
        precision: Literal["fp32", "int8"] = "fp32",
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
        if precision not in ("fp32", "int8"):
            raise EmbeddingError(f"embedding precision {precision!r} is unknown; use 'fp32' or 'int8'")
        self.precision = precision
        self._query_tokens: OrderedDict[str, TokenMatrix] = OrderedDict()
        self._query_lock = threading.Lock()
        self._layer_cache: dict[int, Any] = {}
        self._layer_lock = threading.Lock()

    @cached_property
    def _fingerprint(self) -> str:
        return weights_fingerprint(self.model_dir)

    @property
    def model_id(self) -> str:
        # int8 vectors differ from fp32 ones (cosine ~0.995), so a collection records which it holds;
        # the fingerprint stays the weights' own, which is what shipped codebooks are matched by.
        return model_id(self.name, self._fingerprint, self.precision)

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
        """The graph this embedder runs (int8: quantised from the fp32 export, beside it)."""
        return self._fp32_path.with_name("model.onnx" if self.precision == "fp32" else "model-int8.onnx")

    @property
    def _fp32_path(self) -> Path:
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

        path, fp32 = self.onnx_path, self._fp32_path
        if not path.is_file():
            with file_lock(path.parent.parent / f"{path.parent.name}.lock", f"ONNX export {path}"):
                if not fp32.is_file():
                    log.info("exporting %s to ONNX at %s (once)", self.model_dir, fp32)
                    export_onnx(self.model_dir, fp32)
                if not path.is_file():
                    from ragline.embedding.quantize import quantize_int8

                    log.info("quantising %s to int8 at %s (once)", fp32, path)
                    quantize_int8(fp32, path, what="embedding model")
        try:
            return ort.InferenceSession(str(path), self._options(), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load the cached ONNX model {path} ({exc}); delete that file to re-export it"
            ) from exc

    def _options(self) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        # ONNX Runtime's pool busy-waits after each run by default; on a small machine that spin
        # takes the cores the vector and BM25 searches need right after the query is embedded.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return opts

    @cached_property
    def layers(self) -> int:
        """The model's number of encoder layers (``chunking.split_layers`` is at most this)."""
        return int(_read_json(self.model_dir / "config.json")["num_hidden_layers"])

    def _layer_sessions(self, k: int) -> list[Any]:
        """Sessions of the last ``k`` encoder layers, each a graph cut out of the main one (once,
        written beside it)."""
        import onnxruntime as ort

        if not 1 <= k <= self.layers:
            raise EmbeddingError(
                f"chunking.split_layers = {k}, but {self.model_id} has {self.layers} layers: "
                f"set it between 1 and {self.layers}"
            )
        wanted = range(self.layers - k, self.layers)
        with self._layer_lock:
            missing = [i for i in wanted if i not in self._layer_cache]
            if missing:
                _ = self._session  # exports the main graph first when needed
                paths = {i: self.onnx_path.parent / _layer_file(i) for i in missing}
                absent = [i for i in missing if not paths[i].is_file()]
                if absent:
                    lock = self.onnx_path.parent.parent / f"{self.onnx_path.parent.name}.lock"
                    with file_lock(lock, f"ONNX layers of {self.onnx_path}"):
                        self._write_layers([i for i in absent if not paths[i].is_file()])
                for i in missing:
                    try:
                        self._layer_cache[i] = ort.InferenceSession(
                            str(paths[i]), self._options(), providers=["CPUExecutionProvider"]
                        )
                    except Exception as exc:
                        raise EmbeddingError(
                            f"cannot load the cached ONNX layer {paths[i]} ({exc}); delete that file "
                            "to cut it out of the main graph again"
                        ) from exc
            return [self._layer_cache[i] for i in wanted]

    def _write_layers(self, indices: list[int]) -> None:
        if not indices:
            return
        import onnx

        # Cut from the fp32 graph at either precision: the quantiser rewrites the fused Attention
        # nodes (QAttention) whose mask input extract_layer looks for; a block's one layer in fp32
        # costs little beside the whole pass.
        main = onnx.load(str(self._fp32_path))
        outputs = {o.name for o in main.graph.output}
        if f"hidden_{indices[0]}" not in outputs:
            raise EmbeddingError(
                f"the cached ONNX graph {self._fp32_path} has no hidden-state outputs (an older "
                "export); delete its folder to export it again"
            )
        for i in indices:
            path = self.onnx_path.parent / _layer_file(i)
            tmp = path.with_suffix(".partial")
            onnx.save(extract_layer(main, i, self.layers), str(tmp))
            os.replace(tmp, path)

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX session now rather than on the first call."""
        self.embed_query("warm up")

    def _hidden(self, encodings: list[Any]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Token states ``(n, width, dim)`` and the attention mask of one padded batch."""
        hidden, mask, _ = self._hidden_and(encodings, ())
        return hidden, mask

    def _hidden_and(
        self, encodings: list[Any], names: Sequence[str]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], list[npt.NDArray[np.float32]]]:
        """:meth:`_hidden` and, from the same run, the graph's outputs ``names`` (states
        entering layers)."""
        n = len(encodings)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        if self.precision != "fp32" and n > 1:
            return self._one_by_one(encodings, names, mask)
        got = self._session.run(
            ["last_hidden_state", *names],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        return np.asarray(got[0], dtype=np.float32), mask, [np.asarray(g, dtype=np.float32) for g in got[1:]]

    def _one_by_one(
        self, encodings: list[Any], names: Sequence[str], mask: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], list[npt.NDArray[np.float32]]]:
        """:meth:`_hidden_and` with each text run alone, padded into one batch afterwards.

        Dynamic int8 quantises each activation tensor with one scale, so in a batch the largest
        value of any text sets every text's resolution: a text embedded alone and in a batch
        differed by cosine 0.992 on average (0.982 at worst; 200 SciFact queries). Alone, a
        text's vector depends on the text only, as fp32's does, and runs no padding: on 2 cores
        batches of one were faster than batches of 32 (docs/benchmarks.md, "int8 embedder").
        """
        outs: list[list[npt.NDArray[np.float32]]] = []
        for e in encodings:
            row = np.asarray([e.ids], dtype=np.int64)
            got = self._session.run(
                ["last_hidden_state", *names],
                {"input_ids": row, "attention_mask": np.ones_like(row), "token_type_ids": np.zeros_like(row)},
            )
            outs.append([np.asarray(g, dtype=np.float32) for g in got])
        padded: list[npt.NDArray[np.float32]] = []
        for k in range(1 + len(names)):
            dim = outs[0][k].shape[-1]
            batch = np.zeros((len(encodings), mask.shape[1], dim), dtype=np.float32)
            for i, out in enumerate(outs):
                batch[i, : out[k].shape[1]] = out[k][0]
            padded.append(batch)
        return padded[0], mask, padded[1:]

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

    def embed_split(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        layers: int,
        with_tokens: bool = False,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix] | None]:
        """Chunk vectors, ``split`` sentence vectors and (``with_tokens``) token states from one
        run of the model over the chunk texts (``chunking.sentence_vectors = "split"``).

        Each sentence's block (the chunk's [CLS], header, sentence and [SEP] rows of the states
        entering the last ``layers`` layers) goes through those layers alone, attending only
        within itself, and is mean-pooled as the model pools a text: close to embedding
        ``header + sentence`` apart, for about ``layers / n_layers`` of its work. Spans cut off by
        truncation get none. CLS-pooling models embed the sentences as separate texts (logged).

        Example::

            vecs, sents, _ = emb.embed_split([text], [head], [spans], layers=1)
        """
        mode, _ = self._pooling
        if mode == "cls":
            if self.model_id not in _SPLIT_FALLBACK_LOGGED:
                _SPLIT_FALLBACK_LOGGED.add(self.model_id)
                log.info(
                    "%s pools its [CLS] token: split sentence vectors are embedded as separate texts",
                    self.model_id,
                )
            if with_tokens:
                vectors, tokens = self.embed_with_tokens(texts, content_only=content_only)
                return vectors, separate_sentence_vectors(self, texts, heads, spans), tokens
            return self.embed_documents(texts), separate_sentence_vectors(self, texts, heads, spans), None
        states: list[TokenMatrix] | None = None
        each = None
        if with_tokens:
            states = [np.zeros((0, self.dimension), dtype=np.float32)] * len(texts)

            def each(i: int, h: npt.NDArray[np.float32], e: Any) -> None:
                assert states is not None
                states[i] = token_rows(h, e, content_only=content_only)

        vectors, split = self.split_pass(texts, heads, spans, [layers], each)
        return vectors, split[layers], states

    def split_pass(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        layers: Sequence[int],
        each: Callable[[int, npt.NDArray[np.float32], Any], None] | None = None,
    ) -> tuple[Vectors, dict[int, list[Vectors]]]:
        """Chunk vectors and, per ``k`` in ``layers``, the split sentence vectors with the last
        ``k`` layers run per sentence (:meth:`embed_split`), from one model run; ``each(i, token
        states, encoding)`` sees text ``i``'s last-layer states. Several ``k`` serve the lab."""
        n, dim = len(texts), self.dimension
        sessions = {k: self._layer_sessions(k) for k in layers}
        out = np.empty((n, dim), dtype=np.float32)
        got = {k: [np.zeros((0, dim), dtype=np.float32)] * n for k in layers}
        if not n:
            return out, got
        _, normalize = self._pooling
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(n), key=lambda i: len(encodings[i].ids))
        names = [f"hidden_{self.layers - k}" for k in layers]
        for b in range(0, n, self.batch_size):
            idx = order[b : b + self.batch_size]
            hidden, mask, entering = self._hidden_and([encodings[i] for i in idx], names)
            out[idx] = self._pool(hidden, mask)
            counts: list[int] = []
            blocks: list[tuple[int, npt.NDArray[np.int64]]] = []
            for row, i in enumerate(idx):
                if each is not None:
                    each(i, hidden[row], encodings[i])
                own = _split_blocks(encodings[i], heads[i], spans[i])
                counts.append(len(own))
                blocks.extend((row, rows) for rows in own)
            ends = np.cumsum(counts)
            for k, states in zip(layers, entering, strict=True):
                pooled = self._run_blocks(states, blocks, sessions[k], normalize)
                for i, end, m in zip(idx, ends, counts, strict=True):
                    got[k][i] = pooled[end - m : end]
        return out, got

    def _run_blocks(
        self,
        states: npt.NDArray[np.float32],
        blocks: Sequence[tuple[int, npt.NDArray[np.int64]]],
        sessions: Sequence[Any],
        normalize: bool,
    ) -> Vectors:
        """Each block's rows of ``states`` (one batch's states entering the last layers) through
        ``sessions`` (those layers) alone, mean-pooled over its rows: batched by length."""
        dim = states.shape[-1]
        pooled = np.empty((len(blocks), dim), dtype=np.float32)
        order = sorted(range(len(blocks)), key=lambda j: len(blocks[j][1]))
        # Small batches of blocks run faster per token here than large ones (300 SciFact
        # abstracts, 3,052 blocks, one layer: 8 a run 4.2-4.3 s, 64 a run 6.1-6.2 s;
        # docs/benchmarks.md): a few short blocks' activations stay in cache.
        for b in range(0, len(order), _BLOCK_BATCH):
            part = order[b : b + _BLOCK_BATCH]
            lengths = np.asarray([len(blocks[j][1]) for j in part], dtype=np.int32)
            x = np.zeros((len(part), int(lengths.max()), dim), dtype=np.float32)
            for r, j in enumerate(part):
                row, rows = blocks[j]
                x[r, : len(rows)] = states[row, rows]
            for session in sessions:
                x = session.run(["out"], self._layer_feed(session, x, lengths))[0]
            mask = (np.arange(x.shape[1])[None, :] < lengths[:, None]).astype(np.float32)[:, :, None]
            pooled[part] = (x * mask).sum(axis=1) / lengths[:, None]
        return l2_normalize(pooled) if normalize else pooled

    @staticmethod
    def _layer_feed(
        session: Any, x: npt.NDArray[np.float32], lengths: npt.NDArray[np.int32]
    ) -> dict[str, Any]:
        feed: dict[str, Any] = {"hidden": x}
        for inp in session.get_inputs():
            if inp.name == "mask_index":
                feed["mask_index"] = lengths
            elif inp.name == "attention_mask":
                feed["attention_mask"] = (np.arange(x.shape[1])[None, :] < lengths[:, None]).astype(np.int64)
        return feed

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
