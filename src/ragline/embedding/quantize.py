"""Dynamic int8 quantisation of a BERT-family ONNX graph, as the reader and the embedder ship it.

Per-channel int8 MatMul weights (one scale per output column) and the word-embedding table stored
as int8 rows with one float scale each. ``quantize_dynamic`` alone quantises a Gather's table with
one scale for all 30,522 rows, whose ranges differ; that table was most of int8's loss on the
reader (docs/benchmarks.md, "Span quality at int8 speed")::

    quantize_int8(Path("model.onnx"), Path("model-int8.onnx"))
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ragline.embedding.tokens import absmax_int8
from ragline.errors import EmbeddingError

# What quantize_int8 does, recorded beside what it wrote (reader.json, the embedder's model id).
QUANTIZATION: dict[str, Any] = {
    "method": "onnxruntime quantize_dynamic",
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": False,
    "nodes_excluded": ["word embedding Gather (quantised per row instead)"],
    "word_embeddings": "int8, one scale per row: Gather(int8) -> Cast -> Mul(Gather(scale))",
}
WORD_EMBEDDINGS = "word_embeddings.weight"


def quantize_int8(raw: Path, target: Path, *, what: str = "graph") -> None:
    """Quantise the fp32 graph ``raw`` to int8 at ``target`` (written atomically) as
    :data:`QUANTIZATION` says; ``what`` names the graph in errors."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(raw)).graph
    tables = {i.name for i in graph.initializer if i.name.endswith(WORD_EMBEDDINGS)}
    lookups = [n.name for n in graph.node if n.op_type == "Gather" and n.input[0] in tables]
    if len(lookups) != 1:
        raise EmbeddingError(
            f"expected one word-embedding lookup (an initializer named *{WORD_EMBEDDINGS}) in {raw}, "
            f"found {len(lookups)}; the {what} must be a BERT encoder exported by ragline"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / "q.onnx"
        quantize_dynamic(
            str(raw),
            str(staged),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=lookups,
            # ORT-fused graphs (Attention, SkipLayerNormalization) defeat the quantiser's shape
            # inference; every tensor it cannot type is float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        done = Path(tmp) / "done.onnx"
        _quantize_rows(staged, done, lookups[0])
        os.replace(done, target)


def _quantize_rows(src: Path, dst: Path, lookup: str) -> None:
    """Replace the fp32 table of Gather node ``lookup`` with int8 rows and one scale per row."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    node = next(n for n in graph.node if n.op_type == "Gather" and n.name == lookup)
    table = next(i for i in graph.initializer if i.name == node.input[0])
    # Symmetric: a row's largest magnitude maps to 127, as token states are packed.
    rows, scale = absmax_int8(numpy_helper.to_array(table))
    scale = scale[:, None]
    # "_rows"/"_rowscale": quantize_dynamic may already have used "<table>_scale" (fused graphs).
    name, ids, out = table.name, node.input[1], node.output[0]
    graph.initializer.remove(table)
    graph.initializer.extend(
        [
            numpy_helper.from_array(rows, f"{name}_rows"),
            numpy_helper.from_array(scale, f"{name}_rowscale"),
        ]
    )
    at = list(graph.node).index(node)
    graph.node.remove(node)
    for k, new in enumerate(
        [
            helper.make_node("Gather", [f"{name}_rows", ids], [f"{out}_int8"], name=f"{lookup}_int8"),
            helper.make_node(
                "Cast", [f"{out}_int8"], [f"{out}_float"], to=TensorProto.FLOAT, name=f"{lookup}_cast"
            ),
            helper.make_node("Gather", [f"{name}_rowscale", ids], [f"{out}_scale"], name=f"{lookup}_scale"),
            helper.make_node("Mul", [f"{out}_float", f"{out}_scale"], [out], name=f"{lookup}_dequantize"),
        ]
    ):
        graph.node.insert(at + k, new)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
