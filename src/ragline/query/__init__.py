"""Query processing: the pure, testable stages that run on a question before retrieval.

Lives here: RM3 pseudo-relevance feedback for keyword search (``prf``) and Rocchio feedback for
the dense side (``vector_prf``), automatic (rule-based) extraction of metadata filters validated
against the collection schema (``auto_filters``), LLM query transforms with offline fallbacks —
multi-query/RAG-Fusion, HyDE, decomposition, LLM filters — (``llm``), and routing by question type
plus an adaptive top-k cut (``router``).

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.text``,
``ragline.store.filters``, ``ragline.store.base``, ``ragline.generation.base``,
``ragline.embedding.base`` (``Vectors``).

Example::

    from ragline.query import classify, PROFILES, extract_filters, multi_query

    found = extract_filters("reports about solar since 2020", store.metadata_fields(),
                            values={"doc_type": ["report", "memo"]}, year_field="year")
    profile = PROFILES[classify(found.question)]
    queries = multi_query(chat, found.question, n=3)   # chat=None -> [found.question]
"""

from ragline.query.auto_filters import Extracted, extract_filters
from ragline.query.llm import decompose, hyde, llm_filters, multi_query, parse_list, validate_filter
from ragline.query.prf import PRFKeywordExpander, expand_query, term_weights
from ragline.query.router import (
    PROFILES,
    ROUTES,
    Route,
    RouteProfile,
    adaptive_k,
    classify,
    classify_llm,
    split_question,
)

__all__ = [
    "PROFILES",
    "ROUTES",
    "Extracted",
    "PRFKeywordExpander",
    "Route",
    "RouteProfile",
    "adaptive_k",
    "classify",
    "classify_llm",
    "decompose",
    "expand_query",
    "extract_filters",
    "hyde",
    "llm_filters",
    "multi_query",
    "parse_list",
    "split_question",
    "term_weights",
    "validate_filter",
]
