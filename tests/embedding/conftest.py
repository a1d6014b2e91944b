"""Shared fixtures for the embedding tests.

The ONNX embedder uses the default cache dir (``~/.cache/ragline``), exactly as production does:
the model is exported there once per machine and every later session just loads it.
"""

from __future__ import annotations

import pytest

from ragline.embedding.onnx import OnnxEmbedder

# Varied lengths (not in length order, so length-sorted batching must restore the order), unicode,
# an empty string and one text far beyond the 256-token window.
LONG_TEXT = " ".join(
    f"Paragraph {i}: the retrieval pipeline splits documents into chunks of tokens." for i in range(40)
)
SAMPLE_TEXTS = [
    "How do I rotate the API keys without downtime?",
    "Hi",
    LONG_TEXT,
    "Größe, naïve café — 東京タワーの高さは333メートルです 🚀 Привет, мир! مرحبا",
    "",
    "The quick brown fox jumps over the lazy dog. " * 3,
]


@pytest.fixture(scope="session")
def onnx_embedder() -> OnnxEmbedder:
    emb = OnnxEmbedder()  # default cache dir: the exported graph is reused across sessions
    emb.warm_up()
    return emb


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    return list(SAMPLE_TEXTS)
