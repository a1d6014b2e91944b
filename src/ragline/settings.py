"""One typed settings object for the whole engine, validated at start-up.

Sources, highest priority first: keyword arguments, environment variables (``RAGLINE_`` prefix,
``__`` between nested names, e.g. ``RAGLINE_EMBEDDING__BATCH_SIZE=64``), a TOML file
(``ragline.toml`` in the working directory, or the path in ``RAGLINE_CONFIG``), then defaults.
Unknown keys anywhere are rejected, so a misspelt option never silently runs a different setup.

Example::

    from ragline.settings import Settings
    s = Settings(data_dir="/tmp/rl", retrieval={"mode": "keyword"})
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ragline.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingSettings(_Strict):
    """Which embedding model runs, and how."""

    backend: Literal["onnx", "sentence-transformers", "openai"] = "onnx"
    # None means the packaged all-MiniLM-L6-v2 (onnx and sentence-transformers backends).
    model_path: Path | None = None
    # Model name sent to an OpenAI-compatible /v1/embeddings endpoint.
    model: str = "all-MiniLM-L6-v2"
    base_url: str | None = None
    api_key: str | None = None
    batch_size: int = Field(default=32, ge=1, le=4096)
    threads: int = Field(default=2, ge=1, le=256)
    # Needed for the openai backend, whose dimension and tokenizer are unknown until called.
    dimension: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=256, ge=8)
    # onnx backend: "int8" runs a per-channel int8 copy of the model (quantised once from the fp32
    # export, beside it in the cache), each text alone: about twice fp32's speed, nDCG@10 within
    # 0.001 of fp32 on SciFact and NFCorpus test (docs/benchmarks.md, "int8 embedder"). Vectors
    # differ (cosine ~0.99), so a collection is searched at the precision it was built with: "auto"
    # builds new collections at int8 (onnx; other backends run their model as is) and opens those
    # built before 2026-12-06 with the fp32 graph; an explicit "fp32" or "int8" is held to.
    precision: Literal["auto", "fp32", "int8"] = "auto"
    timeout_s: float = Field(default=60.0, gt=0)
    cache: bool = True
    # Micro-batching (onnx): queries arriving within this many ms go through the model as one
    # batch of up to query_batch_max. 0 = off: on 2 cores it gave 15-100 % more queries/s at 8-16
    # concurrent clients, within a shared machine's noise; light traffic pays the window
    # (bench/microbatch.py, measured at fp32). Try 3 for a server with many concurrent clients.
    # At int8 a batch's texts still run one by one (a vector must not depend on its batch mates),
    # so only the hand-off is shared.
    query_batch_window_ms: float = Field(default=0.0, ge=0, le=100)
    query_batch_max: int = Field(default=16, ge=1, le=256)

    @model_validator(mode="after")
    def _check_backend(self) -> EmbeddingSettings:
        if self.backend == "openai" and not self.base_url:
            raise ValueError(
                "embedding.backend='openai' needs embedding.base_url (e.g. http://localhost:8000/v1)"
            )
        if self.precision == "int8" and self.backend != "onnx":
            raise ValueError(
                f"embedding.precision = {self.precision!r} needs embedding.backend = 'onnx' (the "
                f"{self.backend!r} backend runs its model as it is): set precision = 'auto'"
            )
        return self


class ChunkingSettings(_Strict):
    """How documents are cut into retrievable chunks (sizes in embedding-model tokens)."""

    # semantic: split where the embedding similarity of neighbouring sentences drops;
    # sentence: one sentence per chunk (sentence-window retrieval: answers expand a window).
    strategy: Literal["recursive", "structure", "parent-child", "semantic", "sentence"] = "structure"
    chunk_size: int = Field(default=200, ge=16)
    chunk_overlap: int = Field(default=32, ge=0)
    # Parent sections for parent-child chunking (tokens).
    parent_size: int = Field(default=1024, ge=32)
    # Semantic chunking: a boundary goes where neighbour similarity falls below this percentile
    # of the document's similarities (Kamradt's "semantic chunking"; lower = fewer, longer chunks).
    semantic_percentile: float = Field(default=20.0, gt=0.0, lt=100.0)
    # Sentence chunking: sentences shorter than this many tokens join the next one.
    sentence_min_tokens: int = Field(default=8, ge=1)
    # Also index one vector per sentence of each chunk, searched beside the chunk vectors
    # (retrieval.sentences): "separate" embeds "header + sentence" as its own text (about twice the
    # ingest embedding work; the measured quality gain), "late" pools the chunk's own token states
    # (no extra model run, smaller gain), "mapped" is "late" put through a linear map towards the
    # separate vectors shipped for the model (ragline.embedding.sentence_map, fitted on the SQuAD
    # calibration articles; one model run: 0.91 of raw ingest throughput vs 0.43, nDCG@10 -0.0007 /
    # -0.0022 on SciFact train / NFCorpus dev but -0.0075 / -0.0008 on their test splits, so not the
    # default; the extractive answerer reads stored "separate", "mapped" and "split" vectors, not
    # "late" ones), "split" runs the chunk's own pass and then its last split_layers layers once
    # per sentence over the sentence's block of states ([CLS], header, sentence, [SEP]): close to
    # "separate" for a fraction of its extra work (ONNX backend with mean pooling; other
    # embedders store "separate"; k=1: nDCG@10 +0.0002 / -0.0014 on SciFact train / NFCorpus dev,
    # cold ingest at 0.77 of the raw model (separate: 0.40), but -0.0035 on SciFact test (+0.0006
    # NFCorpus), outside the -0.003 the default may lose, so not the default), "off" stores none.
    # See ragline.embedding.sentence_vectors and docs/benchmarks.md (issue 26).
    sentence_vectors: Literal["off", "late", "mapped", "split", "separate"] = "separate"
    # "split" sentence vectors: how many of the model's last layers run per sentence (1 to the
    # model's layer count, checked when embedding; all of them approaches "separate" up to the
    # sentence tokens' position ids). More layers: closer to "separate", more ingest work.
    split_layers: int = Field(default=1, ge=1, le=64)
    # Keep each chunk's contextual token embeddings from its own model run (int8, about 68 KB for
    # a 176-token chunk with a 384-d model), so late-interaction reranking reads them instead of
    # running the model over the candidates at query time. "auto": when the embedding backend
    # gives them (onnx); "on" insists (an error with another backend); "off" stores none.
    token_states: Literal["auto", "on", "off"] = "auto"
    # How token states are stored: "pq" product-quantises them with the model's shipped codebook
    # (32 bytes a token instead of 388; within 0.001 nDCG@10 of int8 on the tuning splits);
    # models without a shipped codebook store "int8". Collections may mix both; either reads back.
    token_state_format: Literal["int8", "pq"] = "pq"
    # Whose token states are kept: "content" leaves out stop words and punctuation (about a third
    # of a passage's tokens: +0.0006 / -0.0019 nDCG@10 on SciFact train / NFCorpus dev, for 2 KB a
    # chunk less), "all" keeps every wordpiece. See docs/benchmarks.md (issue 26).
    token_state_tokens: Literal["all", "content"] = "content"

    @model_validator(mode="after")
    def _check_sizes(self) -> ChunkingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunking.chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunking.chunk_size ({self.chunk_size})"
            )
        return self


class StoreSettings(_Strict):
    """The store every collection lives in (``ragline.store.factory.make_store``)."""

    # "lance": embedded LanceDB (ANN index above ann_threshold, native BM25). "memory": the exact,
    # in-process twin (ragline.store.memory), for tests and small collections; the ann_* settings
    # do not apply to it. "milvus": a Milvus server or Milvus Lite file at ``uri``
    # (ragline.store.milvus; ann_ef and ann_ef_construction tune its HNSW index).
    backend: Literal["lance", "memory", "milvus"] = "lance"
    # The milvus backend's server: a local file ending in .db (Milvus Lite, in-process) or
    # http(s)://host:19530 (Milvus standalone/distributed, Zilliz Cloud). Every collection gets its
    # own Milvus collections, named in its collection.json.
    uri: str | None = None
    # Milvus credentials (also RAGLINE_STORE__TOKEN, RAGLINE_STORE__USER, RAGLINE_STORE__PASSWORD):
    # an API token ("user:password" or a Zilliz key), or a user and password; never both.
    token: SecretStr | None = None
    user: str | None = None
    password: SecretStr | None = None
    # Above this many chunks an ANN index is built; below it, search is exact.
    ann_threshold: int = Field(default=20_000, ge=256)
    ann_ef: int = Field(default=96, ge=8)
    ann_partitions: int | None = Field(default=None, ge=1)
    # HNSW build-time beam width (LanceDB default 300): 100 builds 2.1x faster at 100k chunks, recall
    # 0.997 vs 0.998 on real SciFact vectors (bench/ann_build.py, bench/ann_recall.py).
    ann_ef_construction: int = Field(default=100, ge=16, le=1000)
    # Candidates re-scored with full-precision vectors, as a multiple of the rows asked for (0: none,
    # with the IVF_HNSW_SQ index this store builds; another index type is always re-scored).
    ann_refine_factor: int = Field(default=2, ge=0, le=50)
    # ...for dense searches of at most this many rows. Deeper ones (the hybrid default's candidate
    # lists: 120 at top 10) keep the index's scalar-quantised cosines: fusion and the re-rankers
    # re-order them anyway, and re-reading factor x n full vectors was half the dense search's
    # cost (100k chunks: p50 39.0 -> 34.4 ms; nDCG@10 with the ANN path forced on SciFact train /
    # NFCorpus dev within 0.0006, docs/benchmarks.md).
    ann_refine_max_rows: int = Field(default=100, ge=0)
    # Unfiltered dense searches above ann_threshold: "faiss" searches an in-memory HNSW graph of the
    # vectors (built by finalize beside LanceDB's index, for the table version it indexes; 2.2 ms
    # instead of 8.6 ms at 100k chunks, higher recall, docs/benchmarks.md), "lance" LanceDB's. Filtered
    # searches, and searches of a table changed since the last finalize, use LanceDB's either way.
    # Opt-in, not the default: finalize rebuilds the whole graph whenever the table changed (~40 s
    # at 100k chunks, ~27 min at 1M, where LanceDB's optimize folds new rows into its index), each
    # searching process holds it in memory (1.8 GB at 1M), and the service's queries always carry
    # an access filter, so they never reach it.
    ann_engine: Literal["lance", "faiss"] = "lance"
    # Also build the sentence vectors' own ANN index above ann_threshold: only
    # retrieval.sentence_search = "index" searches it (the default scores the candidates'
    # sentences exactly instead); on SciFact indexed as above the threshold it took 2.7 KB a chunk
    # and 12 of finalize's 17 s (docs/benchmarks.md).
    sentence_index: bool = False
    # Rows written per atomic commit during ingest.
    commit_chunks: int = Field(default=4096, ge=1)
    # Seconds after which a reader notices commits made by other processes (replicas sharing the
    # data directory). None: only this process's own writes are seen, with no per-query check.
    read_consistency_s: float | None = Field(default=None, ge=0)
    # Days an old version of a collection is kept after it is replaced, so `ragline restore` can
    # roll an upsert back; each ingest's optimize deletes older ones (snapshots stay until
    # untagged). LanceDB only; 0 keeps no history (and fetches racing a write fall back to a scan).
    retention_days: float = Field(default=7.0, ge=0)
    # Sentence vectors' stored precision in a new LanceDB collection (half the bytes as float16,
    # the same ranking on the tuning splits); an existing collection keeps the type it was made with.
    sentence_vector_dtype: Literal["float32", "float16"] = "float16"
    # Above ann_threshold (LanceDB): megabytes of memory for the columns a query reads, held per
    # table fragment in this order while they fit: chunk ids, texts, sentence vectors (as stored),
    # vectors, token states. One budget for the process: every collection's held columns count
    # against it. Searches then return row ids alone, and a query scores its candidates'
    # sentences, smooths, fetches its head and re-ranks without row reads (100k synthetic chunks:
    # ~910 MB, p50 31.3 -> 21.9 ms interleaved; 1M chunks: ids and texts; docs/benchmarks.md).
    # Read on a version's first query, only for fragments not held yet; a column estimated past
    # what is left is read from disk per query, as with 0. Below the threshold the exact search
    # holds them anyway.
    held_columns_mb: int = Field(default=1024, ge=0)

    @field_validator("backend", mode="before")
    @classmethod
    def _known_backend(cls, value: object) -> object:
        if value not in ("lance", "memory", "milvus"):
            raise ValueError(
                f"{value!r} is not a store backend; use 'lance' (embedded LanceDB, the default), "
                "'memory' (the exact in-process twin) or 'milvus' (a Milvus server or Milvus Lite file)"
            )
        return value

    @model_validator(mode="after")
    def _check_milvus(self) -> StoreSettings:
        server = self.uri is not None and self.uri.startswith(("http://", "https://", "tcp://"))
        if self.backend != "milvus":
            if self.uri is not None or self.token or self.user or self.password:
                raise ValueError(
                    "store.uri, store.token, store.user and store.password are for store.backend = "
                    f"'milvus', but store.backend is {self.backend!r}; remove them or set the backend"
                )
            return self
        if self.uri is None or not (server or self.uri.endswith(".db")):
            raise ValueError(
                f"store.backend = 'milvus' needs store.uri: a local file ending in .db for Milvus Lite "
                f"(e.g. '.ragline/milvus.db') or 'http://host:19530' for a Milvus server; got {self.uri!r}"
            )
        if self.token and (self.user or self.password):
            raise ValueError("give store.token or store.user and store.password, not both")
        if bool(self.user) != bool(self.password):
            raise ValueError("store.user and store.password go together; give both (or store.token)")
        if not server and (self.token or self.user):
            raise ValueError(
                f"store.uri {self.uri!r} is a Milvus Lite file, which has no authentication; "
                "remove store.token/user/password or point store.uri at a Milvus server"
            )
        return self


class IngestSettings(_Strict):
    """How ``ragline ingest`` runs (``ragline.ingest.ray`` for the distributed mode)."""

    # None: in-process. "auto": a Ray cluster this machine already belongs to (RAY_ADDRESS or a
    # local ``ray start``), else a local Ray started for the ingest; otherwise a cluster's address
    # ("host:6379" or "ray://host:10001"). Parsing and chunking then run as Ray tasks and
    # embedding on Ray actors; this process stays the single writer of the store.
    ray_address: str | None = None
    # Embedding actors, each holding one copy of the model. None: one per alive node.
    ray_workers: int | None = Field(default=None, ge=1, le=1024)
    # Retries of a parse task and restarts of an embedding actor whose process or node died (Ray's
    # max_retries / max_restarts); past them the ingest stops with a DistributedError.
    ray_max_retries: int = Field(default=3, ge=0, le=100)


RerankerName = Literal["cross-encoder", "late-interaction", "llm", "mmr", "freshness", "identifiers"]
# Late interaction, then the hits that spell a setting's or code's name the query asks about first
# (rerank/identifiers.py: no model, nothing happens for a query without such a name).
_DEFAULT_RERANK: tuple[RerankerName, ...] = ("late-interaction", "identifiers")
# Where ingest keeps no token states: only the reranker that needs no model.
_DEFAULT_RERANK_WITHOUT_STATES: tuple[RerankerName, ...] = ("identifiers",)


# Marks a field that turns an optional stage on (when truthy and not "off"): the engine derives
# the staged pipeline from these marks, so a new stage cannot be left out of a hand list.
_STAGE: dict[str, Any] = {"stage": True}


def _is_on(value: object) -> bool:
    return bool(value) and value != "off"


# Why each default was chosen, with the figures, is in docs/benchmarks.md (settings chosen on the
# BEIR train/dev splits); comments here say what a setting does, not what it scored.


class FusionSettings(_Strict):
    """How the dense and keyword lists become one ranking."""

    # zscore: convex combination of z-normalised scores; rrf: reciprocal rank fusion; weighted:
    # min-max normalised scores, alpha to the dense side.
    method: Literal["rrf", "weighted", "zscore"] = "zscore"
    # RRF constant from Cormack et al. (2009); 60 is the paper's value.
    rrf_k: int = Field(default=60, ge=1)
    # Weight of the dense side (1 - alpha goes to keyword) in weighted and zscore fusion.
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)


class KeywordFeedbackSettings(_Strict):
    """RM3 pseudo-relevance feedback on the keyword side (Abdul-Jaleel et al. 2004)."""

    enabled: bool = Field(default=True, json_schema_extra=_STAGE)
    docs: int = Field(default=10, ge=1, le=100)
    terms: int = Field(default=10, ge=1, le=100)
    weight: float = Field(default=0.5, gt=0.0, le=1.0)
    # Expand only queries with at most this many content words (None: every query). Short queries
    # lack the documents' vocabulary; long ones drift when expanded (Cronen-Townsend et al. 2004).
    max_query_terms: int | None = Field(default=6, ge=1, le=1000)


class DenseFeedbackSettings(_Strict):
    """Rocchio feedback on the dense side (Rocchio 1971; Li et al., TOIS 2023): the query vector
    moves towards the embeddings of the first pass's best fused hits, then searches again."""

    enabled: bool = Field(default=True, json_schema_extra=_STAGE)
    docs: int = Field(default=5, ge=1, le=100)
    beta: float = Field(default=1.0, gt=0.0, le=10.0)
    # As the keyword side's: only queries of at most this many content words.
    max_query_terms: int | None = Field(default=6, ge=1, le=1000)
    # Where the feedback list comes from once a collection has ANN indexes (above
    # store.ann_threshold): "candidates" scores the stored vectors of the chunks the first dense
    # and keyword searches found by exact cosine with the moved vector (one row read); "index"
    # searches the ANN index again (~8.5 ms at 100k chunks, docs/benchmarks.md). Below the
    # threshold the exact scan runs either way.
    search: Literal["candidates", "index"] = "candidates"


class FeedbackSettings(_Strict):
    """Pseudo-relevance feedback: a second search per side, built from the first pass's hits."""

    keyword: KeywordFeedbackSettings = KeywordFeedbackSettings()
    dense: DenseFeedbackSettings = DenseFeedbackSettings()
    # How a feedback search enters fusion: "replace" its side's first-pass list (classic RM3), or
    # "add" a list beside it, the side's weight split evenly between the two.
    fusion: Literal["replace", "add"] = "add"


class SmoothingSettings(_Strict):
    """Score regularization (Diaz, CIKM 2005): each of the fused list's top ``docs`` documents (by
    its best chunk's vector) moves its score ``weight`` of the way towards the cosine-weighted mean
    score of its ``neighbours`` nearest documents among them. Corpora of single-answer questions
    may turn it off (see docs/benchmarks.md)."""

    enabled: bool = Field(default=True, json_schema_extra=_STAGE)
    docs: int = Field(default=30, ge=2, le=1000)
    neighbours: int = Field(default=5, ge=1, le=100)
    weight: float = Field(default=0.2, ge=0.0, le=1.0)


class QuerySettings(_Strict):
    """Query processing before the search. The LLM ones fall back to their offline counterparts."""

    # Metadata filters read from the question: "rules" (years, ranges, versions, declared
    # document types) or "llm" (falls back to rules without an LLM).
    auto_filters: Literal["off", "rules", "llm"] = Field(default="off", json_schema_extra=_STAGE)
    # Fact / summary / comparison questions get different top-k and document- vs chunk-level search.
    router: bool = Field(default=False, json_schema_extra=_STAGE)
    adaptive_k: bool = Field(default=False, json_schema_extra=_STAGE)
    multi_query: int = Field(default=0, ge=0, le=8, json_schema_extra=_STAGE)
    hyde: bool = Field(default=False, json_schema_extra=_STAGE)
    decompose: bool = Field(default=False, json_schema_extra=_STAGE)


class DocFirstSettings(_Strict):
    """Hierarchical retrieval: documents first (by their summaries), then chunks within them."""

    enabled: bool = Field(default=False, json_schema_extra=_STAGE)
    candidates: int = Field(default=20, ge=1, le=1000)


class RerankSettings(_Strict):
    """The one reranker configuration: which rerankers run, in order, over the first
    ``candidates`` hits, and each one's options. The default, late interaction, reads the token
    states ingest kept (``chunking.token_states``); without them (an embedding backend other than
    onnx) it is left out. Exact names (``identifiers``) follow it in both defaults."""

    stages: list[RerankerName] = Field(
        default_factory=lambda: list(_DEFAULT_RERANK), json_schema_extra=_STAGE
    )
    candidates: int = Field(default=30, ge=1, le=1000)
    cross_encoder_path: Path | None = None
    # Late interaction's share when its MaxSim scores are interpolated with the first-stage
    # scores, both z-normalised over the candidates (1: rank by MaxSim alone).
    late_interaction_weight: float = Field(default=0.4, ge=0.0, le=1.0)
    mmr_lambda: float = Field(default=0.7, ge=0.0, le=1.0)
    # Freshness decay: score * exp(-rate * age_days) on a date metadata field.
    freshness_field: str = "date"
    freshness_rate: float = Field(default=0.001, ge=0.0)


# The flat keys of releases before the per-stage groups, still read (TOML, environment, keyword
# arguments, per-collection overrides): legacy key -> its path in the grouped settings.
LEGACY_RETRIEVAL_KEYS: dict[str, tuple[str, ...]] = {
    "rrf_k": ("fusion", "rrf_k"),
    "alpha": ("fusion", "alpha"),
    "prf": ("feedback", "keyword", "enabled"),
    "prf_docs": ("feedback", "keyword", "docs"),
    "prf_terms": ("feedback", "keyword", "terms"),
    "prf_weight": ("feedback", "keyword", "weight"),
    "prf_max_terms": ("feedback", "keyword", "max_query_terms"),
    "dense_prf": ("feedback", "dense", "enabled"),
    "dense_prf_docs": ("feedback", "dense", "docs"),
    "dense_prf_beta": ("feedback", "dense", "beta"),
    "dense_prf_max_terms": ("feedback", "dense", "max_query_terms"),
    "prf_fusion": ("feedback", "fusion"),
    "smooth_docs": ("smoothing", "docs"),
    "smooth_neighbours": ("smoothing", "neighbours"),
    "smooth_weight": ("smoothing", "weight"),
    "auto_filters": ("query", "auto_filters"),
    "router": ("query", "router"),
    "adaptive_k": ("query", "adaptive_k"),
    "multi_query": ("query", "multi_query"),
    "hyde": ("query", "hyde"),
    "decompose": ("query", "decompose"),
    "doc_candidates": ("doc_first", "candidates"),
    "rerank_candidates": ("rerank", "candidates"),
    "cross_encoder_path": ("rerank", "cross_encoder_path"),
    "late_interaction_weight": ("rerank", "late_interaction_weight"),
    "mmr_lambda": ("rerank", "mmr_lambda"),
    "freshness_field": ("rerank", "freshness_field"),
    "freshness_rate": ("rerank", "freshness_rate"),
}
# Legacy keys whose name is now a group: the old scalar is the group's main field.
_LEGACY_SCALAR_GROUPS: dict[str, tuple[str, ...]] = {
    "fusion": ("fusion", "method"),
    "smoothing": ("smoothing", "enabled"),
    "doc_first": ("doc_first", "enabled"),
    "rerank": ("rerank", "stages"),
}


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any, legacy: str) -> None:
    node = tree
    for name in path[:-1]:
        child = node.get(name)
        if child is None:
            child = node[name] = {}
        elif isinstance(child, BaseModel):
            child = node[name] = child.model_dump(exclude_unset=True)
        if not isinstance(child, dict):
            # ValueError, not TypeError: pydantic turns only ValueError into a validation message.
            raise ValueError(f"retrieval.{name} must be a table of settings, got {child!r}")  # noqa: TRY004
        node = child
    leaf = path[-1]
    if leaf in node and node[leaf] != value:
        raise ValueError(
            f"retrieval.{legacy} = {value!r} contradicts retrieval.{'.'.join(path)} = {node[leaf]!r}; "
            f"keep only retrieval.{'.'.join(path)}"
        )
    node[leaf] = value


def group_retrieval_keys(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (retrieval settings as a mapping) with legacy flat keys moved into their groups.

    Example::

        group_retrieval_keys({"prf": False, "rerank": ["mmr"]})
        # {"feedback": {"keyword": {"enabled": False}}, "rerank": {"stages": ["mmr"]}}
    """
    out: dict[str, Any] = {}
    legacy: list[tuple[str, tuple[str, ...], Any]] = []
    for key, value in data.items():
        if key in LEGACY_RETRIEVAL_KEYS:
            legacy.append((key, LEGACY_RETRIEVAL_KEYS[key], value))
        elif key in _LEGACY_SCALAR_GROUPS and not isinstance(value, (dict, BaseModel)):
            legacy.append((key, _LEGACY_SCALAR_GROUPS[key], value))
        else:
            out[key] = value
    for key, path, value in legacy:
        _set_path(out, path, value, key)
    return out


class RetrievalSettings(_Strict):
    """Search defaults, one group per stage; per-call arguments override them.

    Example (TOML)::

        [retrieval]
        top_k = 10
        [retrieval.fusion]
        method = "rrf"
        [retrieval.rerank]
        stages = ["late-interaction", "mmr"]

    The flat keys of earlier releases (``prf = false``, ``rerank = ["mmr"]``, ``fusion = "rrf"``)
    are still read: :data:`LEGACY_RETRIEVAL_KEYS` says where each one now lives.
    """

    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    top_k: int = Field(default=10, ge=1, le=10_000)
    # Each retriever fetches this many times top_k candidates before fusion.
    candidate_multiplier: int = Field(default=4, ge=1, le=100)
    # The dense side also searches sentence vectors (chunking.sentence_vectors): a chunk scores
    # its best sentence's cosine, fused as a list beside the chunk vectors' (Dense X Retrieval).
    sentences: bool = Field(default=True, json_schema_extra=_STAGE)
    # Where that sentence list comes from: "candidates" scores the sentence vectors of the chunks
    # the dense and keyword searches found, exactly (held in memory below store.ann_threshold, one
    # row read above it); "index" searches every sentence: the exact scan in memory below the
    # threshold (SciFact 3-5 ms a query), the sentence vectors' own HNSW index above it (18 of the
    # 46 ms p50 at 100k chunks; built only with store.sentence_index, else the column is scanned).
    # "candidates" loses only sentences neither search found: nDCG@10 at the interactive top 10
    # equal on SciFact train / NFCorpus dev, -0.002 / -0.0006 at the evaluation depth of 300.
    sentence_search: Literal["candidates", "index"] = "candidates"
    fusion: FusionSettings = FusionSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    smoothing: SmoothingSettings = SmoothingSettings()
    query: QuerySettings = QuerySettings()
    doc_first: DocFirstSettings = DocFirstSettings()
    rerank: RerankSettings = RerankSettings()

    @model_validator(mode="before")
    @classmethod
    def _legacy_keys(cls, data: Any) -> Any:
        return group_retrieval_keys(data) if isinstance(data, dict) else data

    def stages(self) -> list[str]:
        """The optional stages these settings turn on, as dotted paths (empty: plain fusion).

        Example::

            RetrievalSettings(prf=False, dense_prf=False, sentences=False, smoothing=False,
                              rerank=[]).stages()   # []
        """
        return _stages(self, "")

    def overridden(self, overrides: RetrievalSettings) -> RetrievalSettings:
        """These settings with the fields ``overrides`` set explicitly (deep, per group)."""
        return RetrievalSettings(**deep_merge(self.model_dump(), overrides.model_dump(exclude_unset=True)))


def _stages(model: BaseModel, prefix: str) -> list[str]:
    on: list[str] = []
    for name, f in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            on.extend(_stages(value, f"{prefix}{name}."))
        elif isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("stage") and _is_on(value):
            on.append(f"{prefix}{name}".removesuffix(".enabled").removesuffix(".stages"))
    return on


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``top``'s keys, merging nested mappings instead of replacing them."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class LoaderSettings(_Strict):
    """How structured files map to documents."""

    json_text_fields: tuple[str, ...] = ("text", "content", "body")
    json_title_field: str | None = "title"
    json_id_field: str | None = "_id"
    json_metadata_fields: tuple[str, ...] | None = None
    csv_mode: Literal["row", "file"] = "row"
    csv_text_columns: tuple[str, ...] | None = None
    csv_id_column: str | None = None
    # Files above this size are refused unread (parsers hold a whole file in memory).
    max_file_mb: float = Field(default=200.0, gt=0)
    # Characters of text one document may hold. Ingest holds a source's chunks, vectors and token
    # states until its one atomic commit: about 0.4 GB of memory per million characters with the
    # default chunking (bench/big_file.py; a 200 MB text file was killed at 21.7 GB). Per document,
    # not per file: a corpus file of many documents (a BEIR corpus.jsonl) is a user's real data.
    max_document_chars: int = Field(default=10_000_000, ge=1)
    # Per document: every distinct metadata field becomes a typed column of its collection, copied
    # into each chunk (3,000 keys in one document cost 4.3 GB at ingest and 1.1 GB on disk), so a
    # document with more fields, a longer field name or a longer string value is refused.
    max_metadata_fields: int = Field(default=64, ge=1)
    max_metadata_key_chars: int = Field(default=64, ge=1)
    max_metadata_value_chars: int = Field(default=4096, ge=1)
    # PDF pages with no text layer but an image (scans): "auto" reads them with Tesseract OCR (the
    # tesseract program: Debian tesseract-ocr + tesseract-ocr-<lang>), "off" leaves them out.
    ocr: Literal["auto", "off"] = "auto"
    # Tesseract languages, "+"-joined ("eng+deu"); each needs its traineddata package.
    ocr_languages: str = Field(default="eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    # Render resolution of a scanned page: 300 dpi is what Tesseract reads best.
    ocr_dpi: int = Field(default=300, ge=72, le=600)
    # Seconds one page's OCR may take before the file is refused.
    ocr_timeout_s: float = Field(default=120.0, gt=0)
    # Ruled PDF tables (pdfplumber) become Markdown tables in the page text; off skips pdfminer's
    # layout pass over pages with lines or boxes.
    pdf_tables: bool = True


PiiKindName = Literal["email", "phone", "credit_card", "iban", "ssn", "ip_address"]


class PiiSettings(_Strict):
    """Personal data replaced in every document before it is chunked, embedded or stored
    (``ragline.cleaning.pii``). Off by default: redaction changes the text users search."""

    enabled: bool = False
    kinds: tuple[PiiKindName, ...] = ("email", "phone", "credit_card", "iban", "ssn", "ip_address")
    # "placeholder": <EMAIL>, <PHONE>, ...; "remove": the value is dropped; "hash": <EMAIL:…>, a
    # keyed HMAC of the value (equal values stay linkable), which needs hash_key.
    mode: Literal["placeholder", "remove", "hash"] = "placeholder"
    hash_key: SecretStr | None = None
    # Numbers in national form (no +country code) are read as this region's (ISO 3166 alpha-2).
    phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")

    def key_problem(self) -> str | None:
        """Why these settings cannot redact (checked on the resolved settings, since a collection
        may set the mode and inherit the key)."""
        if self.mode == "hash" and not (self.hash_key and self.hash_key.get_secret_value()):
            return (
                "mode = 'hash' needs hash_key (a secret): unkeyed hashes of short values such as "
                "SSNs are reversed by trying them all"
            )
        return None


class NearDuplicateSettings(_Strict):
    """Documents that nearly repeat one already in the collection are not indexed again
    (``ragline.cleaning.near_dup``: MinHash over word shingles, LSH index beside the collection).
    Off by default: a near-duplicate is dropped, and distinct versions of one text (a contract and
    its amendment) can be that similar; turn it on where copies are noise (crawls, mail archives)."""

    enabled: bool = False
    # Estimated Jaccard similarity of word shingles (shingle_words-word sequences) at or above
    # which a document is a copy. 0.5 over 2-word shingles, chosen on the dev seed: precision 1.0,
    # recall 1.0 on the report seed's edited copies (typos, reordered paragraphs, boilerplate) vs
    # distinct-but-similar documents (same template, half rewritten); see docs/benchmarks.md.
    threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    num_perm: int = Field(default=128, ge=16, le=1024)
    shingle_words: int = Field(default=2, ge=1, le=20)
    # Shorter documents are neither checked nor matched: in a few words one change moves the
    # similarity by half (and every "Thanks!" would copy every other).
    min_words: int = Field(default=10, ge=1)


class CleaningSettings(_Strict):
    """What happens to a loaded document's text before it is chunked."""

    pii: PiiSettings = PiiSettings()
    near_duplicates: NearDuplicateSettings = NearDuplicateSettings()


class ModelPrice(_Strict):
    """USD per million tokens, for the cost estimate on each answer."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


# List prices (USD per 1M tokens) as published by OpenAI in 2025; override or extend in settings.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-4o": ModelPrice(input_per_mtok=2.5, output_per_mtok=10.0),
    "gpt-4o-mini": ModelPrice(input_per_mtok=0.15, output_per_mtok=0.6),
    "gpt-4.1": ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0),
    "gpt-4.1-mini": ModelPrice(input_per_mtok=0.4, output_per_mtok=1.6),
    "gpt-3.5-turbo": ModelPrice(input_per_mtok=0.5, output_per_mtok=1.5),
}


class SamplingProfile(_Strict):
    temperature: float = Field(ge=0.0, le=2.0)
    top_p: float = Field(gt=0.0, le=1.0)
    max_tokens: int = Field(ge=1, le=32_768)


PROFILES: dict[str, SamplingProfile] = {
    # Factual Q&A: near-deterministic, short.
    "factual": SamplingProfile(temperature=0.1, top_p=1.0, max_tokens=512),
    "balanced": SamplingProfile(temperature=0.4, top_p=0.95, max_tokens=768),
    "creative": SamplingProfile(temperature=0.8, top_p=0.95, max_tokens=1024),
}


class LLMSettings(_Strict):
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp, TGI, LiteLLM).

    Unset ``base_url`` means no LLM: answers come from the offline extractive answerer.
    """

    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    # Tried in order when ``model`` keeps failing (after its retries).
    fallback_models: tuple[str, ...] = ()
    profile: Literal["factual", "balanced", "creative"] = "factual"
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    timeout_s: float = Field(default=30.0, gt=0)
    # Retries per model on 429, 5xx, timeouts and connection errors (exponential backoff).
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    # "auto": tiktoken for OpenAI model names, the embedding tokenizer as an estimate otherwise.
    tokenizer: Literal["auto", "tiktoken", "embedding"] = "auto"
    # Seconds for all of one request's LLM work (query rewrites, HyDE, filters, LLM rerank,
    # generation): each call waits at most the time left, retries stop when it runs out, and the
    # answer degrades to extractive. Bounds the wait for a reply, not a stream already flowing.
    # None: no deadline (each call still has timeout_s).
    deadline_s: float | None = Field(default=10.0, gt=0)
    # Circuit breaker per model: open after this many consecutive failures or timeouts (calls to
    # it are skipped), let one probe through after breaker_cooldown_s; 0 turns it off.
    breaker_failures: int = Field(default=5, ge=0, le=1000)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _check_model(self) -> LLMSettings:
        if self.base_url and not self.model:
            raise ValueError("llm.base_url is set but llm.model is not; name the model to call")
        return self

    @property
    def sampling(self) -> SamplingProfile:
        base = PROFILES[self.profile]
        return SamplingProfile(
            temperature=base.temperature if self.temperature is None else self.temperature,
            top_p=base.top_p if self.top_p is None else self.top_p,
            max_tokens=base.max_tokens if self.max_tokens is None else self.max_tokens,
        )


class AnswerSettings(_Strict):
    """How answers are assembled and generated."""

    # "auto": the LLM when llm.base_url is set, the extractive answerer otherwise.
    generator: Literal["auto", "extractive", "llm"] = "auto"
    # Hits retrieved for the context.
    top_k: int = Field(default=8, ge=1, le=200)
    # Context budget in the generator's tokens (headers included).
    context_tokens: int = Field(default=1024, ge=32, le=200_000)
    # Synthesis units: the retrieved chunk, a window of sentences around it, or its parent section.
    expand: Literal["none", "window", "parent"] = "window"
    window_sentences: int = Field(default=2, ge=0, le=20)
    order: Literal["score", "document"] = "score"
    # Extractive answerer.
    max_sentences: int = Field(default=3, ge=1, le=20)
    # Sentences scored with the embedding model (the best by lexical overlap and passage rank).
    candidate_sentences: int = Field(default=8, ge=1, le=500)
    mmr_lambda: float = Field(default=0.7, ge=0.0, le=1.0)
    # Extractive answers abstain below this confidence: the best abstention F1 on the SQuAD
    # calibration split (bench/tune_answerer.py, docs/benchmarks.md).
    abstain_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # The learned extractive reader (generation/reader.py) re-ranks the best sentences and finds
    # the short answer: "auto" uses the packaged model (or reader_path) when present, "off" never.
    reader: Literal["auto", "off"] = "auto"
    # A reader trained with `ragline tune answerer` (its output directory); None: the packaged one.
    reader_path: str | None = None
    # Sources older than this (by their "date"/"updated" metadata) are flagged in the LLM prompt.
    stale_after_days: int = Field(default=365, ge=1)
    # Citation support of each answer sentence (generation/support.py): "flag" reports it in
    # Answer.support (the UI marks unsupported sentences), "remove" also cuts unsupported
    # sentences from the answer, "off" skips the check.
    unsupported: Literal["flag", "remove", "off"] = "flag"
    # Who judges support: the offline score (lexical + embedding, calibrated on SQuAD), or the
    # configured LLM (one more call per answer; the offline score when its reply is malformed).
    support_judge: Literal["offline", "llm"] = "offline"


class ChatSettings(_Strict):
    """Conversations (``engine.chat``, ``ask(history=...)``): how a follow-up becomes a standalone query."""

    # "auto": the LLM condenser when llm.base_url is set, else the offline rules; "rules": always the
    # offline rules; "llm": the LLM (falling back to the rules); "off": follow-ups are searched as
    # they are.
    condense: Literal["auto", "rules", "llm", "off"] = "auto"
    # The most recent turns of history the condenser reads (earlier ones are ignored).
    history_turns: int = Field(default=6, ge=1, le=100)


class ServerSettings(_Strict):
    """The HTTP service (``ragline serve``): limits, security and where its state lives."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Every request needs an API key (``ragline keys create``). Off only for a single local user:
    # then every caller is an admin of tenant ``default`` with every group.
    auth: bool = True
    # "" keeps jobs, traces, feedback, audit and keys in <data_dir>/state.sqlite;
    # "postgresql://user:pass@host/db" keeps them in PostgreSQL (pip install 'ragline[postgres]').
    state_url: str = ""
    max_upload_mb: float = Field(default=50.0, gt=0, le=10_000)
    max_files_per_upload: int = Field(default=100, ge=1, le=10_000)
    max_json_mb: float = Field(default=10.0, gt=0, le=1_000)
    # Load shedding: searches, answers, chat completions and uploads running at once (0: two per
    # CPU core; more threads than that only contend for the cores); up to max_queue more wait,
    # holding no thread, and beyond that a request is refused at once with 503 and Retry-After,
    # so probes and cheap routes keep answering under overload (bench/overload.py).
    max_concurrent_requests: int = Field(default=0, ge=0, le=1024)
    max_queue: int = Field(default=16, ge=0, le=100_000)
    # Query traces kept for ``GET /v1/traces/{id}``: the newest N, none older than the age limit.
    trace_retention: int = Field(default=10_000, ge=0)
    trace_retention_days: float = Field(default=30.0, gt=0)
    # Conversations of the API and web UI (``POST /v1/conversations``): the newest N, none idle
    # for longer than the age limit.
    conversation_retention: int = Field(default=10_000, ge=0)
    conversation_retention_days: float = Field(default=30.0, gt=0)
    # How long a state-store call waits for a locked SQLite file, a PostgreSQL connection or lock
    # before the request fails with 503 (state store unavailable, Retry-After) instead of hanging.
    state_timeout_s: float = Field(default=5.0, gt=0, le=300)
    # What this replica serves when ingestion is split from queries (docs/deployment.md):
    # "all" everything (one replica); "ingest" everything too, as the single writer of a split
    # deployment; "query" reads only: uploads, documents and deletions get 405 naming the ingest
    # service, and no ingest job workers start, so the autoscaled query pods never write the store.
    role: Literal["all", "ingest", "query"] = "all"
    # Worker threads running ingest jobs.
    ingest_workers: int = Field(default=1, ge=1, le=64)
    # An ingest job's lease: its replica renews it every quarter of this. A job whose lease lapsed
    # (its replica died or lost the state store for that long) is marked failed by any replica.
    job_lease_s: float = Field(default=60.0, ge=1, le=86_400)
    # Logs as one JSON object per line (with trace ids), for log shippers.
    json_logs: bool = True
    # OpenTelemetry: "" records spans in-process only; "otlp" exports them over OTLP/HTTP to
    # otlp_endpoint (pip install 'ragline[otlp]').
    tracing: Literal["", "otlp"] = ""
    otlp_endpoint: str = "http://localhost:4318/v1/traces"
    # Origins allowed to call the API from a browser other than the built-in UI.
    cors_origins: list[str] = Field(default_factory=list)


class CacheSettings(_Strict):
    """Caches of search results and answers (``ragline.cache``). Every entry is keyed by the
    tenant, the caller's access (groups, clearance), the collection's version (any write, from
    any process, makes a new one) and a fingerprint of these settings, so an entry never crosses
    an access boundary and never outlives a write. On by default: a hit skips retrieval and, with
    an LLM, a paid call, and nothing a write changed is ever served."""

    enabled: bool = True
    # "memory": in this process (bounded LRU); "redis": shared by replicas (pip install 'ragline[redis]').
    backend: Literal["memory", "redis"] = "memory"
    ttl_s: float = Field(default=3600.0, gt=0, le=30 * 86_400)
    # In-process entries at most (least recently used dropped first); Redis evicts by its own policy.
    max_entries: int = Field(default=10_000, ge=1, le=10_000_000)
    redis_url: str = ""
    # Prefix of every Redis key, so several deployments can share one Redis.
    key_prefix: str = Field(default="ragline:", max_length=64)
    # Seconds a Redis call may take before the cache is skipped (the request goes on uncached).
    redis_timeout_s: float = Field(default=0.5, gt=0, le=30)
    retrieval: bool = True
    answers: bool = True
    # The semantic answer cache: "auto" with an LLM answerer (a hit saves a paid call), off for the
    # offline extractive one (a hit saves milliseconds, and a near question may want another answer).
    semantic: Literal["auto", "on", "off"] = "auto"
    # Cosine similarity of question embeddings above which a cached answer is served: calibrated
    # for the default model on SQuAD (bench/semantic_cache.py, docs/benchmarks.md): <= 1 % false hits.
    # 0.97 for the int8 default (test half: 73 % of rewordings hit, 0.11 % false hits); 0.98 was
    # fp32's (72 %, 0.08 %): int8 noise lowers near-identical questions' cosine (0.994 -> 0.980).
    semantic_threshold: float = Field(default=0.97, ge=0.0, le=1.0)
    # Cached questions compared per scope (collection version, access, settings), newest first.
    semantic_max_per_scope: int = Field(default=256, ge=1, le=10_000)

    @model_validator(mode="after")
    def _check_backend(self) -> CacheSettings:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("cache.backend = 'redis' needs cache.redis_url (e.g. redis://localhost:6379/0)")
        return self


class QuotaSettings(_Strict):
    """What one API key, or one tenant (all its keys together), may use; 0 means no limit."""

    # Searches, answers, chat completions and uploads (the routes the load shedder guards).
    requests_per_minute: int = Field(default=0, ge=0, le=1_000_000)
    # LLM tokens (prompt + completion) of answers per UTC day.
    tokens_per_day: int = Field(default=0, ge=0)
    # LLM cost per UTC day, from llm.prices.
    cost_per_day_usd: float = Field(default=0.0, ge=0)


class LimitSettings(_Strict):
    """Rate limits and daily quotas of ``ragline serve``, answered with 429 and Retry-After."""

    # Every key's limits, and every tenant's (summed over its keys).
    key: QuotaSettings = QuotaSettings()
    tenant: QuotaSettings = QuotaSettings()
    # Overrides by key id (``ragline keys list``) and by tenant; only the fields given override.
    keys: dict[str, QuotaSettings] = Field(default_factory=dict)
    tenants: dict[str, QuotaSettings] = Field(default_factory=dict)
    # "" keeps the per-minute buckets in this process; "redis://host:6379/0" shares them between
    # replicas (pip install 'ragline[redis]'). Daily quotas are read from the state store, which
    # replicas share anyway (server.state_url).
    redis_url: str = Field(default="", pattern=r"^$|^(redis|rediss|unix)://")

    def for_key(self, key_id: str) -> QuotaSettings:
        return _overridden(self.key, self.keys.get(key_id))

    def for_tenant(self, tenant: str) -> QuotaSettings:
        return _overridden(self.tenant, self.tenants.get(tenant))


def _overridden(base: QuotaSettings, override: QuotaSettings | None) -> QuotaSettings:
    if override is None:
        return base
    return base.model_copy(update=override.model_dump(exclude_unset=True))


class SourceSettings(_Strict):
    """Sources that sync (``ragline sources``, ``ragline sync``): HTTP manners and S3 access.
    A source's own options (``ragline sources add --delay ...``) win over these defaults."""

    # Every HTTP request (web pages, robots.txt, sitemaps) gives up after this long.
    http_timeout_s: float = Field(default=20.0, gt=0, le=600)
    # Sent with every request; robots.txt rules are matched against it.
    user_agent: str = Field(default="ragline/0.1 (+https://github.com/ragline/ragline)", min_length=1)
    # Seconds between two requests to one host (a robots.txt Crawl-delay above it wins).
    web_delay_s: float = Field(default=1.0, ge=0, le=3600)
    # S3-compatible storage: "" is AWS; e.g. "http://minio:9000" for another service.
    s3_endpoint_url: str = ""
    s3_region: str = ""
    # Empty: boto3's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, roles).
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")


class CollectionSettings(_Strict):
    """Settings one collection overrides; unset keys keep the global value.

    Example (TOML)::

        [collections.news.retrieval]
        rerank = ["freshness"]
        top_k = 20
        [collections.news.answer]
        top_k = 4
    """

    # Typed like the global groups; only the keys a collection sets explicitly override (pydantic
    # records them), so an unset key keeps the global value, including a changed global default.
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    # e.g. [collections.hr.cleaning.pii] enabled = true
    cleaning: CleaningSettings = CleaningSettings()

    @model_validator(mode="after")
    def _check_keys(self) -> CollectionSettings:
        global_only = sorted(self.answer.model_fields_set & {"generator", "stale_after_days"})
        if global_only:
            raise ValueError(
                f"answer.{global_only[0]} cannot be set per collection (the generator is one per "
                "engine); set it in [answer]"
            )
        return self

    def resolve(
        self, retrieval: RetrievalSettings, answer: AnswerSettings
    ) -> tuple[RetrievalSettings, AnswerSettings]:
        """The global ``retrieval`` and ``answer`` settings with this collection's overrides."""
        r = retrieval.overridden(self.retrieval) if self.retrieval.model_fields_set else retrieval
        a = (
            AnswerSettings(**{**answer.model_dump(), **self.answer.model_dump(exclude_unset=True)})
            if self.answer.model_fields_set
            else answer
        )
        return r, a

    def resolve_cleaning(self, cleaning: CleaningSettings) -> CleaningSettings:
        """The global ``cleaning`` settings with the keys this collection sets (nested keys merged)."""
        if not self.cleaning.model_fields_set:
            return cleaning
        return CleaningSettings(
            **deep_merge(cleaning.model_dump(), self.cleaning.model_dump(exclude_unset=True))
        )


# The settings groups an experiment variant may override: the ones read per query.
EXPERIMENT_GROUPS = ("retrieval", "answer", "llm")
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class ExperimentSettings(_Strict):
    """One A/B experiment: each variant is a settings override, the first variant the control.

    Example (TOML)::

        [experiments.rerank]
        unit = "user"             # the X-Ragline-User header (else the key)
        split = [50, 50]
        variants.control = {}
        variants.treatment = {retrieval = {rerank = {stages = []}}}
    """

    enabled: bool = True
    # What a caller is assigned by (sticky): the API key, the X-Ragline-User header, or the session
    # (the conversation id, else the X-Ragline-Session header); a missing one falls back to the key.
    unit: Literal["key", "user", "session"] = "key"
    # Variant name -> override of the groups in EXPERIMENT_GROUPS, in order; the first is the control.
    variants: dict[str, dict[str, Any]]
    # Percent of units per variant, in variant order, summing to 100; empty: an even split.
    split: list[float] = Field(default_factory=list)
    # Collections it runs on; empty: every collection.
    collections: list[str] = Field(default_factory=list)
    # Below this many answers in a variant the report warns that differences are not yet reliable.
    min_samples: int = Field(default=100, ge=1)
    # Significance level of the report's tests (two-sided).
    alpha: float = Field(default=0.05, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _check(self) -> ExperimentSettings:
        if len(self.variants) < 2:
            raise ValueError(
                f"an experiment needs at least two variants (control first), got {list(self.variants)}"
            )
        for name, override in self.variants.items():
            if not _EXPERIMENT_NAME.fullmatch(name):
                raise ValueError(f"variant name {name!r} is invalid: use letters, digits, '_' and '-'")
            bad = sorted(set(override) - set(EXPERIMENT_GROUPS))
            if bad:
                raise ValueError(
                    f"variant {name!r} overrides {bad[0]!r}; a variant may override only "
                    + ", ".join(EXPERIMENT_GROUPS)
                )
            for group, value in override.items():
                if not isinstance(value, dict):
                    # pydantic turns a ValueError (not a TypeError) into a validation error.
                    raise ValueError(  # noqa: TRY004
                        f"variant {name!r}: {group} must be a table of settings, got {value!r}"
                    )
            # Strict validation of each group, so a misspelt key fails at load, not at query time.
            try:
                RetrievalSettings(**group_retrieval_keys(dict(override.get("retrieval", {}))))
                AnswerSettings(**override.get("answer", {}))
                LLMSettings(**override.get("llm", {}))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                raise ValueError(f"variant {name!r}: {where}: {err['msg']}") from None
        if self.split:
            if len(self.split) != len(self.variants):
                raise ValueError(
                    f"split {self.split} has {len(self.split)} shares for {len(self.variants)} variants; "
                    "give one share per variant"
                )
            if any(x < 0 for x in self.split) or abs(sum(self.split) - 100) > 1e-6:
                raise ValueError(f"split {self.split} must be shares >= 0 summing to 100")
        return self

    def shares(self) -> list[float]:
        """Percent per variant, in variant order."""
        return list(self.split) if self.split else [100 / len(self.variants)] * len(self.variants)


def _default_data_dir() -> Path:
    return Path(".ragline")


class Settings(BaseSettings):
    """All of ragline's settings. See the module docstring for where values come from."""

    model_config = SettingsConfigDict(
        env_prefix="RAGLINE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "ragline")
    collection: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    loaders: LoaderSettings = LoaderSettings()
    cleaning: CleaningSettings = CleaningSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    chat: ChatSettings = ChatSettings()
    server: ServerSettings = ServerSettings()
    cache: CacheSettings = CacheSettings()
    sources: SourceSettings = SourceSettings()
    ingest: IngestSettings = IngestSettings()
    limits: LimitSettings = LimitSettings()
    # Threads of numpy's BLAS (OpenBLAS) in this process, set when the first retriever is built;
    # None leaves them alone. Queries multiply small matrices by one vector (exact dense and
    # sentence search, late interaction), where OpenBLAS's threads cost 16x the CPU (8 vs 0.5 ms
    # for 9,000 x 384 on 2 shared cores) and take the cores the parallel searches need.
    blas_threads: int | None = Field(default=1, ge=1, le=256)
    # Per-collection overrides, e.g. [collections.news.retrieval] rerank = ["freshness"] or
    # [collections.news.answer] top_k = 4.
    collections: dict[str, CollectionSettings] = Field(default_factory=dict)
    # A/B experiments by name, e.g. [experiments.rerank] (see ExperimentSettings).
    experiments: dict[str, ExperimentSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_experiment_names(self) -> Settings:
        for name in self.experiments:
            if not _EXPERIMENT_NAME.fullmatch(name):
                raise ValueError(f"experiment name {name!r} is invalid: use letters, digits, '_' and '-'")
        return self

    @model_validator(mode="before")
    @classmethod
    def _default_rerank(cls, data: Any) -> Any:
        # Late interaction is the default reranker because ingest keeps the token states it reads.
        # An embedding backend without token states would make it run the model over every
        # candidate at query time (about 1 s a query), so there the default is only the reranker
        # that needs no model.
        if not isinstance(data, dict):
            return data
        emb = data.get("embedding")
        backend = emb.get("backend") if isinstance(emb, dict) else getattr(emb, "backend", None)
        if backend in (None, "onnx"):
            return data
        r = data.get("retrieval")
        plain = list(_DEFAULT_RERANK_WITHOUT_STATES)
        if r is None:
            return {**data, "retrieval": {"rerank": {"stages": plain}}}
        if isinstance(r, dict):
            grouped = group_retrieval_keys(r)
            rerank = grouped.get("rerank", {})
            if isinstance(rerank, dict) and "stages" not in rerank:
                return {**data, "retrieval": {**grouped, "rerank": {**rerank, "stages": plain}}}
        return data

    @model_validator(mode="after")
    def _check_pii(self) -> Settings:
        resolved = [("cleaning", self.cleaning)] + [
            (f"collections.{name}.cleaning", c.resolve_cleaning(self.cleaning))
            for name, c in self.collections.items()
        ]
        for where, cleaning in resolved:
            problem = cleaning.pii.key_problem()
            if problem is not None:
                raise ValueError(f"{where}.pii: {problem}")
        return self

    @model_validator(mode="after")
    def _check_token_states(self) -> Settings:
        if self.chunking.token_states == "on" and self.embedding.backend != "onnx":
            raise ValueError(
                f"chunking.token_states = 'on' needs token embeddings, which the "
                f"{self.embedding.backend} embedding backend does not give; use "
                "embedding.backend = 'onnx' or set chunking.token_states = 'auto' or 'off'"
            )
        return self

    @property
    def stores_token_states(self) -> bool:
        """Whether ingest keeps token states (``chunking.token_states``, resolved for the backend)."""
        mode = self.chunking.token_states
        return mode == "on" or (mode == "auto" and self.embedding.backend == "onnx")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("RAGLINE_CONFIG", "ragline.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        elif "RAGLINE_CONFIG" in os.environ:
            raise ConfigError(f"RAGLINE_CONFIG={toml_path} does not exist; point it at a TOML file")
        return tuple(sources)


# RAGLINE_ variables that are not settings: the config file path, the CLI's progress switch and
# the API key of `ragline mcp` (a secret, so never a setting that config dumps could show).
_NON_SETTING_ENV = {"config", "progress", "api_key"}


def _check_env() -> None:
    # pydantic-settings ignores unknown top-level variables (only nested ones are rejected), so a
    # misspelt RAGLINE_DATADIR would silently run with the default data directory.
    known = set(Settings.model_fields) | _NON_SETTING_ENV
    for key in os.environ:
        if key.upper().startswith("RAGLINE_"):
            name = key[len("RAGLINE_") :].split("__")[0].lower()
            if name not in known:
                raise ConfigError(
                    f"environment variable {key} is not a ragline setting; known: "
                    + ", ".join(f"RAGLINE_{k.upper()}" for k in sorted(Settings.model_fields))
                    + " (nested with __, e.g. RAGLINE_SERVER__PORT)"
                )


def merged_settings(settings: Settings, updates: dict[str, Any]) -> dict[str, Any]:
    """``settings`` as a mapping with ``updates`` merged in, group by group (a retrieval update
    may use the legacy flat keys); feed it to :func:`load_settings`.

    Example::

        load_settings(**merged_settings(s, {"retrieval": {"rerank": {"stages": []}}}))
    """
    merged = settings.model_dump()
    for key, value in updates.items():
        if isinstance(value, dict):
            value = group_retrieval_keys(value) if key == "retrieval" else value
            merged[key] = deep_merge(merged[key], value) if isinstance(merged.get(key), dict) else value
        else:
            merged[key] = value
    return merged


def load_settings(**overrides: Any) -> Settings:
    """Build and validate :class:`Settings`, turning validation errors into a :class:`ConfigError`."""
    _check_env()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid ragline settings: {problems}") from None
