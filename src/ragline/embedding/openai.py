"""Embedder backend for any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, vLLM, TEI, Ollama...).

Example::

    emb = OpenAIEmbedder(base_url="http://localhost:8000/v1", model="bge-small", dimension=384)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property

import httpx
import numpy as np

from ragline.embedding.base import Vectors, l2_normalize
from ragline.errors import EmbeddingError

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIEmbedder:
    """Posts batches to ``{base_url}/embeddings``; retries 429/5xx with exponential backoff."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dimension: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_retries: int = 4,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise EmbeddingError(f"embedding.base_url={base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self._dimension = dimension
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.max_retries = max_retries

    @property
    def model_id(self) -> str:
        return f"openai:{self.base_url}:{self.model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._post(["dimension probe"]).shape[1])
        return self._dimension

    @cached_property
    def _client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=self.timeout_s)

    def _post(self, texts: list[str]) -> Vectors:
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            try:
                resp = self._client.post("/embeddings", json={"model": self.model, "input": texts})
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise EmbeddingError(
                        f"embedding endpoint {self.base_url} unreachable after {attempt + 1} tries: {exc}"
                    ) from exc
            else:
                if resp.status_code == 200:
                    return self._parse(resp, len(texts))
                if resp.status_code not in _RETRY_STATUS or attempt == self.max_retries:
                    raise EmbeddingError(
                        f"embedding endpoint {self.base_url} answered {resp.status_code}: "
                        f"{resp.text[:300]}; check embedding.base_url, embedding.model and the API key"
                    )
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse(self, resp: httpx.Response, n: int) -> Vectors:
        try:
            items = sorted(resp.json()["data"], key=lambda d: d["index"])
            vecs = np.asarray([d["embedding"] for d in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"embedding endpoint {self.base_url} sent a malformed response ({exc}): {resp.text[:200]}"
            ) from exc
        if vecs.ndim != 2 or vecs.shape[0] != n:
            raise EmbeddingError(f"embedding endpoint returned {vecs.shape[0]} vectors for {n} inputs")
        if self._dimension is not None and vecs.shape[1] != self._dimension:
            raise EmbeddingError(
                f"embedding endpoint returned {vecs.shape[1]}-d vectors but embedding.dimension="
                f"{self._dimension}; fix the setting"
            )
        return l2_normalize(vecs)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            self._post(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def embed_query(self, text: str) -> Vectors:
        result: Vectors = self._post([text])[0]
        return result
