"""Rerankers: re-score first-stage hits with a stronger (and slower) relevance model.

Every reranker implements :class:`~ragline.rerank.base.Reranker` (``run(query, hits, top_k)``), one
backend per module: a cross-encoder (``cross_encoder``), ColBERT-style late interaction over the
packaged model's token embeddings (``late_interaction``), listwise LLM ranking (``llm``), Maximal
Marginal Relevance for diversity (``mmr``), time decay (``freshness``) and exact names first
(``identifiers``). ``factory`` builds the
configured one; :class:`~ragline.rerank.base.ChainReranker` runs several in turn.

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.text``,
``ragline.embedding``, ``ragline.generation.base``.
"""

from ragline.rerank.base import ChainReranker, Reranker, reorder, rescore
from ragline.rerank.cross_encoder import CrossEncoderReranker
from ragline.rerank.factory import RerankConfig, make_reranker
from ragline.rerank.freshness import FreshnessReranker, decay
from ragline.rerank.identifiers import IdentifierReranker
from ragline.rerank.late_interaction import LateInteractionReranker, maxsim, maxsim_batch
from ragline.rerank.llm import LLMReranker, parse_permutation
from ragline.rerank.mmr import MMRReranker, mmr_order

__all__ = [
    "ChainReranker",
    "CrossEncoderReranker",
    "FreshnessReranker",
    "IdentifierReranker",
    "LLMReranker",
    "LateInteractionReranker",
    "MMRReranker",
    "RerankConfig",
    "Reranker",
    "decay",
    "make_reranker",
    "maxsim",
    "maxsim_batch",
    "mmr_order",
    "parse_permutation",
    "reorder",
    "rescore",
]
