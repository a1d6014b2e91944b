"""The one place retrieval settings become a retriever: the plain retrievers, or the staged
pipeline with its rerankers (shared across collections, since they hold models), each bound to a
collection's store and embedding model.

Example::

    factory = RetrieverFactory(engine_embedder, chat=None, cache_dir=Path("~/.cache/ragline"))
    retriever = factory.retriever(store, embedder, settings.retrieval)
    hits = retriever.run("how do I rotate keys", top_k=5)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.embedding.base import Embedder
from ragline.embedding.tokens import token_model
from ragline.errors import ConfigError
from ragline.generation.base import ChatModel
from ragline.rerank.base import Reranker
from ragline.retrieval.retrievers import DenseRetriever, HybridRetriever, KeywordRetriever, Retriever
from ragline.settings import RetrievalSettings
from ragline.store.base import Store, token_state_store
from ragline.types import SearchMode

if TYPE_CHECKING:
    from ragline.rerank.late_interaction import LateInteractionReranker

log = logging.getLogger(__name__)


class RetrieverFactory:
    """Builds retrievers and keeps the rerankers it made (their models load on first use).

    ``embedder`` is the configured model, which rerankers without a collection use; ``chat``
    returns the LLM (or None), asked only when a stage needs it.
    """

    def __init__(
        self, embedder: Embedder, *, chat: Callable[[], ChatModel | None], cache_dir: Path | None
    ) -> None:
        self.embedder = embedder
        self.chat = chat
        self.cache_dir = cache_dir
        self._rerankers: dict[str, Reranker] = {}
        self._lock = threading.Lock()

    def retriever(
        self,
        store: Store,
        embedder: Embedder,
        r: RetrievalSettings,
        *,
        mode: SearchMode | None = None,
        summaries: Callable[[], Store | None] = lambda: None,
    ) -> Retriever:
        """The retriever for ``mode`` (default ``r.mode``) over ``store``, embedded by ``embedder``.

        With no optional stage on, hybrid search is the plain fused retriever, so that path pays
        for nothing it does not use; ``summaries`` is asked only by stages that search documents.
        """
        mode = mode or r.mode
        if mode == "dense":
            return DenseRetriever(store, embedder)
        if mode == "keyword":
            return KeywordRetriever(store)
        if mode != "hybrid":
            raise ConfigError(f"search mode {mode!r} is not supported; use dense, keyword or hybrid")
        if not r.stages():
            f = r.fusion
            return HybridRetriever(store, embedder, f.method, f.rrf_k, f.alpha, r.candidate_multiplier)
        from ragline.retrieval.pipeline import PipelineRetriever

        return PipelineRetriever(
            store,
            embedder,
            r,
            chat=self.chat(),
            summaries=summaries() if r.doc_first.enabled or r.query.router else None,
            rerankers=self.rerankers(r, store, embedder),
            field_values=store.field_values,
        )

    def rerankers(
        self, r: RetrievalSettings, store: Store | None = None, embedder: Embedder | None = None
    ) -> list[Reranker]:
        """The rerankers ``r.rerank.stages`` names, in order.

        With ``store`` (a collection embedded by ``embedder``), late interaction reads the token
        states stored there when its model is that embedder (``chunking.token_states``).
        """
        # Imported here: the reranker modules load model runtimes, which plain search never needs.
        from ragline.rerank.factory import RerankConfig, make_reranker
        from ragline.rerank.late_interaction import LateInteractionReranker

        out: list[Reranker] = []
        for kind in r.rerank.stages:
            cfg = RerankConfig.from_settings(kind, r.rerank)
            key = cfg.model_dump_json()
            with self._lock:
                if key not in self._rerankers:
                    made = make_reranker(
                        cfg, embedder=self.embedder, chat=self.chat(), cache_dir=self.cache_dir
                    )
                    if made is None:
                        continue
                    self._rerankers[key] = made
                made = self._rerankers[key]
                if isinstance(made, LateInteractionReranker) and store is not None and embedder is not None:
                    made = self._late_for(made, key, store, embedder)
            out.append(made)
        return out

    def _late_for(
        self, made: LateInteractionReranker, key: str, store: Store, embedder: Embedder
    ) -> LateInteractionReranker:
        """``made`` for one collection: reading its stored token states, and with its own model
        when it has one (``ragline tune embeddings``), since the states are that model's."""
        from ragline.rerank.late_interaction import LateInteractionReranker

        states = token_state_store(store, log, "late interaction encodes every passage itself")
        if made.embedder.model_id == embedder.model_id:
            return made.with_states(states)
        model = token_model(embedder)
        if model is None:
            return made
        own = f"{key}@{embedder.model_id}"
        if own not in self._rerankers:
            self._rerankers[own] = LateInteractionReranker(
                model, batch_size=made.batch_size, weight=made.weight
            )
        twin = self._rerankers[own]
        assert isinstance(twin, LateInteractionReranker)  # stored under this key just above
        return twin.with_states(states)
