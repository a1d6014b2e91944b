"""The configurable retrieval pipeline: query processing, (hierarchical) hybrid search, fusion,
reranking. Each stage is off unless ``retrieval`` settings turn it on, so the default path costs
what plain hybrid search costs.

Stages, in order (each named by its settings group, ``retrieval.<group>``):

1. **Route** (``query.router``): fact / summary / comparison (``query.router.classify``); summary
   questions search documents first, comparison questions are decomposed.
2. **Filters** (``query.auto_filters``): metadata filters read from the question, validated
   against the collection's fields, ANDed with the caller's filter (which always includes access
   control).
3. **Queries**: the question, plus LLM rewrites (``query.multi_query``, RAG-Fusion) and
   sub-questions (``query.decompose``); each falls back to its offline counterpart.
4. **Per query**: dense side on the query embedding (averaged with a HyDE passage's embedding
   when ``query.hyde``), keyword side on the query (RM3-expanded when ``feedback.keyword``, for
   queries of at most ``max_query_terms`` content words if set), dense side searched again from a
   Rocchio-moved vector when ``feedback.dense`` (gated likewise), and the sentence vectors when
   ``sentences``; each feedback list replaces or joins its side (``feedback.fusion``); candidates
   restricted to the best documents by summary when ``doc_first``; fused (``fusion``), each
   side's weight split evenly between its lists.
5. **Across queries**: reciprocal rank fusion of the per-query lists.
   **Smoothing** (``smoothing``): each of the top ``smoothing.docs`` documents' score moves
   towards its ``smoothing.neighbours`` most similar documents' scores (Diaz 2005).
6. **Rerank** (``rerank``): the first ``rerank.candidates`` hits through each reranker in order.
7. **Adaptive k** (``query.adaptive_k``): cut the list where scores fall off.

A stage needing a search capability the store lacks (:mod:`ragline.store.base`: sentence search,
vector fetch, ...) is skipped, as if turned off, and the lack is logged once per store.

Example::

    retriever = PipelineRetriever(store, embedder, RetrievalSettings(rerank={"stages": ["mmr"]}))
    hits = retriever.run("statins and breast cancer survival", top_k=10)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from functools import partial
from typing import Any, TypeVar

import numpy as np

from ragline.embedding.base import Embedder
from ragline.errors import ConfigError
from ragline.generation.base import ChatModel
from ragline.query.auto_filters import extract_filters
from ragline.query.llm import decompose, hyde, llm_filters, multi_query
from ragline.query.prf import PRFKeywordExpander
from ragline.query.router import adaptive_k, classify, split_question
from ragline.query.vector_prf import rocchio
from ragline.rerank.base import Reranker
from ragline.rerank.late_interaction import LateInteractionReranker, ReadAhead, TokenStates
from ragline.retrieval.fusion import reciprocal_rank_fusion
from ragline.retrieval.retrievers import (
    NO_DENSE,
    NO_KEYWORD,
    SEARCH_POOL,
    Fused,
    dense_candidates,
    fuse,
    fuse_lists,
    keyword_candidates,
)
from ragline.retrieval.smoothing import best_per_document, first_per_document, smooth_hits, smooth_scores
from ragline.settings import RetrievalSettings
from ragline.store.base import (
    Candidate,
    DocIdFetch,
    Store,
    VectorFetch,
    dense_search,
    doc_id_fetch,
    keyword_search,
    searches_in_memory,
    sentence_scores,
    sentence_search,
    token_states_of,
    vector_fetch,
)
from ragline.store.exact import unit_rows
from ragline.store.filters import And, Filter, InList
from ragline.telemetry import span
from ragline.text.words import content_words
from ragline.types import Hit, RetrieverName

log = logging.getLogger(__name__)
T = TypeVar("T")
# Metadata fields the rule-based filter extraction maps time and version phrases to, if present.
_YEAR_FIELDS = ("year", "published_year")
_DATE_FIELDS = ("date", "published", "updated")
_VERSION_FIELDS = ("version",)
# Token states read ahead beyond the rerank head when smoothing runs after the rows are read: it
# lifts hits from below the head into it (with none extra, 2.4-2.9 per query on SciFact/NFCorpus,
# read at rerank time; with 10, 0.4-0.5). Smoothing on document ids runs first, so the head it
# leaves is read ahead exactly.
_AHEAD_EXTRA = 10


def _and(a: Filter | None, b: Filter | None) -> Filter | None:
    if a is None:
        return b
    return a if b is None else And((a, b))


def _result_or_run(job: Future[T], fn: Callable[..., T], *args: Any) -> T:
    """``job``'s result, or ``fn(*args)`` run here when the pool has not started ``job`` yet: on a
    busy machine waiting for a pool thread to be scheduled costs more than the search itself."""
    return fn(*args) if job.cancel() else job.result()


def _within(terms: int, limit: int | None) -> bool:
    """A feedback gate: no limit, or a query of at most ``limit`` content words."""
    return limit is None or terms <= limit


class PipelineRetriever:
    """Hybrid retrieval with the query-processing, hierarchical and reranking stages configured.

    ``chat`` serves the LLM stages (None: their offline fallbacks run); ``summaries`` is the
    store of per-document summaries that ``doc_first`` searches; ``rerankers`` run in order.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: RetrievalSettings,
        *,
        chat: ChatModel | None = None,
        summaries: Store | None = None,
        rerankers: Sequence[Reranker] = (),
        field_values: Callable[[], dict[str, list[str]]] | None = None,
    ) -> None:
        if settings.doc_first.enabled and summaries is None:
            raise ConfigError(
                "retrieval.doc_first needs document summaries: run `ragline summarize --collection NAME` "
                "(or set retrieval.doc_first.enabled = false)"
            )
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.chat = chat
        self.summaries = summaries
        self.rerankers = list(rerankers)
        self.field_values = field_values
        # The capabilities each configured stage needs, asked for once; a missing one skips its stage.
        self.dense = dense_search(store, log, NO_DENSE)
        self.keyword = keyword_search(store, log, NO_KEYWORD)
        self.sentences = (
            sentence_search(store, log, "retrieval.sentences is skipped") if settings.sentences else None
        )
        # The sentence list from the other searches' candidates (exact MaxSim over their stored
        # sentences) instead of a search of every sentence (sentence_search = "candidates").
        self.sentence_scores = (
            sentence_scores(store)
            if self.sentences is not None and settings.sentence_search == "candidates"
            else None
        )
        self.vectors = (
            vector_fetch(store, log, "retrieval.feedback.dense and retrieval.smoothing are skipped")
            if settings.feedback.dense.enabled or settings.smoothing.enabled
            else None
        )
        # With document ids apart from rows, smoothing runs before the rows are read, and only
        # the head's are (30 of SciFact's 90 fused rows: ~1.5 ms less per query).
        self.doc_ids = (
            doc_id_fetch(store) if settings.smoothing.enabled and self.vectors is not None else None
        )

    # -- stages ------------------------------------------------------------------------------------

    def _auto_filter(self, query: str) -> Filter | None:
        mode = self.settings.query.auto_filters
        if mode == "off":
            return None
        fields = self.store.metadata_fields()
        values = self.field_values() if self.field_values else {}

        def pick(names: Sequence[str]) -> str | None:
            return next((n for n in names if n in fields), None)

        year, date, version = pick(_YEAR_FIELDS), pick(_DATE_FIELDS), pick(_VERSION_FIELDS)
        if mode == "llm":
            return llm_filters(
                self.chat, query, fields, values, date_field=date, year_field=year, version_field=version
            )
        return extract_filters(
            query, fields, values=values, date_field=date, year_field=year, version_field=version
        ).filter

    def _queries(self, query: str, comparison: bool) -> list[str]:
        q = self.settings.query
        queries = [query]
        if q.multi_query:
            queries = multi_query(self.chat, query, q.multi_query)
        if q.decompose or comparison:
            parts = decompose(self.chat, query) if self.chat is not None else split_question(query)
            queries += [p for p in parts if p not in queries]
        return queries

    def _dense_vector(self, query: str) -> np.ndarray:
        v = self.embedder.embed_query(query)
        if self.settings.query.hyde:
            passage = hyde(self.chat, query)
            if passage:
                # Averaging keeps the question's own signal when the hypothetical passage drifts.
                h = self.embedder.embed_documents([passage])[0]
                v = (v + h) / max(float(np.linalg.norm(v + h)), 1e-9)
        return np.asarray(v, dtype=np.float32)

    def _doc_filter(self, summaries: Store, query: str, filters: Filter | None) -> Filter | None:
        vec = self.embedder.embed_query(query)
        n = self.settings.doc_first.candidates
        dense = dense_candidates(dense_search(summaries, log, NO_DENSE), vec, n, filters)
        keyword = keyword_candidates(keyword_search(summaries, log, NO_KEYWORD), query, n, filters)
        f = self.settings.fusion
        fused = fuse(dense, keyword, n, f.method, f.rrf_k, f.alpha)
        # A summary is indexed under its document's id, so its chunks name the document.
        docs = dict.fromkeys(c.doc_id for c in summaries.fetch_chunks([f.candidate for f in fused]))
        return InList("doc_id", tuple(docs), negate=False) if docs else None

    def _search_one(self, query: str, n: int, filters: Filter | None, doc_level: bool) -> list[Fused]:
        fb, f = self.settings.feedback, self.settings.fusion
        if doc_level and self.summaries is not None:
            docs = self._doc_filter(self.summaries, query, filters)
            if docs is None:
                return []
            filters = _and(filters, docs)
        # The searches release the GIL. The keyword side (BM25, then its RM3 feedback search,
        # which needs nothing from the dense side) runs on the pool as one job while this thread
        # embeds the query; an index's sentence search then runs on the pool beside the dense
        # searches (or here, when the pool has not started it by the time it is needed). Pool
        # jobs never wait on other pool jobs, so concurrent queries cannot deadlock it.
        terms = len(content_words(query))
        first_keyword: Future[list[Candidate]] = Future()
        keyword_job = SEARCH_POOL.submit(self._keyword_side, query, n, filters, terms, first_keyword)
        sentence_job: Future[list[Candidate]] | None = None
        # What the sentence job runs, run here instead when the pool has not started it.
        sentence_call: Callable[[], list[Candidate]] | None = None
        sentence_candidates: list[Candidate] | None = None
        try:
            vector = self._dense_vector(query)
            # An index search waits on I/O and LanceDB's threads and gains from the pool (100k
            # chunks: p50 -21 %); a memory-bound scan gained ~1 ms on a quiet machine and lost
            # 7-14 % of SciFact's p50 on the loaded one, so it stays on this thread.
            scan = searches_in_memory(self.store)
            among = self.sentence_scores is not None
            if self.sentences is not None and not scan and not among:
                sentence_call = partial(self.sentences.sentence_candidates, vector, n, filters)
                sentence_job = SEARCH_POOL.submit(sentence_call)
            dense = dense_candidates(self.dense, vector, n, filters)
            if self.sentences is not None and scan and not among:
                sentence_candidates = self.sentences.sentence_candidates(vector, n, filters)
            keyword = first_keyword.result()
            moved: list[Candidate] | None = None
            rocchio_on = fb.dense.enabled and dense and _within(terms, fb.dense.max_query_terms)
            rocchio_on = bool(rocchio_on and self.vectors is not None)
            if among:
                sentence_call = partial(self._sentences_among, vector, dense, keyword, n)
                if rocchio_on:
                    # The candidates' sentences are read on the pool beside Rocchio's search here.
                    sentence_job = SEARCH_POOL.submit(sentence_call)
                else:
                    sentence_candidates = sentence_call()
            if rocchio_on and self.vectors is not None:
                first = fuse(dense, keyword, fb.dense.docs, f.method, f.rrf_k, f.alpha)
                if fb.dense.search == "candidates" and not scan:
                    moved = self._rocchio_among(self.vectors, vector, dense, keyword, first, n)
                if moved is None:
                    # Below the threshold (or with "index"): the moved vector searches again.
                    vectors = self.vectors.fetch_vectors([f.candidate for f in first])
                    if len(vectors):
                        beta = fb.dense.beta
                        moved = dense_candidates(self.dense, rocchio(vector, vectors, beta), n, filters)
            if sentence_job is not None and sentence_call is not None:
                sentence_candidates = _result_or_run(sentence_job, sentence_call)
        finally:
            # Awaited even when this thread failed, so no search outlives the call.
            if sentence_job is not None:
                wait([sentence_job])
            expanded = keyword_job.result()
        dense_side: list[tuple[RetrieverName, Sequence[Candidate]]] = [("dense", dense)]
        keyword_side: list[tuple[RetrieverName, Sequence[Candidate]]] = [("keyword", keyword)]
        if sentence_candidates:
            dense_side.append(("dense_sentences", sentence_candidates))
        if moved is not None:
            self._with_feedback(dense_side, "dense_prf", moved)
        if expanded is not None:
            self._with_feedback(keyword_side, "keyword_prf", expanded)
        # RRF counts lists, not scores: alpha only weighs the score-based fusions. Each side's
        # weight is split evenly between its lists.
        w_dense = 0.5 if f.method == "rrf" else f.alpha
        sides: list[tuple[RetrieverName, Sequence[Candidate], float]] = [
            (name, found, w_dense / len(dense_side)) for name, found in dense_side
        ] + [(name, found, (1.0 - w_dense) / len(keyword_side)) for name, found in keyword_side]
        return fuse_lists(sides, n, f.method, f.rrf_k)

    def _sentences_among(
        self, vector: np.ndarray, dense: Sequence[Candidate], keyword: Sequence[Candidate], n: int
    ) -> list[Candidate]:
        """The sentence list from the dense and keyword candidates: the ``n`` best of them by
        MaxSim over their stored sentence vectors (``retrieval.sentence_search = "candidates"``)."""
        if self.sentence_scores is None:
            return []
        return self.sentence_scores.sentence_scores(vector, [*dense, *keyword])[:n]

    def _rocchio_among(
        self,
        fetch: VectorFetch,
        vector: np.ndarray,
        dense: Sequence[Candidate],
        keyword: Sequence[Candidate],
        first: Sequence[Fused],
        n: int,
    ) -> list[Candidate] | None:
        """Rocchio's feedback list from the first dense and keyword candidates: the ``n`` best of
        them by exact cosine of their stored vectors with the moved vector, all read in one fetch
        that also gives the feedback rows (``feedback.dense.search = "candidates"``). They passed
        the filters already. None when a row is gone (a concurrent delete): the index is searched."""
        pool = list({c.chunk_id: c for c in (*dense, *keyword)}.values())
        vectors = fetch.fetch_vectors(pool)
        if len(vectors) != len(pool):
            return None
        at = {c.chunk_id: i for i, c in enumerate(pool)}
        feedback = vectors[[at[f.candidate.chunk_id] for f in first]]
        moved = rocchio(vector, feedback, self.settings.feedback.dense.beta)
        scores = unit_rows(vectors) @ moved
        best = np.argsort(-scores, kind="stable")[:n]
        return [pool[i]._replace(score=float(scores[i])) for i in best.tolist()]

    def _keyword_side(
        self, query: str, n: int, filters: Filter | None, terms: int, first: Future[list[Candidate]]
    ) -> list[Candidate] | None:
        """The keyword candidates (set on ``first`` as soon as found), then those of the
        RM3-expanded query when ``feedback.keyword`` applies (None when it does not)."""
        try:
            keyword = keyword_candidates(self.keyword, query, n, filters)
        except BaseException as exc:
            first.set_exception(exc)
            raise
        first.set_result(keyword)
        rm3 = self.settings.feedback.keyword
        if not (rm3.enabled and keyword and _within(terms, rm3.max_query_terms)):
            return None
        return self._rm3_candidates(query, keyword, n, filters)

    def _rm3_candidates(
        self, query: str, keyword: Sequence[Candidate], n: int, filters: Filter | None
    ) -> list[Candidate] | None:
        """Keyword candidates for the RM3-expanded query, feedback from the first pass's top
        ``feedback.keyword.docs``; None when expansion leaves the query unchanged."""
        rm3 = self.settings.feedback.keyword
        feedback = keyword[: rm3.docs]
        expander = PRFKeywordExpander(None, fb_docs=rm3.docs, fb_terms=rm3.terms, original_weight=rm3.weight)
        expanded = expander.expand_texts(query, self.store.fetch_texts(feedback), [c.score for c in feedback])
        return None if expanded == query else keyword_candidates(self.keyword, expanded, n, filters)

    def _with_feedback(
        self,
        side: list[tuple[RetrieverName, Sequence[Candidate]]],
        name: RetrieverName,
        found: Sequence[Candidate],
    ) -> None:
        """Replace the side's first-pass list with the feedback search, or add it beside."""
        if self.settings.feedback.fusion == "replace":
            side[0] = (side[0][0], found)
        else:
            side.append((name, found))

    def _smooth(self, hits: list[Hit], candidates: Sequence[Candidate]) -> list[Hit]:
        """Score regularization over the top ``smoothing.docs`` documents, each represented by its
        best hit's stored vector (the cosine neighbours are the documents' best chunks)."""
        s = self.settings.smoothing
        if self.vectors is None:
            return hits
        firsts = best_per_document(hits, s.docs)
        vectors = self.vectors.fetch_vectors([candidates[i] for i in firsts])
        if len(vectors) != len(firsts):  # a concurrent delete took one: rank without smoothing
            return hits
        with span("smooth", documents=len(firsts)):
            return smooth_hits(hits, firsts, vectors, s.neighbours, s.weight)

    def _smooth_fused(self, fused: list[Fused], ids: DocIdFetch, vecs: VectorFetch) -> list[Fused]:
        """:meth:`_smooth` on the fused list itself, reading its document ids instead of its rows;
        candidates no longer stored are dropped, as reading their rows would."""
        s = self.settings.smoothing
        doc_ids = ids.fetch_doc_ids([f.candidate for f in fused])
        kept = [f for f, d in zip(fused, doc_ids, strict=True) if d is not None]
        docs = [d for d in doc_ids if d is not None]
        firsts = first_per_document(docs, s.docs)
        vectors = vecs.fetch_vectors([kept[i].candidate for i in firsts])
        if len(vectors) != len(firsts):  # a concurrent delete took one: rank without smoothing
            return kept
        with span("smooth", documents=len(firsts)):
            order = smooth_scores(docs, [f.score for f in kept], firsts, vectors, s.neighbours, s.weight)
        return [kept[i]._replace(score=score) for i, score in order]

    def _read_ahead(self, candidates: Sequence[Candidate]) -> dict[int, TokenStates]:
        """A :class:`ReadAhead` of ``candidates``' chunks per token-state source the rerankers read
        (keyed by its ``id``; by row reference where the source can); none without candidates,
        nor for a store that searches in memory:
        it holds its token states too, and decoding them beside the row read and smoothing on a
        loaded machine cost the calling thread more than it saved (p50 +2.4 to +3.5 ms on SciFact
        and NFCorpus, docs/benchmarks.md), where a read from disk gains from the overlap."""
        ahead: dict[int, TokenStates] = {}
        unique = list({c.chunk_id: c for c in reversed(candidates)}.values())[::-1]
        ids = [c.chunk_id for c in unique]
        for r in self.rerankers if candidates else ():
            if not isinstance(r, LateInteractionReranker) or r.states is None or id(r.states) in ahead:
                continue
            if not searches_in_memory(r.states):
                by_ref = token_states_of(r.states)
                read = partial(by_ref.fetch_token_states_of, unique) if by_ref is not None else None
                ahead[id(r.states)] = ReadAhead(r.states, ids, SEARCH_POOL, read)
        return ahead

    # -- the whole run -------------------------------------------------------------------------------

    def run(self, query: str, top_k: int, filters: Filter | None = None) -> list[Hit]:
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {top_k}")
        s = self.settings
        route = classify(query) if s.query.router else "fact"
        filters = _and(filters, self._auto_filter(query))
        pool = max(top_k, s.rerank.candidates if self.rerankers else top_k)
        n = pool * s.candidate_multiplier
        doc_level = s.doc_first.enabled or route == "summary"
        lists = [
            self._search_one(q, n, filters, doc_level and self.summaries is not None)
            for q in self._queries(query, route == "comparison")
        ]
        # Smoothing looks at the neighbours among the top documents, so it sees deeper than pool.
        take = max(pool, 3 * s.smoothing.docs) if s.smoothing.enabled else pool
        if len(lists) == 1:
            fused = lists[0][:take]
        else:
            by_id = {f.candidate.chunk_id: f for lst in lists for f in reversed(lst)}
            ids = [[f.candidate.chunk_id for f in lst] for lst in lists]
            rrf = reciprocal_rank_fusion(ids, k=s.fusion.rrf_k)
            fused = [Fused(by_id[cid].candidate, score, by_id[cid].retrievers) for cid, score in rrf[:take]]
        # The rerankers' token states for the head are read on the pool while the rows are
        # fetched (from disk only). Smoothing on document ids comes first (~1 ms at 100k chunks,
        # no row read), so exactly the head it leaves is read: none of the 10 extra states (40
        # decoded instead of 30) and no misses read at rerank time. Smoothing after the rows is
        # read ahead of: the head as fused so far and a few below it, which it may lift.
        smoothed = self.doc_ids is not None and self.vectors is not None
        if self.doc_ids is not None and self.vectors is not None:
            fused = self._smooth_fused(fused, self.doc_ids, self.vectors)[:pool]
            ahead = self._read_ahead([f.candidate for f in fused[: s.rerank.candidates]])
        else:
            extra = _AHEAD_EXTRA if s.smoothing.enabled else 0
            ahead = self._read_ahead([f.candidate for f in fused[: s.rerank.candidates + extra]])
        chunks = {c.id: c for c in self.store.fetch_chunks([f.candidate for f in fused])}
        found = [f for f in fused if f.candidate.chunk_id in chunks]
        hits = [
            Hit(chunk=chunks[f.candidate.chunk_id], score=f.score, retrievers=dict(f.retrievers))
            for f in found
        ]
        if s.smoothing.enabled and not smoothed:
            hits = self._smooth(hits, [f.candidate for f in found])[:pool]
        # Only the first rerank.candidates hits are reranked; deeper ones (an evaluation asking for
        # 300) follow in first-stage order, so a costly reranker's work does not grow with top_k.
        for reranker in self.rerankers if hits else ():
            head, tail = hits[: s.rerank.candidates], hits[s.rerank.candidates :]
            if isinstance(reranker, LateInteractionReranker) and reranker.states is not None:
                reranker = reranker.with_states(ahead.get(id(reranker.states), reranker.states))
            with span("rerank", reranker=type(reranker).__name__, candidates=len(head)):
                hits = reranker.run(query, head, len(head)) + tail
        hits = hits[:top_k]
        if s.query.adaptive_k and hits:
            hits = hits[: adaptive_k([h.score for h in hits], 1, top_k)]
        return hits
