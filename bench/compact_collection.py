"""Rewrite a collection in the compact stored forms (issue 26) without running the model: every
source is exported (``Store.export_batches``), its token states re-packed with the model's shipped
codebook (``chunking.token_state_format = "pq"``; content words only with ``--tokens content``,
the default, as ``chunking.token_state_tokens``), and written to a new LanceDB collection whose
sentence vectors are float16 (``store.sentence_vector_dtype``); then the indexes are built as
ingest's ``finalize`` builds them. Reports bytes per chunk before and after.

The stored int8 states are what gets quantised (a cold ingest quantises the model's float32 ones;
the int8 step errs by at most half of 1/127 of a token's largest component).

    .venv/bin/python bench/compact_collection.py /tmp/compact-base/collections/beir-scifact \\
        /tmp/compact-data/collections/beir-scifact
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ragline.embedding.onnx import OnnxEmbedder
from ragline.embedding.tokens import PackedTokens, codebook_for, content_tokens, unpack_tokens
from ragline.store.lance import LanceStore


def du(path: Path) -> int:
    return int(
        subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument(
        "--tokens", choices=["all", "content"], default="content", help="chunking.token_state_tokens"
    )
    args = ap.parse_args(argv)
    tokenizer = OnnxEmbedder()._tokenizer  # the packaged model's, as ingest tokenizes

    def kept(matrix: Any, text: str) -> Any:
        """Content words' rows, as ingest keeps them with token_state_tokens = "content"."""
        if args.tokens == "all":
            return matrix
        enc = tokenizer.encode(text)
        words = [w for w, s in zip(enc.tokens, enc.special_tokens_mask, strict=True) if not s]
        return matrix[content_tokens(words)] if len(words) == len(matrix) else matrix

    meta = json.loads((args.src / "collection.json").read_text(encoding="utf-8"))
    dim, model_id = int(meta["dimension"]), str(meta["model_id"])
    book = codebook_for(model_id)
    if book is None:
        raise SystemExit(f"no codebook ships for {model_id}")
    if args.dst.exists():
        shutil.rmtree(args.dst)
    old = LanceStore(args.src, dimension=dim, model_id=model_id)
    new = LanceStore(args.dst, dimension=dim, model_id=model_id, sentence_vector_dtype="float16")
    chunks = 0
    for b in old.export_batches():
        states = b.token_states
        if states is not None:
            states = [
                PackedTokens.of(kept(unpack_tokens(t.blob, dim), c.embed_text), book)
                if isinstance(t, PackedTokens) and t.blob
                else t
                for t, c in zip(states, b.chunks, strict=True)
            ]
        new.upsert([replace(b, token_states=states)])
        chunks += len(b.chunks)
    new.finalize()
    before, after = du(args.src), du(args.dst)
    print(
        json.dumps(
            {
                "chunks": chunks,
                "before_bytes": before,
                "after_bytes": after,
                "before_per_chunk": round(before / chunks),
                "after_per_chunk": round(after / chunks),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
