"""The engine: one data directory, its collections, and the ingest/search/delete/stats entry points.

Example::

    import ragline
    engine = ragline.open(".ragline")
    engine.ingest(["docs/"], sync=True)
    hits = engine.search("how to install", mode="hybrid", top_k=5, filters={"file_type": "md"})
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from ragline.cache import QueryCache, Scope, access_fingerprint, filter_fingerprint, make_cache
from ragline.cache import settings_fingerprint as _fingerprint
from ragline.cache.query_cache import semantic_form
from ragline.chunking.base import Chunker
from ragline.chunking.factory import make_chunker
from ragline.collection import (
    META_FILE,
    Collection,
    build_collection,
    bump_write_token,
    collection_path,
    list_collections,
    meta_stamp,
    model_settings,
    namespace_dir,
    read_meta,
    write_token,
)
from ragline.context.assembler import ContextAssembler
from ragline.embedding.base import CachingEmbedder, Embedder
from ragline.embedding.cache import EmbeddingCache
from ragline.embedding.factory import make_cached_embedder, make_tokenizer
from ragline.errors import AccessDenied, CollectionNotFound, ConfigError
from ragline.generation import deadline
from ragline.generation.answering import Answering
from ragline.generation.base import collect
from ragline.generation.deadline import Deadline, request_deadline
from ragline.generation.entries import (
    asked_identifiers,
    defined_term,
    is_identifier,
    is_subject,
    names,
    states_entry_default,
)
from ragline.generation.extractive import ExtractiveAnswerer, asked_row_of, default_row_of
from ragline.generation.lexical import terms
from ragline.generation.question import NEED_WORDS, QuestionNeed, classify
from ragline.ingest.pipeline import Ingestor, IngestProgress, IngestReport, cleaning_for, near_dup_index
from ragline.locks import file_lock
from ragline.query.condense import Condenser, LLMCondenser, NoCondenser, RuleCondenser, split_messages
from ragline.retrieval.factory import RetrieverFactory
from ragline.retrieval.retrievers import Retriever
from ragline.settings import AnswerSettings, CleaningSettings, EmbeddingSettings, RetrievalSettings, Settings
from ragline.sources.registry import SourceRegistry
from ragline.sources.sync import SyncReport, purge, run_sync
from ragline.store.base import (
    DocumentInfo,
    KeywordSearch,
    Store,
    StoreStats,
    StoreVersion,
    read_version,
    versioned_store,
)
from ragline.store.factory import make_store
from ragline.store.filters import And, Compare, Filter, InList, Visible, coerce_filter, scope_filter
from ragline.store.rows import DocumentView, text_from_chunks
from ragline.telemetry import span as _span
from ragline.telemetry import start_span
from ragline.text.navigation import answers_last
from ragline.text.sentences import SECTION_NUMBER, without_section_number
from ragline.text.token_counters import TokenCounter, make_token_counter
from ragline.text.tokenizer import Tokenizer
from ragline.types import (
    DEFAULT_TENANT,
    Access,
    Answer,
    Chunk,
    Condensed,
    Context,
    Document,
    Final,
    Hit,
    Principal,
    SearchMode,
    StreamEvent,
    Token,
    Turn,
    Usage,
    tenant_of,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ragline.generation.base import ChatModel
    from ragline.generation.llm import LLMGenerator
    from ragline.maintenance.portable import TransferReport
    from ragline.rerank.base import Reranker
    from ragline.tune.embeddings import TuneReport

log = logging.getLogger(__name__)
# Longer queries are documents, not questions: the model reads 256 tokens and BM25 gets slow.
MAX_QUERY_CHARS = 8192
# Chunks a keyword lookup for a table row reads at least (Engine._with_table_row): three times the
# answer's default eight hits.
ROW_LOOKUP_DEPTH = 24
MAX_TOP_K = 10_000


@dataclass(frozen=True, slots=True)
class CollectionStats:
    name: str
    path: str
    store: StoreStats


def _store_key(tenant: str, name: str, part: str = "") -> str:
    return "\x00".join((tenant, name, part))


@contextmanager
def _bumping(lock: AbstractContextManager[None], store: Store) -> Iterator[None]:
    """``lock``, bumping the collection's write token before it is released when the write changed
    the store (or failed: part of it may have committed; or the store has no read version to
    tell), so every query cache entry of it is void. A write that committed nothing leaves the
    token, and so the data directory, as it was: re-running an unchanged ingest writes nothing."""
    with lock:
        # Only an existing collection is asked its version: opening a store may create its directory,
        # and a write that fails before creating one (a refused import) must leave none behind.
        before = read_version(store) if store.root.is_dir() else None
        done = False
        try:
            yield
            done = True
        finally:
            if store.root.is_dir() and (not done or before is None or read_version(store) != before):
                bump_write_token(store.root)


def _caching(events: Iterator[StreamEvent], put: Callable[[Answer], None]) -> Iterator[StreamEvent]:
    """``events``, handing the final answer to ``put`` before it is yielded (a consumer that stops
    at the ``Final`` still caches it)."""
    for event in events:
        if isinstance(event, Final):
            put(event.answer)
        yield event


def _replay(answer: Answer, t0: float) -> Iterator[StreamEvent]:
    """A cached answer as a stream: its text in word-sized tokens, then the answer, with a trace id
    of its own and no usage (nothing was generated)."""
    for piece in re.findall(r"\s*\S+\s*", answer.text):
        yield Token(piece)
    ms = (time.perf_counter() - t0) * 1000
    usage = Usage(model=answer.usage.model, cost_usd=None if answer.usage.cost_usd is None else 0.0)
    yield Final(
        replace(answer, trace_id=uuid.uuid4().hex, timings_ms={"cache": ms, "total": ms}, usage=usage)
    )


def _ending(span: Span, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    """``events``, ending ``span`` when they run out, fail or the consumer stops early."""
    try:
        yield from events
    finally:
        span.end()


def _limit_blas_threads(threads: int | None) -> None:
    """Cap numpy's BLAS threads (``blas_threads``) for the whole process; None: leave them."""
    if threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


@dataclass(frozen=True, slots=True)
class _Asked:
    """One question asked for an answer: what it needs, and the filters, principal and store its
    added reads go through (Engine.retrieve_for_answer's helpers)."""

    question: str
    need: QuestionNeed
    filters: Filter | Mapping[str, Any] | str | None
    collection: str | None
    principal: Principal | None
    store: Store

    @property
    def scope(self) -> Filter | None:
        """The filters narrowed to what the principal may read."""
        return scope_filter(self.filters, self.principal)


# Words of the headings a reference repeats on every page: naming them names no one section.
_GENERIC_HEADING_WORDS = frozenset(
    {
        "default",
        "defaults",
        "value",
        "values",
        "description",
        "example",
        "examples",
        "syntax",
        "option",
        "options",
        "parameter",
        "parameters",
        "setting",
        "settings",
        "configuration",
        "notes",
        "note",
        "usage",
        "overview",
        "introduction",
        "general",
        "reference",
        "see",
        "also",
        "and",
        "of",
        "for",
        "the",
    }
)


def _named_section_first(asked: _Asked, hits: list[Hit]) -> list[Hit]:
    """``hits`` with the first one under a section heading that a default question names ("...
    Maximum Concurrent Jobs in the Director resource?" over "The Director Resource") moved first,
    when the first hit is under another heading: the same directive in the Job, Storage and Client
    resources ranked above it and filled the context's room."""
    if asked.need.kind != "default" or len(hits) < 2:
        return hits
    question = " ".join(asked.question.lower().split())

    def named(h: Hit) -> bool:
        if not h.chunk.section_path:
            return False
        heading = without_section_number(h.chunk.section_path[-1]).lower()
        heading = re.sub(r"^(?:the|a|an)\s+", "", " ".join(heading.split()))
        words = heading.split()
        return (
            len(words) >= 2
            # "Default Values", "Configuration Options": a heading of every reference page.
            and not set(words) <= _GENERIC_HEADING_WORDS
            and re.search(rf"(?<!\w){re.escape(heading)}(?!\w)", question) is not None
        )

    if named(hits[0]):
        return hits
    i = next((i for i, h in enumerate(hits) if named(h)), None)
    return hits if i is None else [hits[i], *hits[:i], *hits[i + 1 :]]


def _distinct(hits: list[Hit], before: Sequence[Hit] = ()) -> list[Hit]:
    """``hits`` without a chunk whose text an earlier hit or one of ``before`` holds (whitespace
    and the numbers of its headings aside): copies of one passage in several pages of a manual,
    renumbered where a page gathers others ("### 8.31 aloop" is "### 29.31 aloop" in
    ffprobe-all.html)."""
    seen = {_copy_key(h.chunk.text) for h in before}
    out = []
    for h in hits:
        key = _copy_key(h.chunk.text)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out


# A Markdown heading's section number: "### 8.31 aloop", "## 3 Options".
_HEADING_NUMBER = re.compile(rf"(?m)^(#{{1,6}}[ \t]+){SECTION_NUMBER}")


def _copy_key(text: str) -> str:
    return " ".join(_HEADING_NUMBER.sub(r"\1", text).split())


def _placed_second(hits: list[Hit], chunk: Chunk) -> list[Hit]:
    """``hits`` with ``chunk`` after the first, at the score of the hit it is placed before (the
    first's when there is only one)."""
    return [*hits[:1], Hit(chunk=chunk, score=hits[min(1, len(hits) - 1)].score), *hits[1:]]


class Engine:
    """Everything ragline does on one data directory. Models load on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._collections: dict[str, Collection] = {}
        self._collections_lock = threading.Lock()
        self._embedders: dict[str, CachingEmbedder] = {}

    # -- components, built lazily ----------------------------------------------------------------

    @cached_property
    def embedding_cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.settings.data_dir / "embedding-cache.sqlite")

    @cached_property
    def embedder(self) -> CachingEmbedder:
        return make_cached_embedder(self.settings.embedding, self.settings.cache_dir, self.embedding_cache)

    @cached_property
    def tokenizer(self) -> Tokenizer:
        return make_tokenizer(self.settings.embedding)

    @cached_property
    def chunker(self) -> Chunker:
        if self.settings.chunking.strategy == "semantic":
            return make_chunker(self.settings.chunking, self.tokenizer, self.embedder)
        return make_chunker(self.settings.chunking, self.tokenizer)

    def namespace_dir(self, tenant: str = DEFAULT_TENANT) -> Path:
        """Where a tenant's collections live (see :func:`ragline.collection.namespace_dir`)."""
        return namespace_dir(self.settings.data_dir, tenant)

    def collection_path(self, name: str, tenant: str = DEFAULT_TENANT) -> Path:
        return collection_path(self.settings.data_dir, name, tenant)

    def collections(self, tenant: str = DEFAULT_TENANT) -> list[str]:
        """The collections of one tenant (the default tenant's unless named)."""
        return list_collections(self.settings.data_dir, tenant)

    def _model_embedder(self, settings: EmbeddingSettings) -> CachingEmbedder:
        """The configured embedder, or the one a collection was built with (a model ``ragline
        tune embeddings`` made, or the fp32 graph: :func:`ragline.collection.model_settings`)."""
        if settings == self.settings.embedding:
            return self.embedder
        key = settings.model_dump_json()
        if key not in self._embedders:
            made = make_cached_embedder(settings, self.settings.cache_dir, self.embedding_cache)
            self._embedders[key] = made
        return self._embedders[key]

    def open_store(self, path: Path, embedder: Embedder) -> Store:
        """The one way the engine opens a store (``store.backend``): every store (collections,
        their summaries, re-embedded copies) gets the configured index and read settings."""
        return make_store(self.settings.store, path, dimension=embedder.dimension, model_id=embedder.model_id)

    def collection(
        self, collection: str | None = None, *, tenant: str = DEFAULT_TENANT, must_exist: bool = False
    ) -> Collection:
        """A tenant's collection (the default tenant's unless named), resolved once and cached; it
        is resolved again when its ``collection.json`` changes (first ingest, a tuned model).

        Example::

            coll = engine.collection("handbook")
            print(coll.retrieval.top_k, coll.store.stats().chunks)
        """
        name = collection or self.settings.collection
        path = self.collection_path(name, tenant)
        if must_exist and not (path / META_FILE).is_file():
            known = ", ".join(self.collections(tenant)) or "(none yet)"
            # Only the caller's own tenant is listed, and the data directory only for the
            # default tenant (a local user's): a service's callers must not learn either.
            where = f"in {self.settings.data_dir}" if tenant == DEFAULT_TENANT else f"in tenant {tenant!r}"
            raise CollectionNotFound(
                f"collection {name!r} does not exist {where}; existing: {known}. "
                "Ingest documents into it first (ragline ingest PATH --collection NAME)"
            )
        key = _store_key(tenant, name)
        cached = self._collections.get(key)
        if cached is not None and cached.stamp == meta_stamp(path):
            return cached
        with self._collections_lock:
            cached = self._collections.get(key)
            if cached is None or cached.stamp != meta_stamp(path):
                cached = build_collection(
                    self.settings, name, tenant, path, self._model_embedder, self.open_store, cached
                )
                self._collections[key] = cached
            return cached

    def _forget(self, tenant: str, name: str) -> None:
        """Drop a cached collection after maintenance replaced its store or summaries."""
        with self._collections_lock:
            self._collections.pop(_store_key(tenant, name), None)

    def embedder_for(self, collection: str | None = None, tenant: str = DEFAULT_TENANT) -> CachingEmbedder:
        """The embedding model a collection was built with: the configured one, or the model
        `ragline tune embeddings` made for it (recorded in its ``collection.json``)."""
        return self.collection(collection, tenant=tenant).embedder

    def store(
        self, collection: str | None = None, *, must_exist: bool = False, tenant: str = DEFAULT_TENANT
    ) -> Store:
        """A tenant's collection's store (the default tenant's unless named)."""
        return self.collection(collection, tenant=tenant, must_exist=must_exist).store

    # -- entry points ----------------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        collection: str | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        sync: bool = False,
        dedup: bool = True,
        progress: Callable[[IngestProgress], None] | None = None,
        access: Access | None = None,
        pii: bool | None = None,
        near_duplicates: bool | None = None,
        ray: str | None = None,
    ) -> IngestReport:
        """Ingest files and folders; see :class:`~ragline.ingest.pipeline.Ingestor`.

        ``access`` sets the tenant and ACL of every document ingested (default: tenant
        ``default``, readable by all of it). ``pii`` and ``near_duplicates`` turn PII redaction
        and near-duplicate removal on or off for this call (None: the collection's settings).
        ``ray`` ("auto" or a cluster address; default the ``ingest.ray_address`` setting; "off":
        in-process) parses, chunks and embeds on Ray, this process writing
        (:mod:`ragline.ingest.ray`).
        """
        if not paths:
            raise ConfigError("ingest needs at least one file or folder path")
        tenant = (access or Access()).tenant
        coll = self.collection(collection, tenant=tenant)
        store = coll.store
        embedder = coll.embedder
        cleaning = cleaning_for(coll.cleaning, pii, near_duplicates)
        address = ray if ray is not None else self.settings.ingest.ray_address
        if address is not None and address != "off":
            return self._ray_ingest(
                address,
                coll,
                [Path(p) for p in paths],
                include=include,
                exclude=exclude,
                sync=sync,
                dedup=dedup,
                progress=progress,
                access=access,
                cleaning=cleaning,
            )
        with self.write_lock(store):
            before = embedder.embedded
            ingestor = self._ingestor(store, embedder, cleaning)
            report = ingestor.run(
                [Path(p) for p in paths],
                include=include,
                exclude=exclude,
                sync=sync,
                dedup=dedup,
                progress=progress,
                access=access,
            )
            report.chunks_embedded = embedder.embedded - before
        return report

    def upsert_documents(
        self,
        docs: Sequence[Document],
        *,
        collection: str | None = None,
        principal: Principal | None = None,
        pii: bool | None = None,
        near_duplicates: bool | None = None,
    ) -> IngestReport:
        """Index documents built in Python, replacing earlier versions with the same ids.

        The documents go to their tenant's namespace (``Document.access.tenant``; one tenant per
        call). With a ``principal``, that must be its tenant, and a document may only replace an
        earlier version the principal may read: another group's document is never overwritten.
        ``pii`` and ``near_duplicates`` override the collection's cleaning settings for this call.

        Example::

            engine.upsert_documents([Document(id="faq-1", source="faq", text="...", metadata={"lang": "en"})])
        """
        tenants = sorted({d.access.tenant for d in docs})
        if len(tenants) > 1:
            raise ConfigError(
                f"documents of several tenants ({', '.join(tenants)}) in one upsert; send each tenant's apart"
            )
        tenant = tenants[0] if tenants else tenant_of(principal)
        if principal is not None and tenant != principal.tenant:
            raise AccessDenied(
                f"documents of tenant {tenant!r} cannot be written by a caller of tenant {principal.tenant!r}"
            )
        coll = self.collection(collection, tenant=tenant)
        store, embedder = coll.store, coll.embedder
        with self.write_lock(store):
            if principal is not None and docs:
                self._check_replaceable(store, [d.id for d in docs], principal)
            before = embedder.embedded
            cleaning = cleaning_for(coll.cleaning, pii, near_duplicates)
            report = self._ingestor(store, embedder, cleaning).upsert_documents(docs)
            report.chunks_embedded = embedder.embedded - before
        return report

    def sync_source(
        self,
        name: str,
        *,
        tenant: str = DEFAULT_TENANT,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> SyncReport:
        """Sync a tenant's source (``ragline sources add``) into its collection: items whose
        version the collection holds are skipped, changed ones re-indexed, gone ones deleted.

        Example::

            report = engine.sync_source("docs", tenant="acme")
            print(report.fetched, report.added, report.updated, report.unchanged, report.deleted)
        """
        registry = SourceRegistry(self.settings.data_dir)
        collection = registry.get(name, tenant).definition.collection
        coll = self.collection(collection, tenant=tenant)
        store, embedder = coll.store, coll.embedder
        with self.write_lock(store):
            # Read again under the lock: a sync that held it before may have moved the cursor.
            state = registry.get(name, tenant)
            before = embedder.embedded
            d = state.definition
            ingestor = self._ingestor(store, embedder, cleaning_for(coll.cleaning, d.pii, d.near_duplicates))
            report = run_sync(registry, state, store, ingestor, self.settings, progress)
            report.chunks_embedded = embedder.embedded - before
        return report

    def remove_source(self, name: str, *, tenant: str = DEFAULT_TENANT, keep_documents: bool = False) -> int:
        """Forget a tenant's source and (unless ``keep_documents``) delete its items from its
        collection; returns the number of items deleted."""
        registry = SourceRegistry(self.settings.data_dir)
        state = registry.get(name, tenant)
        removed = 0
        collection = state.definition.collection
        if not keep_documents and (self.collection_path(collection, tenant) / META_FILE).is_file():
            store = self.store(collection, tenant=tenant)
            with self.write_lock(store):
                removed = purge(registry, state, store, self.settings)
        registry.remove(name, tenant)
        return removed

    def check_replaceable(self, doc_ids: Sequence[str], collection: str | None, principal: Principal) -> None:
        """Raise :class:`~ragline.errors.AccessDenied` if writing ``doc_ids`` would overwrite a
        document ``principal`` may not read."""
        self._check_replaceable(
            self.store(collection, must_exist=True, tenant=principal.tenant), doc_ids, principal
        )

    @staticmethod
    def _check_replaceable(store: Store, doc_ids: Sequence[str], principal: Principal) -> None:
        """Refuse to overwrite a document ``principal`` may not read (checked under the write lock)."""
        wanted: Filter = InList("doc_id", tuple(dict.fromkeys(doc_ids)), False)
        existing = {d.doc_id for d in store.documents(wanted, limit=MAX_TOP_K)}
        if not existing:
            return
        readable = {d.doc_id for d in store.documents(scope_filter(wanted, principal), limit=MAX_TOP_K)}
        hidden = sorted(existing - readable)
        if hidden:
            # The ids are the caller's own input, so naming them reveals nothing new.
            raise AccessDenied(
                f"document id(s) {', '.join(map(repr, hidden[:5]))} are already taken by documents you "
                "may not read; choose other ids"
            )

    def _ray_ingest(self, address: str, coll: Collection, paths: list[Path], **run: Any) -> IngestReport:
        """:meth:`ingest` on Ray: the workers build the collection's model (a tuned one too)."""
        from ragline.ingest.ray import ray_ingest

        if not address.strip():
            raise ConfigError("--ray / ingest.ray_address is empty; use 'auto' or a cluster address")
        with self.write_lock(coll.store):
            return ray_ingest(
                address,
                self.settings,
                coll.store,
                coll.embedder,
                model_settings(self.settings.embedding, read_meta(coll.path)),
                self.embedding_cache,
                self.chunker,
                self.tokenizer,
                paths,
                **run,
            )

    def _ingestor(
        self, store: Store, embedder: Embedder, cleaning: CleaningSettings | None = None
    ) -> Ingestor:
        return Ingestor(self.settings, store, embedder, self.chunker, self.tokenizer, cleaning)

    @staticmethod
    def write_lock(store: Store) -> AbstractContextManager[None]:
        """The collection's writer lock: one writer per collection, across processes (a second
        ingest waits instead of embedding the same files). Releasing it bumps the collection's
        write token, which voids every cached query result of it (``ragline.cache``)."""
        lock = file_lock(
            store.root.parent / f".{store.root.name}.write.lock", f"collection {store.root.name!r}"
        )
        return _bumping(lock, store)

    def retrieval_settings(self, collection: str | None = None) -> RetrievalSettings:
        """Retrieval settings for a collection: the global ones with its ``collections`` overrides."""
        name = collection or self.settings.collection
        overrides = self.settings.collections.get(name)
        if overrides is None:
            return self.settings.retrieval
        return overrides.resolve(self.settings.retrieval, self.settings.answer)[0]

    @cached_property
    def chat_model(self) -> ChatModel | None:
        """The configured OpenAI-compatible chat model, or None when no LLM is configured."""
        if not self.settings.llm.base_url:
            return None
        # The generator's client: one circuit breaker per model for every LLM stage.
        return self.answering.llm.chat

    @cached_property
    def retrievers(self) -> RetrieverFactory:
        """Builds each collection's retriever; keeps the rerankers (and their models) it made."""
        _limit_blas_threads(self.settings.blas_threads)
        return RetrieverFactory(
            self.embedder, chat=lambda: self.chat_model, cache_dir=self.settings.cache_dir
        )

    def rerankers(
        self, r: RetrievalSettings, store: Store | None = None, embedder: Embedder | None = None
    ) -> list[Reranker]:
        """The rerankers ``r.rerank.stages`` names, in order (models load on first use)."""
        return self.retrievers.rerankers(r, store, embedder)

    def summaries_store(self, collection: str | None = None, tenant: str = DEFAULT_TENANT) -> Store | None:
        """The store of per-document summaries (``ragline summarize``), or None if not built."""
        coll = self.collection(collection, tenant=tenant, must_exist=True)
        path = coll.path / "summaries"
        if not (path / META_FILE).is_file():
            return None
        if coll.summaries is None:
            coll.summaries = self.open_store(path, coll.embedder)
        return coll.summaries

    def summarize(
        self, collection: str | None = None, *, llm: bool | None = None, tenant: str = DEFAULT_TENANT
    ) -> int:
        """Build the per-document summaries index that ``retrieval.doc_first`` searches.

        Extractive summaries offline; the configured LLM's when ``llm`` (default: when one is
        configured), falling back to extractive per document. Returns the documents summarised.
        """
        from ragline.hierarchy.summaries import ExtractiveSummarizer, LLMSummarizer
        from ragline.maintenance.summaries import rebuild_summaries

        coll = self.collection(collection, tenant=tenant, must_exist=True)
        extractive = ExtractiveSummarizer(coll.embedder)
        use_llm = (self.chat_model is not None) if llm is None else llm
        if use_llm and self.chat_model is None:
            raise ConfigError("summaries with an LLM need llm.base_url and llm.model")
        summarizer = LLMSummarizer(self.chat_model, extractive) if use_llm and self.chat_model else extractive
        # Under the write lock: the summaries describe exactly the documents that are there.
        with self.write_lock(coll.store):
            n = rebuild_summaries(coll, summarizer, self._ingestor, self.open_store)
            # The chunks store is unchanged, but documents-first searches now read new summaries.
            bump_write_token(coll.path)
        coll.summaries = None  # opened again on next use, at the rebuilt version
        return n

    def tune_embeddings(
        self,
        collection: str | None = None,
        *,
        max_pairs: int = 4000,
        epochs: int = 1,
        batch_size: int = 32,
        max_seq_length: int = 128,
        progress: Callable[[str, int, int], None] | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> TuneReport:
        """Fine-tune the collection's embedding model on pairs built from its own text, save it as
        a new version under ``<data_dir>/models/<collection>/v<N>``, and re-embed the collection
        with it (the collection then searches with that model). Never sees evaluation data.
        """
        from ragline.maintenance.tune import tune_model

        name = collection or self.settings.collection
        coll = self.collection(name, tenant=tenant, must_exist=True)
        report, out = tune_model(
            coll,
            self.settings,
            max_pairs=max_pairs,
            epochs=epochs,
            batch_size=batch_size,
            max_seq_length=max_seq_length,
            progress=progress,
        )
        self.reembed(name, out, progress=progress, tenant=tenant)
        return report

    def reembed(
        self,
        collection: str,
        model_path: Path,
        *,
        progress: Callable[[str, int, int], None] | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> int:
        """Re-embed every chunk of a collection with the model at ``model_path`` and switch the
        collection to it. Built aside and swapped in, so searches see the old or the new index."""
        from ragline.maintenance.reembed import reembed

        coll = self.collection(collection, tenant=tenant, must_exist=True)
        settings = self.settings.embedding.model_copy(update={"model_path": model_path})
        embedder = make_cached_embedder(settings, self.settings.cache_dir, self.embedding_cache)
        with self.write_lock(coll.store):
            n = reembed(coll, model_path, embedder, self._ingestor, self.open_store, progress)
            # The collection directory was swapped for the re-embedded one: every result changes.
            bump_write_token(coll.path)
        self._forget(tenant, collection)
        return n

    def migrate_tenants(self, progress: Callable[[str], None] | None = None) -> dict[str, int]:
        """Move other tenants' documents out of the default tenant's collections into their own
        namespaces: a data directory from before tenant namespaces held every tenant's documents
        in ``<data_dir>/collections``. Returns the chunks moved per tenant; safe to run again.

        Example::

            moved = engine.migrate_tenants()   # {"acme": 1200, "globex": 300}
        """
        from ragline.maintenance.tenants import migrate_tenants

        return migrate_tenants(self, progress)

    # -- data safety (docs/export-format.md; README "Back up and restore") --------------------------

    def export_collection(
        self, collection: str | None, path: Path, *, tenant: str = DEFAULT_TENANT
    ) -> TransferReport:
        """Write a collection (texts, metadata, access, vectors, sentence vectors, token states,
        sections, summaries) to a new directory in ragline's portable export format.

        Example::

            engine.export_collection("handbook", Path("/backups/handbook"))
        """
        from ragline.maintenance.portable import export_collection

        coll = self.collection(collection, tenant=tenant, must_exist=True)
        with self.write_lock(coll.store):
            return export_collection(coll, path, self.settings, self.summaries_store(coll.name, tenant))

    def import_collection(
        self, path: Path, *, collection: str | None = None, tenant: str | None = None
    ) -> TransferReport:
        """Load an export into a new (or empty) collection, by default the exported one's name and
        tenant; embeds nothing. Refuses an export of another embedding model.

        Example::

            engine.import_collection(Path("/backups/handbook"), collection="handbook-copy")
        """
        from ragline.maintenance.portable import import_collection, read_manifest

        manifest = read_manifest(path)
        tenant = tenant or str(manifest["tenant"])
        coll = self.collection(collection or str(manifest["collection"]), tenant=tenant)
        try:
            with self.write_lock(coll.store):
                return import_collection(path, coll, self.open_store, self.settings)
        finally:
            self._forget(tenant, coll.name)

    def versions(self, collection: str | None = None, *, tenant: str = DEFAULT_TENANT) -> list[StoreVersion]:
        """A collection's versions still on disk, oldest first (``ragline snapshot --list``)."""
        return versioned_store(self.store(collection, must_exist=True, tenant=tenant)).versions()

    def snapshot(
        self, collection: str | None = None, tag: str | None = None, *, tenant: str = DEFAULT_TENANT
    ) -> StoreVersion:
        """Tag a collection's current version (kept until untagged, whatever the retention).

        Example::

            v = engine.snapshot("handbook", "before-reorg")
            engine.restore("handbook", "before-reorg")
        """
        store = self.store(collection, must_exist=True, tenant=tenant)
        versioned = versioned_store(store)
        with self.write_lock(store):
            return versioned.tag_version(tag or f"snapshot-{versioned.versions()[-1].version}")

    def delete_snapshot(self, collection: str | None, tag: str, *, tenant: str = DEFAULT_TENANT) -> None:
        """Remove a snapshot tag: its version goes with the next cleanup past the retention window."""
        store = self.store(collection, must_exist=True, tenant=tenant)
        versioned = versioned_store(store)
        with self.write_lock(store):
            versioned.delete_tag(tag)

    def restore(
        self, collection: str | None, version: int | str, *, tenant: str = DEFAULT_TENANT
    ) -> StoreVersion:
        """Make an earlier version (a number or a snapshot tag) of a collection current again, as
        a new version; the summaries index is not restored (``ragline summarize`` rebuilds it)."""
        store = self.store(collection, must_exist=True, tenant=tenant)
        versioned = versioned_store(store)
        with self.write_lock(store):
            return versioned.restore_version(version)

    def with_settings(self, **updates: Any) -> Engine:
        """An engine on the same data with some settings replaced, sharing the loaded embedding
        model when the embedding settings are unchanged (ablations, experiments).

        Example::

            semantic = engine.with_settings(chunking={"strategy": "semantic"})
        """
        from ragline.settings import load_settings, merged_settings

        other = Engine(load_settings(**merged_settings(self.settings, updates)))
        if other.settings.embedding == self.settings.embedding:
            for shared in ("embedding_cache", "embedder", "tokenizer"):
                other.__dict__[shared] = getattr(self, shared)
        return other

    def retriever(
        self,
        mode: SearchMode | None = None,
        collection: str | None = None,
        retrieval: RetrievalSettings | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> Retriever:
        """The retriever for ``mode`` with the collection's settings (or ``retrieval``)."""
        coll = self.collection(collection, tenant=tenant, must_exist=True)
        return self.retrievers.retriever(
            coll.store,
            coll.embedder,
            retrieval or coll.retrieval,
            mode=mode,
            summaries=lambda: self.summaries_store(collection, tenant),
        )

    def _check_query(self, query: str, what: str = "search query") -> None:
        if not query or not query.strip():
            raise ConfigError(f"the {what} is empty; pass some text")
        if len(query) > MAX_QUERY_CHARS:
            raise ConfigError(
                f"the {what} is {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}. "
                "Use the key sentences instead of a whole document"
            )

    def search(
        self,
        query: str,
        *,
        mode: SearchMode | None = None,
        top_k: int | None = None,
        filters: Filter | Mapping[str, Any] | str | None = None,
        collection: str | None = None,
        principal: Principal | None = None,
    ) -> list[Hit]:
        """Search a collection; returns at most ``top_k`` hits, best first (empty when nothing matches).

        With a ``principal``, only chunks it may read are searched (filtered inside the store).
        """
        self._check_query(query)
        coll = self.collection(collection, tenant=tenant_of(principal), must_exist=True)
        k = top_k if top_k is not None else coll.retrieval.top_k
        if not 1 <= k <= MAX_TOP_K:
            raise ConfigError(f"top_k must be between 1 and {MAX_TOP_K}, got {k}")
        cache = self.cache
        scope = None
        if cache is not None and cache.retrieval:
            request = [mode or coll.retrieval.mode, k, filter_fingerprint(coerce_filter(filters))]
            scope = self._cache_scope("search", coll, principal, request)
            cached = cache.get_hits(scope, query)
            if cached is not None:
                return cached
        with (
            _span("retrieve", mode=mode or coll.retrieval.mode, top_k=k),
            request_deadline(self.settings.llm.deadline_s),
        ):
            retriever = self.retriever(mode, collection, tenant=coll.tenant)
            hits = retriever.run(query, k, scope_filter(filters, principal))
        if cache is not None and scope is not None and self.collection_version(coll) == scope.version:
            cache.put_hits(scope, query, hits)
        return hits

    # -- query caches ------------------------------------------------------------------------------

    @cached_property
    def cache(self) -> QueryCache | None:
        """The query cache (``[cache]``): search results and answers, keyed by tenant, access,
        collection version and settings; None when ``cache.enabled`` is false. The semantic answer
        cache is on by default ("auto") only when an LLM answers."""
        llm_answers = bool(self.settings.llm.base_url) and self.settings.answer.generator != "extractive"
        return make_cache(self.settings.cache, semantic_default=llm_answers)

    def collection_version(self, coll: Collection) -> str:
        """What changes with every write to a collection: its write token (bumped under the writer
        lock by any process) and the version its store reads now (every commit it makes or follows)."""
        return f"{write_token(coll.path)}:{read_version(coll.store)}"

    def _cache_scope(
        self, kind: str, coll: Collection, principal: Principal | None, request: Sequence[object]
    ) -> Scope:
        """The cache scope of a search or an answer of ``coll`` for ``principal``: everything but the
        query text. Settings that shape the result are fingerprinted (retrieval, its LLM stages and
        store settings, the embedding model; for answers also answer settings, generator and date,
        which the prompt names)."""
        s = self.settings
        parts: list[Any] = [coll.retrieval, s.llm, s.store, coll.embedder.model_id]
        if kind == "answer":
            parts += [coll.answer, s.answer.generator, s.chat, datetime.date.today().isoformat()]
        return Scope(
            kind=kind,
            tenant=coll.tenant,
            access=access_fingerprint(principal),
            collection=coll.name,
            version=self.collection_version(coll),
            settings=_fingerprint(*parts),
            request=json.dumps(request),
        )

    # -- answers -------------------------------------------------------------------------------------

    @cached_property
    def answering(self) -> Answering:
        """The generators (LLM, extractive per answer settings) and the answer stream."""
        return Answering(self.settings, self.embedder, lambda: self.token_counter)

    def generator_kind(self) -> Literal["extractive", "llm"]:
        """Which generator answers: the LLM when configured (or forced), else the extractive one."""
        return self.answering.kind()

    @cached_property
    def token_counter(self) -> TokenCounter:
        llm = self.settings.llm
        model = llm.model if self.generator_kind() == "llm" else None
        return make_token_counter(llm.tokenizer, model, self.tokenizer)

    @property
    def extractive(self) -> ExtractiveAnswerer:
        """The extractive answerer of the global ``answer`` settings."""
        return self.answering.extractive_for(self.settings.answer)

    def extractive_for(self, a: AnswerSettings) -> ExtractiveAnswerer:
        """The extractive answerer configured by ``a`` (a collection's answer settings)."""
        return self.answering.extractive_for(a)

    @property
    def llm(self) -> LLMGenerator:
        return self.answering.llm

    def retrieve_for_answer(
        self,
        question: str,
        *,
        filters: Filter | Mapping[str, Any] | str | None = None,
        collection: str | None = None,
        top_k: int | None = None,
        principal: Principal | None = None,
    ) -> list[Hit]:
        """The hits an answer is assembled from (the collection's ``answer.top_k`` by default).

        When more than half of them answer only when nothing else can (a manual's index, release
        notes for a question not about changes: ``text/navigation.py``), as many more hits of other
        pages are added from a second, deeper search: a whole manual's release history can fill the
        first hits of a question about a setting it changed. (Fewer leave content enough for the
        context, and a second search costs about as much as the first: it is not run for them.)"""
        coll = self.collection(collection, tenant=tenant_of(principal), must_exist=True)
        k = top_k or coll.answer.top_k
        hits = self.search(question, top_k=k, filters=filters, collection=collection, principal=principal)
        # What the question asks and where it may read, for the helpers that add to the hits.
        asked = _Asked(question, classify(question), filters, collection, principal, coll.store)
        hits = self._without_copies(asked, hits, k)
        hits = self._with_entry_default(asked, hits, k)
        hits = _named_section_first(asked, hits)
        hits = self._with_definition_lead(asked, hits)
        last = sum(answers_last(question, h.chunk.title, h.chunk.text) for h in hits)
        if 2 * last <= k or len(hits) < k:
            return hits
        deeper = self._deeper(asked, 2 * k)
        kept = {h.chunk.id for h in hits}
        more = [
            h
            for h in _distinct(deeper, hits)
            if h.chunk.id not in kept and not answers_last(question, h.chunk.title, h.chunk.text)
        ]
        return hits + more[:last]

    def _deeper(self, asked: _Asked, top_k: int) -> list[Hit]:
        """The question's search again, ``top_k`` deep, through the same filters and principal."""
        return self.search(
            asked.question,
            top_k=top_k,
            filters=asked.filters,
            collection=asked.collection,
            principal=asked.principal,
        )

    def _without_copies(self, asked: _Asked, hits: list[Hit], k: int) -> list[Hit]:
        """``hits`` with a chunk whose text an earlier hit already holds left out, filled up to
        ``k`` from a deeper search when any was. A manual that repeats its pages whole (FFmpeg's
        ffmpeg-all.html holds ffmpeg.html, ffmpeg-filters.html ...; Mutt's manual.html its
        chapters) put six copies of two chunks in a question's first ten hits: the context would
        quote one passage six times and leave out the next one. Searches keep every copy (a
        corpus's duplicate documents are each relevant to a benchmark); only the answer's
        context reads each text once."""
        distinct = _distinct(hits)
        if len(distinct) == len(hits):
            return hits
        deeper = self._deeper(asked, 4 * k)
        # The first search's order stands (a deeper search ranks its head a little differently);
        # the deeper one only fills the room the copies leave.
        return distinct + _distinct(deeper, distinct)[: k - len(distinct)]

    def _with_entry_default(self, asked: _Asked, hits: list[Hit], k: int) -> list[Hit]:
        """``hits``, and for a default asked of a named entry that none of them states (inside
        the entry, with a value), the first such chunk of a deeper search placed second: a
        function's page repeats its name in every example, and the one sentence of its
        Description that says "(default is 8)" ranked 17th, out of the context's room. A value
        asked of no identifier may sit in a table's row instead (:meth:`_with_table_row`)."""
        question, need = asked.question, asked.need
        if need.kind not in ("default", "number") or len(hits) < k:
            return hits
        if need.kind == "number" or not asked_identifiers(need, question):
            return self._with_table_row(asked, hits)

        def wanted(h: Hit) -> bool:
            return states_entry_default(need, question, h.chunk.section_path, h.chunk.text)

        if any(wanted(h) for h in hits):
            return hits
        kept = {h.chunk.id for h in hits}
        found = next((h for h in self._deeper(asked, 3 * k) if h.chunk.id not in kept and wanted(h)), None)
        return hits if found is None else [*hits[:1], found, *hits[1:]]

    def _with_table_row(self, asked: _Asked, hits: list[Hit]) -> list[Hit]:
        """``hits``, and when none of them holds the table row that answers, the first chunk of a
        keyword lookup of the question's words that does, placed second: for a default, a row
        whose first cell is a word of the question with a "Default" cell ("What is the default
        fontsize?" over "| fontsize | ENGC | double | 14.0 | ..."); for a number, a row the
        question looks up by one cell for the column it names ("the minimum value of the height
        attribute" over "| height | N | double | 0.5 | 0.02 |" under "Minimum"). A chunk of
        twenty rows is far from the question by its embedding: the fused ranking put Graphviz's
        "searchsize" row 23rd of 40, out of a deeper search of 24. The lookup is by the words
        alone."""
        words = frozenset(terms(asked.question)) - NEED_WORDS
        if not words:
            return hits

        def answers(chunk: Chunk) -> bool:
            if asked.need.kind == "default":
                return default_row_of(words, chunk.section_path, chunk.text)
            return asked_row_of(asked.question, chunk.section_path, chunk.text)

        if any(answers(h.chunk) for h in hits):
            return hits
        store = asked.store
        if not isinstance(store, KeywordSearch):
            log.info("no table row lookup: the %s store has no keyword search", type(store).__name__)
            return hits
        found = store.keyword_candidates(
            " ".join(sorted(words)), max(3 * len(hits), ROW_LOOKUP_DEPTH), asked.scope
        )
        kept = {h.chunk.id for h in hits}
        for chunk in store.fetch_chunks([c for c in found if c.chunk_id not in kept]):
            if answers(chunk):
                return _placed_second(hits, chunk)
        return hits

    def _with_definition_lead(self, asked: _Asked, hits: list[Hit]) -> list[Hit]:
        """``hits``, and for "What is X (for)?" asked of a name (``mod_delay``) whose own page is
        among them but not that page's opening chunk, the opening chunk placed second when it
        opens with X as its subject: the other chunks of X's page name X more often than its
        lead sentence ("The mod_delay module is designed to make ... a "timing attack", harder.")
        and outranked it."""
        term = defined_term(asked.need, asked.question)
        idents = [w for w in term.split() if is_identifier(w)] if term else []
        if len(idents) != 1 or not hits:
            return hits
        ident = idents[0]
        pages = [h for h in hits if names(ident, h.chunk.title)]
        if not pages or any(h.chunk.position == 0 for h in pages):
            return hits
        keys = list(dict.fromkeys((h.chunk.doc_id, 0) for h in pages))
        for lead in asked.store.chunks_at(keys, asked.scope):
            paragraphs = [b for b in lead.text.split("\n\n") if b.strip() and not b.lstrip().startswith("#")]
            if any(is_subject(ident, b) for b in paragraphs[:2]):
                return _placed_second(hits, lead)
        return hits

    def assembler(self, collection: str | None = None, tenant: str = DEFAULT_TENANT) -> ContextAssembler:
        """The context assembler for a collection, configured by its ``answer`` settings."""
        coll = self.collection(collection, tenant=tenant, must_exist=True)
        a = coll.answer
        return ContextAssembler(
            coll.store,
            self.token_counter,
            budget=a.context_tokens,
            expand=a.expand,
            window_sentences=a.window_sentences,
            order=a.order,
        )

    def assemble(
        self,
        hits: Sequence[Hit],
        *,
        budget: int | None = None,
        collection: str | None = None,
        principal: Principal | None = None,
        query: str = "",
    ) -> Context:
        """Expand, merge and fit ``hits`` into a context of at most ``budget`` tokens.

        With a ``principal``, expansion (neighbouring chunks, parent sections) reads only what it
        may read, exactly as the search did. With the ``query``, a passage trimmed to the room
        left keeps the sentences around the one that shares most words with it.
        """
        assembler = self.assembler(collection, tenant_of(principal))
        return assembler.run(hits, budget, scope=scope_filter(None, principal), query=query)

    @overload
    def ask(
        self,
        question: str,
        *,
        filters: Filter | Mapping[str, Any] | str | None = ...,
        collection: str | None = ...,
        stream: Literal[False] = ...,
        debug: bool = ...,
        principal: Principal | None = ...,
        history: Sequence[Turn] | None = ...,
    ) -> Answer: ...

    @overload
    def ask(
        self,
        question: str,
        *,
        filters: Filter | Mapping[str, Any] | str | None = ...,
        collection: str | None = ...,
        stream: Literal[True],
        debug: bool = ...,
        principal: Principal | None = ...,
        history: Sequence[Turn] | None = ...,
    ) -> Iterator[StreamEvent]: ...

    def ask(
        self,
        question: str,
        *,
        filters: Filter | Mapping[str, Any] | str | None = None,
        collection: str | None = None,
        stream: bool = False,
        debug: bool = False,
        principal: Principal | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Answer | Iterator[StreamEvent]:
        """Answer ``question`` from a collection, with numbered citations.

        With ``history`` (the earlier turns of a conversation), a follow-up that depends on them
        ("And on Windows?") is rewritten into a standalone query before retrieval (see
        :meth:`condense`); ``debug`` shows that query (``answer.debug.query``).

        With ``stream=True`` returns an iterator of :class:`~ragline.types.Token` events (and
        :class:`~ragline.types.Restart` when an LLM attempt failed mid-answer) ending with one
        :class:`~ragline.types.Final` that holds the complete :class:`~ragline.types.Answer`.
        Retrieval happens before this returns, so bad input raises here, not while iterating.
        With a ``principal``, the answer is built only from chunks it may read.

        Example::

            answer = engine.ask("How do I create a virtual environment?")
            print(answer.text)
            for c in answer.citations:
                print(c.n, c.source, c.section_path, c.start, c.end)
        """
        self._check_query(question, "question")
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        # One deadline for every LLM stage of this answer: condensing, retrieval's and generation's.
        limit = self.settings.llm.deadline_s
        dl = deadline.current() or (Deadline.start(limit) if limit is not None else None)
        condensed = None
        if history:
            with _span("condense", turns=len(history)), dl.active() if dl is not None else nullcontext():
                condensed = self.condense(question, history)
            timings["condense"] = (time.perf_counter() - t0) * 1000
        cache = self.cache
        if cache is not None and cache.answers:
            coll = self.collection(collection, tenant=tenant_of(principal), must_exist=True)
            scope = self._cache_scope(
                "answer", coll, principal, [filter_fingerprint(coerce_filter(filters)), debug]
            )
            # A follow-up is keyed on its standalone query too ("And on Windows?" means another
            # question in each conversation), and the semantic cache is for questions alone.
            text = question if condensed is None else f"{question}\x00{condensed.query}"
            semantic = condensed is None

            def embed() -> Any:
                return coll.embedder.embed_query(semantic_form(question))

            cached, vector = cache.get_answer(scope, text, embed, semantic=semantic)
            if cached is not None:
                replayed = _replay(replace(cached, question=question), t0)
                return replayed if stream else collect(replayed)

            def put(answer: Answer) -> None:
                # A degraded answer (every LLM failed) is not kept: the next ask may reach the LLM.
                if answer.mode != "degraded" and self.collection_version(coll) == scope.version:
                    cache.put_answer(scope, text, answer, vector, embed, semantic=semantic)

            answered = self._answer(
                question, condensed, timings, filters, collection, debug, principal, t0, dl
            )
            events = _caching(answered, put)
            return events if stream else collect(events)
        events = self._answer(question, condensed, timings, filters, collection, debug, principal, t0, dl)
        return events if stream else collect(events)

    def _answer(
        self,
        question: str,
        condensed: Condensed | None,
        timings: dict[str, float],
        filters: Filter | Mapping[str, Any] | str | None,
        collection: str | None,
        debug: bool,
        principal: Principal | None,
        t0: float,
        dl: Deadline | None,
    ) -> Iterator[StreamEvent]:
        """Retrieve, assemble, and the generator's events (what ``ask`` runs on a cache miss)."""
        query = condensed.query if condensed is not None else question
        t_retrieve = time.perf_counter()
        with dl.active() if dl is not None else nullcontext():
            hits = self.retrieve_for_answer(
                query, filters=filters, collection=collection, principal=principal
            )
        t1 = time.perf_counter()
        with _span("assemble", hits=len(hits)):
            context = self.assemble(hits, collection=collection, principal=principal, query=query)
        t2 = time.perf_counter()
        timings |= {"retrieve": (t1 - t_retrieve) * 1000, "assemble": (t2 - t1) * 1000}
        # Started here, not in the generator: a stream is consumed later, often on another thread,
        # and the span must still join this request's trace.
        gen_span = start_span("generate", generator=self.generator_kind())

        def on_answer(answer: Answer) -> None:
            gen_span.set_attribute("mode", answer.mode)
            gen_span.set_attribute("abstained", answer.abstained)

        coll = self.collection(collection, tenant=tenant_of(principal))
        generated = self.answering.stream(
            question,
            hits,
            context,
            self.answering.extractive_for(coll.answer, coll.store),
            timings=timings,
            t0=t0,
            debug=debug,
            on_answer=on_answer,
            answer_settings=coll.answer,
            condensed=condensed,
        )
        return _ending(gen_span, generated if dl is None else dl.bind(generated))

    @cached_property
    def condenser(self) -> Condenser:
        """Rewrites follow-ups into standalone queries (``chat.condense``): the LLM when one is
        configured (``auto``) or asked for, falling back to the offline rules."""
        mode = self.settings.chat.condense
        if mode == "off":
            return NoCondenser()
        rules = RuleCondenser()
        if mode == "rules" or (mode == "auto" and self.chat_model is None):
            return rules
        if self.chat_model is None:
            raise ConfigError(
                "chat.condense = 'llm' needs llm.base_url and llm.model; "
                "use chat.condense = 'rules' for the offline condenser"
            )
        return LLMCondenser(self.chat_model, rules)

    def condense(self, question: str, history: Sequence[Turn]) -> Condensed:
        """The standalone query for ``question`` after ``history`` (its last ``chat.history_turns``
        turns are read): unchanged when it stands alone.

        Example::

            engine.condense("And on Windows?", [Turn("user", "How do I install ragline on Linux?")]).query
            # 'How do I install ragline on Windows?'
        """
        self._check_query(question, "question")
        for t in history:
            if not isinstance(t, Turn):
                raise ConfigError(f"history holds a {type(t).__name__}; give Turn(role, content) records")
        recent = [t for t in history if t.role != "system"][-self.settings.chat.history_turns :]
        if not recent:
            return Condensed(question, question)
        return self.condenser.condense(question, recent)

    @overload
    def chat(
        self,
        messages: Sequence[Turn | Mapping[str, Any]],
        *,
        filters: Filter | Mapping[str, Any] | str | None = ...,
        collection: str | None = ...,
        stream: Literal[False] = ...,
        debug: bool = ...,
        principal: Principal | None = ...,
    ) -> Answer: ...

    @overload
    def chat(
        self,
        messages: Sequence[Turn | Mapping[str, Any]],
        *,
        filters: Filter | Mapping[str, Any] | str | None = ...,
        collection: str | None = ...,
        stream: Literal[True],
        debug: bool = ...,
        principal: Principal | None = ...,
    ) -> Iterator[StreamEvent]: ...

    def chat(
        self,
        messages: Sequence[Turn | Mapping[str, Any]],
        *,
        filters: Filter | Mapping[str, Any] | str | None = None,
        collection: str | None = None,
        stream: bool = False,
        debug: bool = False,
        principal: Principal | None = None,
    ) -> Answer | Iterator[StreamEvent]:
        """Answer the last user message of a conversation: :meth:`ask` with the earlier user and
        assistant messages as history (system messages are left out of retrieval).

        Example::

            answer = engine.chat([
                {"role": "user", "content": "How do I install ragline on Linux?"},
                {"role": "assistant", "content": "Run pip install ragline [1]."},
                {"role": "user", "content": "And on Windows?"},
            ], debug=True)
            print(answer.debug.query)   # How do I install ragline on Windows?
        """
        question, history = split_messages(messages)
        if stream:
            return self.ask(
                question,
                filters=filters,
                collection=collection,
                stream=True,
                debug=debug,
                principal=principal,
                history=history,
            )
        return self.ask(
            question,
            filters=filters,
            collection=collection,
            debug=debug,
            principal=principal,
            history=history,
        )

    def documents(
        self,
        *,
        collection: str | None = None,
        principal: Principal | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DocumentInfo]:
        """The documents of a collection (those ``principal`` may read), ordered by id."""
        if not 1 <= limit <= MAX_TOP_K or offset < 0:
            raise ConfigError(f"limit must be 1..{MAX_TOP_K} and offset >= 0, got {limit} and {offset}")
        store = self.store(collection, must_exist=True, tenant=tenant_of(principal))
        return store.documents(scope_filter(None, principal), limit=limit, offset=offset)

    def document(
        self, doc_id: str, *, collection: str | None = None, principal: Principal | None = None
    ) -> DocumentView | None:
        """One document with its text rebuilt from its chunks, or None if absent or not readable."""
        store = self.store(collection, must_exist=True, tenant=tenant_of(principal))
        by_id: Filter = Compare("doc_id", "$eq", doc_id)
        scoped = by_id if principal is None else And((Visible(principal), by_id))
        chunks = store.find_chunks(scoped)
        if not chunks:
            return None
        info = store.documents(scoped, limit=1)[0]
        return DocumentView(info=info, text=text_from_chunks(chunks), chunks=chunks)

    def delete(
        self,
        doc_ids: Sequence[str],
        *,
        collection: str | None = None,
        principal: Principal | None = None,
    ) -> int:
        """Delete documents by id; returns the number of chunks removed.

        With a ``principal``, only the chunks of documents it may read are deleted (in its own
        tenant's collection); whatever else carries the same id is left alone.
        """
        coll = self.collection(collection, must_exist=True, tenant=tenant_of(principal))
        store = coll.store
        with self.write_lock(store):
            removed = store.delete_documents(doc_ids, scope_filter(None, principal))
            if removed:
                # The near-duplicate index forgets what the store no longer holds, so a copy of a
                # deleted original is indexed on its next ingest.
                left = {
                    d.doc_id
                    for d in store.documents(InList("doc_id", tuple(doc_ids), False), limit=MAX_TOP_K)
                }
                near_dup_index(store, coll.cleaning.near_duplicates).remove_documents(
                    [d for d in dict.fromkeys(doc_ids) if d not in left]
                )
            return removed

    def stats(self, collection: str | None = None, *, principal: Principal | None = None) -> CollectionStats:
        """Counts and index state of a collection; with a ``principal``, the counts are of what it
        may read."""
        name = collection or self.settings.collection
        store = self.store(name, must_exist=True, tenant=tenant_of(principal))
        return CollectionStats(
            name=name, path=str(store.root), store=store.stats(scope_filter(None, principal))
        )
