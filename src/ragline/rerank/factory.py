"""Build the configured reranker (or chain of rerankers) from a :class:`RerankConfig`.

Example::

    cfg = RerankConfig(kind="cross-encoder", model_path=Path("/models/ms-marco-MiniLM-L6-v2"))
    reranker = make_reranker(cfg, embedder=embedder)
    hits = retriever.run(query, top_k=cfg.candidates)
    hits = reranker.run(query, hits, top_k=5) if reranker else hits[:5]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragline.embedding.base import Embedder
from ragline.embedding.tokens import TokenModel, token_model
from ragline.errors import ConfigError
from ragline.generation.base import ChatModel
from ragline.rerank.base import ChainReranker, Reranker
from ragline.settings import RerankSettings

# One set of defaults: a reranker built here alone runs exactly as the engine's default would.
_R = RerankSettings.model_fields

RerankKind = Literal["none", "cross-encoder", "late-interaction", "llm", "mmr", "freshness", "identifiers"]


class RerankConfig(BaseModel):
    """Which reranker runs after first-stage retrieval, and its options.

    ``candidates`` is how many first-stage hits the caller retrieves and hands to the reranker.
    ``model_path`` is the cross-encoder directory (required for ``cross-encoder``) or, for
    ``late-interaction``, a sentence-transformers model to use instead of the embedder's.
    Unknown keys are rejected, so a misspelt option never silently runs without reranking.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RerankKind = "none"
    model_path: Path | None = None
    mmr_lambda: float = Field(default=_R["mmr_lambda"].default, ge=0.0, le=1.0)
    freshness_field: str = Field(default=_R["freshness_field"].default, min_length=1)
    # Per day: 0.001 halves a score every ln(2) / 0.001 = 693 days.
    freshness_rate: float = Field(default=_R["freshness_rate"].default, ge=0.0, allow_inf_nan=False)
    candidates: int = Field(default=_R["candidates"].default, ge=1, le=10_000)
    # late-interaction: MaxSim's share when interpolated with the first-stage scores (1: alone).
    late_weight: float = Field(default=_R["late_interaction_weight"].default, ge=0.0, le=1.0)
    batch_size: int = Field(default=32, ge=1, le=4096)

    @classmethod
    def from_settings(cls, kind: RerankKind, r: RerankSettings) -> RerankConfig:
        """The configuration of reranker ``kind`` as the settings' rerank group ``r`` describes it."""
        return cls(
            kind=kind,
            model_path=r.cross_encoder_path if kind == "cross-encoder" else None,
            mmr_lambda=r.mmr_lambda,
            freshness_field=r.freshness_field,
            freshness_rate=r.freshness_rate,
            candidates=r.candidates,
            late_weight=r.late_interaction_weight,
        )

    @model_validator(mode="after")
    def _check_model_path(self) -> RerankConfig:
        if self.kind == "cross-encoder" and self.model_path is None:
            raise ValueError(
                "rerank.kind='cross-encoder' needs rerank.model_path: a local cross-encoder model "
                "directory (e.g. a downloaded cross-encoder/ms-marco-MiniLM-L6-v2)"
            )
        return self


def _make_one(
    cfg: RerankConfig, embedder: Embedder, chat: ChatModel | None, cache_dir: Path | None
) -> Reranker | None:
    if cfg.kind == "none":
        return None
    if cfg.kind == "cross-encoder":
        from ragline.rerank.cross_encoder import CrossEncoderReranker

        assert cfg.model_path is not None  # checked by RerankConfig
        return CrossEncoderReranker(cfg.model_path, batch_size=cfg.batch_size)
    if cfg.kind == "late-interaction":
        from ragline.embedding.onnx import OnnxEmbedder
        from ragline.rerank.late_interaction import LateInteractionReranker

        tokens: TokenModel | None
        if cfg.model_path is not None:
            tokens = OnnxEmbedder(cfg.model_path, cache_dir=cache_dir, batch_size=cfg.batch_size)
        else:
            # Share the session already loaded for embedding, when the embedder has token states;
            # otherwise the packaged all-MiniLM-L6-v2.
            tokens = token_model(embedder) or OnnxEmbedder(cache_dir=cache_dir, batch_size=cfg.batch_size)
        return LateInteractionReranker(tokens, batch_size=cfg.batch_size, weight=cfg.late_weight)
    if cfg.kind == "llm":
        from ragline.rerank.llm import LLMReranker

        if chat is None:
            raise ConfigError(
                "rerank.kind='llm' needs an LLM: set llm.base_url and llm.model to an "
                "OpenAI-compatible server"
            )
        return LLMReranker(chat)
    if cfg.kind == "identifiers":
        from ragline.rerank.identifiers import IdentifierReranker

        return IdentifierReranker()
    if cfg.kind == "mmr":
        from ragline.rerank.mmr import MMRReranker

        return MMRReranker(embedder, lambda_=cfg.mmr_lambda)
    from ragline.rerank.freshness import FreshnessReranker

    return FreshnessReranker(cfg.freshness_field, cfg.freshness_rate)


def make_reranker(
    cfg: RerankConfig | Sequence[RerankConfig],
    *,
    embedder: Embedder,
    chat: ChatModel | None = None,
    cache_dir: Path | None = None,
) -> Reranker | None:
    """The reranker ``cfg`` names; None for ``kind="none"``. Nothing is loaded until first use.

    A sequence of configs builds a :class:`ChainReranker` running them in order (``none`` entries
    skipped; a single remaining reranker is returned as is). ``embedder`` serves ``mmr`` and, when
    it is an :class:`~ragline.embedding.onnx.OnnxEmbedder`, ``late-interaction``; ``chat`` is
    required for ``llm``; ``cache_dir`` is where a late-interaction model of its own keeps its
    ONNX export (default ``~/.cache/ragline``).
    """
    if isinstance(cfg, RerankConfig):
        return _make_one(cfg, embedder, chat, cache_dir)
    stages = [r for r in (_make_one(c, embedder, chat, cache_dir) for c in cfg) if r is not None]
    if not stages:
        return None
    return stages[0] if len(stages) == 1 else ChainReranker(stages)
