"""The staged retrieval pipeline, on the store twin and the hash embedder (late interaction on
LanceDB and the packaged model): each stage changes
what comes back the way it should, access control holds through every stage, and LLM stages fall
back offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import ragline
from ragline.engine import Engine
from ragline.query.prf import PRFKeywordExpander
from ragline.query.vector_prf import rocchio
from ragline.rerank.identifiers import IdentifierReranker
from ragline.rerank.late_interaction import LateInteractionReranker, ReadAhead, standardize
from ragline.retrieval.pipeline import PipelineRetriever
from ragline.retrieval.retrievers import HybridRetriever, fuse, fuse_lists
from ragline.retrieval.smoothing import best_per_document, smooth_hits
from ragline.settings import RetrievalSettings
from ragline.store.base import Candidate, searches_in_memory
from ragline.store.exact import unit_rows
from ragline.store.filters import Visible
from ragline.store.lance import LanceStore
from ragline.text.words import content_words
from ragline.types import Access, Document, Hit, Principal
from tests.helpers import fast_engine

NOTES = [
    (
        "n1",
        "Solar panels 2019",
        "Our office installed solar panels on the roof in spring.",
        2019,
        "report",
        (),
    ),
    (
        "n2",
        "Solar panels 2021",
        "The solar panels produced twice the expected power this year.",
        2021,
        "report",
        (),
    ),
    ("n3", "Heat pumps", "Heat pumps replaced the gas boiler in the basement.", 2021, "memo", ()),
    (
        "n4",
        "Wind turbine",
        "A small wind turbine was considered but rejected as too noisy.",
        2020,
        "memo",
        (),
    ),
    (
        "n5",
        "Battery storage",
        "Battery storage keeps the servers running during outages.",
        2022,
        "report",
        (),
    ),
    (
        "n6",
        "Secret solar bid",
        "The confidential solar panels bid from Helios was the cheapest.",
        2021,
        "report",
        ("board",),
    ),
    (
        "n7",
        "Solar panels cleaning",
        "Solar panels are cleaned twice a year by the facilities team.",
        2022,
        "memo",
        (),
    ),
]


def _with_notes(eng: Engine) -> Engine:
    eng.upsert_documents(
        [
            Document(
                id=i,
                source="notes",
                title=t,
                text=x,
                metadata={"year": y, "doc_type": k},
                access=Access(groups=g),
            )
            for i, t, x, y, k, g in NOTES
        ],
        collection="notes",
    )
    return eng


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The notes on the store twin and the hash embedder: the stages' behaviour, fast."""
    return _with_notes(fast_engine(tmp_path_factory.mktemp("pipe")))


@pytest.fixture(scope="module")
def real_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The notes in LanceDB, embedded by the packaged model (which late interaction needs)."""
    return _with_notes(ragline.open(tmp_path_factory.mktemp("pipe-real")))


def _ids(hits: list) -> list[str]:
    return [h.chunk.doc_id for h in hits]


def test_no_stage_equals_plain_hybrid(engine: Engine) -> None:
    r = RetrievalSettings(fusion="zscore", prf=False, dense_prf=False, sentences=False, smoothing=False)
    store = engine.store("notes")
    plain = HybridRetriever(store, engine.embedder, "zscore").run("solar power output", 5)
    staged = PipelineRetriever(store, engine.embedder, r).run("solar power output", 5)
    assert _ids(staged) == _ids(plain)
    assert [h.score for h in staged] == pytest.approx([h.score for h in plain])


def test_auto_filters_read_years_and_types_from_the_question(engine: Engine) -> None:
    r = engine.retriever(collection="notes", retrieval=RetrievalSettings(auto_filters="rules"))
    hits = r.run("solar panels in 2021", 10)
    assert hits and {h.chunk.metadata["year"] for h in hits} == {2021}
    memos = r.run("memos about energy", 10)
    assert memos and {h.chunk.metadata["doc_type"] for h in memos} == {"memo"}
    # Without the stage the same questions are unfiltered.
    plain = engine.retriever(collection="notes", retrieval=RetrievalSettings()).run(
        "solar panels in 2021", 10
    )
    assert {h.chunk.metadata["year"] for h in plain} != {2021}


def test_comparison_questions_are_split_and_cover_both_sides(engine: Engine) -> None:
    r = engine.retriever(collection="notes", retrieval=RetrievalSettings(router=True))
    ids = _ids(r.run("compare heat pumps and wind turbines", 3))
    assert "n3" in ids and "n4" in ids


def test_mmr_rerank_demotes_near_duplicates(engine: Engine) -> None:
    base = engine.retriever(collection="notes", retrieval=RetrievalSettings()).run("solar panels", 3)
    mmr = engine.retriever(
        collection="notes", retrieval=RetrievalSettings(rerank=["mmr"], mmr_lambda=0.3)
    ).run("solar panels", 3)
    assert len(mmr) == 3
    solar = lambda hits: sum("Solar" in h.chunk.title for h in hits)  # noqa: E731
    assert solar(mmr) < solar(base)


class _Reverse:
    """A reranker that reverses what it is given and records how many hits that was."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def run(self, query: str, hits: list, top_k: int) -> list:
        self.seen.append(len(hits))
        return list(reversed(hits))[:top_k]


def test_only_the_first_rerank_candidates_hits_are_reranked(engine: Engine) -> None:
    settings = RetrievalSettings(rerank_candidates=3)
    store = engine.store("notes")
    plain = PipelineRetriever(store, engine.embedder, settings).run("solar panels", 6)
    reverse = _Reverse()
    hits = PipelineRetriever(store, engine.embedder, settings, rerankers=[reverse]).run("solar panels", 6)
    assert reverse.seen == [3]
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in plain[:3][::-1] + plain[3:6]]


def test_prf_keeps_query_terms_and_finds_related_text(engine: Engine) -> None:
    r = engine.retriever(collection="notes", retrieval=RetrievalSettings(prf=True, prf_docs=2, prf_terms=5))
    hits = r.run("roof panels", 5)
    assert "n1" in _ids(hits)


def test_prf_max_terms_expands_only_short_queries(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from ragline.query.prf import PRFKeywordExpander

    expanded: list[str] = []
    real_expand = PRFKeywordExpander.expand_texts

    def spy(self: PRFKeywordExpander, query: str, texts: list[str], scores: list[float]) -> str:
        expanded.append(query)
        return real_expand(self, query, texts, scores)

    monkeypatch.setattr(PRFKeywordExpander, "expand_texts", spy)
    r = engine.retriever(collection="notes", retrieval=RetrievalSettings(prf=True, prf_max_terms=2))
    assert _ids(r.run("the roof panels", 5))  # two content words: expanded
    assert _ids(r.run("solar panels on the office roof", 5))  # four: searched as asked
    assert expanded == ["the roof panels"]


def test_feedback_lists_join_fusion_with_rocchio_moved_dense_search(engine: Engine) -> None:
    settings = RetrievalSettings(
        prf=True, dense_prf=True, prf_fusion="add", dense_prf_docs=2, prf_docs=2, sentences=False
    )
    query = "roof panels"
    hits = engine.retriever(collection="notes", retrieval=settings).run(query, 7)
    names = {n for h in hits for n in h.retrievers}
    assert names == {"dense", "keyword", "dense_prf", "keyword_prf"}
    # The dense_prf scores are cosines with the query moved towards the two best fused first-pass
    # hits: recompute that vector from the store and check every score against it.
    store = engine.store("notes")
    q = engine.embedder.embed_query(query)
    dense = store.dense_candidates(q, 7 * settings.candidate_multiplier)
    keyword = store.keyword_candidates(query, 7 * settings.candidate_multiplier)
    first = fuse(dense, keyword, 2, "zscore")
    moved = rocchio(q, store.fetch_vectors([f.candidate for f in first]), 1.0)
    with_prf = [h for h in hits if "dense_prf" in h.retrievers]
    vecs = store.fetch_vectors(store.dense_candidates(moved, 50))
    by_id = {c.chunk_id: v for c, v in zip(store.dense_candidates(moved, 50), vecs, strict=True)}
    for h in with_prf:
        assert h.retrievers["dense_prf"].score == pytest.approx(float(by_id[h.chunk.id] @ moved), abs=1e-4)
    # Replacing instead of adding leaves two lists, the dense one searched from the moved vector.
    replaced = engine.retriever(
        collection="notes", retrieval=settings.overridden(RetrievalSettings(feedback={"fusion": "replace"}))
    ).run(query, 7)
    assert {n for h in replaced for n in h.retrievers} == {"dense", "keyword"}
    top = next(h for h in replaced if "dense" in h.retrievers)
    assert top.retrievers["dense"].score == pytest.approx(float(by_id[top.chunk.id] @ moved), abs=1e-4)


def test_sentence_list_joins_the_dense_side_with_its_best_sentence_score(engine: Engine) -> None:
    settings = RetrievalSettings(prf=False, dense_prf=False, sentences=True, smoothing=False, rerank=[])
    query = "who cleans the solar panels"
    hits = engine.retriever(collection="notes", retrieval=settings).run(query, 7)
    assert {n for h in hits for n in h.retrievers} == {"dense", "dense_sentences", "keyword"}
    store = engine.store("notes")
    q = engine.embedder.embed_query(query)
    units = {c.chunk_id: c.score for c in store.sentence_candidates(q, 50)}
    for h in hits:
        if "dense_sentences" in h.retrievers:
            assert h.retrievers["dense_sentences"].score == pytest.approx(units[h.chunk.id], abs=1e-5)
    # Weights: dense side split between its two lists, keyword side whole (alpha 0.5).
    dense = store.dense_candidates(q, 7 * settings.candidate_multiplier)
    keyword = store.keyword_candidates(query, 7 * settings.candidate_multiplier)
    sentences = store.sentence_candidates(q, 7 * settings.candidate_multiplier)
    expected = fuse_lists(
        [("dense", dense, 0.25), ("dense_sentences", sentences, 0.25), ("keyword", keyword, 0.5)], 7, "zscore"
    )
    assert [h.chunk.id for h in hits] == [f.candidate.chunk_id for f in expected]
    no_sentences = settings.overridden(RetrievalSettings(sentences=False))
    off = engine.retriever(collection="notes", retrieval=no_sentences)
    assert {n for h in off.run(query, 7) for n in h.retrievers} == {"dense", "keyword"}


def test_feedback_gates_skip_long_queries(engine: Engine) -> None:
    settings = RetrievalSettings(prf=True, dense_prf=True, prf_max_terms=3, dense_prf_max_terms=3, prf_docs=2)
    r = engine.retriever(collection="notes", retrieval=settings)
    short = {n for h in r.run("roof panels", 7) for n in h.retrievers}
    assert {"dense_prf", "keyword_prf"} <= short
    long = {n for h in r.run("solar panels installed on the office roof in spring", 7) for n in h.retrievers}
    assert not long & {"dense_prf", "keyword_prf"}


def test_smoothing_regularizes_the_fused_scores_over_the_top_documents(engine: Engine) -> None:
    settings = RetrievalSettings(
        prf=False, dense_prf=False, sentences=False, smoothing=True, smooth_weight=0.5, rerank=[]
    )
    query = "solar panels on the roof"
    hits = engine.retriever(collection="notes", retrieval=settings).run(query, 5)
    # Recompute: the fused list (both sides at 5 x 4 candidates), each document's best chunk
    # vector from the store, one regularization step, then the top 5.
    store = engine.store("notes")
    n = 5 * settings.candidate_multiplier
    q = engine.embedder.embed_query(query)
    fused = fuse_lists(
        [("dense", store.dense_candidates(q, n), 0.5), ("keyword", store.keyword_candidates(query, n), 0.5)],
        n,
        "zscore",
    )
    chunks = {c.id: c for c in store.fetch_chunks([f.candidate for f in fused])}
    plain = [Hit(chunks[f.candidate.chunk_id], f.score, dict(f.retrievers)) for f in fused]
    firsts = best_per_document(plain, settings.smoothing.docs)
    vectors = store.fetch_vectors([fused[i].candidate for i in firsts])
    expected = smooth_hits(plain, firsts, vectors, settings.smoothing.neighbours, 0.5)[:5]
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in expected]
    assert [h.score for h in hits] == pytest.approx([h.score for h in expected])
    assert [h.score for h in hits] != pytest.approx([h.score for h in plain[:5]])
    # Weight 0 is the plain fused list.
    unweighted = settings.overridden(RetrievalSettings(smoothing={"weight": 0.0}))
    off = engine.retriever(collection="notes", retrieval=unweighted)
    assert [h.chunk.id for h in off.run(query, 5)] == [h.chunk.id for h in plain[:5]]


class _RowsCounted:
    """A store seen through: counts the rows ``fetch_chunks`` reads; ``doc_ids=False`` hides
    ``fetch_doc_ids``, so the pipeline reads every fused row as it did before it had one."""

    def __init__(self, store: object, doc_ids: bool) -> None:
        self._store, self.rows = store, 0
        if doc_ids:
            self.fetch_doc_ids = store.fetch_doc_ids  # type: ignore[attr-defined]

    def fetch_chunks(self, candidates: list) -> list:  # type: ignore[type-arg]
        self.rows += len(candidates)
        return self._store.fetch_chunks(candidates)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        if name == "fetch_doc_ids":
            raise AttributeError(name)
        return getattr(self._store, name)


def test_smoothing_before_the_row_read_reads_the_head_alone(engine: Engine) -> None:
    settings = RetrievalSettings(prf=False, dense_prf=False, sentences=False, smoothing=True, rerank=[])
    top_k = 3
    store = engine.store("notes")
    counted = {flag: _RowsCounted(store, flag) for flag in (True, False)}
    got = {
        flag: PipelineRetriever(c, engine.embedder, settings).run("solar panels on the roof", top_k)  # type: ignore[arg-type]
        for flag, c in counted.items()
    }
    # Smoothing looks 3 x smoothing.docs deep; with document ids alone it reads top_k rows.
    assert counted[False].rows > top_k and counted[True].rows <= top_k
    assert [(h.chunk.id, h.score, h.retrievers) for h in got[True]] == [
        (h.chunk.id, h.score, h.retrievers) for h in got[False]
    ]


class _States:
    """Token states that say whether their store searches in memory."""

    def __init__(self, in_memory: bool) -> None:
        self.in_memory, self.reads = in_memory, 0

    def searches_in_memory(self) -> bool:
        return self.in_memory

    def fetch_token_states(self, chunk_ids: list[str]) -> list[None]:
        self.reads += 1
        return [None] * len(chunk_ids)


def test_token_states_are_read_ahead_from_disk_but_not_from_memory(engine: Engine) -> None:
    for in_memory in (False, True):
        states = _States(in_memory)
        late = LateInteractionReranker(states=states)  # no model is loaded: nothing is scored
        r = PipelineRetriever(engine.store("notes"), engine.embedder, RetrievalSettings(), rerankers=[late])
        ahead = r._read_ahead([Candidate("a", 1.0, 0), Candidate("b", 0.5, 1)])
        assert (id(states) in ahead) is not in_memory
        if ahead:
            assert isinstance(ahead[id(states)], ReadAhead)
            assert ahead[id(states)].fetch_token_states(["a"]) == [None] and states.reads == 1
    assert r._read_ahead([]) == {}


def test_dense_prf_settings_are_validated() -> None:
    # Legacy flat keys are checked as the grouped fields they map to, named by their new path.
    with pytest.raises(ValidationError, match=r"feedback\.dense\.beta"):
        RetrievalSettings(dense_prf_beta=0)
    with pytest.raises(ValidationError, match=r"feedback\.fusion"):
        RetrievalSettings(feedback={"fusion": "merge"})
    with pytest.raises(ValidationError, match=r"smoothing\.weight"):
        RetrievalSettings(smooth_weight=1.5)
    with pytest.raises(ValidationError, match=r"smoothing\.docs"):
        RetrievalSettings(smoothing={"docs": 1})


@pytest.mark.parametrize(
    "stages",
    [
        {"prf": True},
        {"prf": True, "dense_prf": True, "prf_fusion": "add"},
        {"dense_prf": True},
        {"sentences": True, "prf": False, "dense_prf": False},
        {"smoothing": True},
        {"auto_filters": "rules"},
        {"router": True},
        {"rerank": ["mmr"]},
        {"multi_query": 3, "hyde": True, "decompose": True},
        {"adaptive_k": True},
    ],
    ids=str,
)
def test_access_control_holds_through_every_stage(engine: Engine, stages: dict) -> None:
    r = engine.retriever(collection="notes", retrieval=RetrievalSettings(**stages))
    outsider = Visible(Principal(groups=("staff",)))
    for q in ["confidential solar panels bid from Helios", "compare Helios bid and heat pumps", "solar 2021"]:
        assert "n6" not in _ids(r.run(q, 10, outsider))
    insider = Visible(Principal(groups=("board",)))
    assert "n6" in _ids(r.run("confidential solar panels bid from Helios", 10, insider))


def test_llm_stages_without_an_llm_fall_back_to_the_plain_question(engine: Engine) -> None:
    assert engine.chat_model is None
    llm = engine.retriever(collection="notes", retrieval=RetrievalSettings(multi_query=3, hyde=True))
    plain = engine.retriever(collection="notes", retrieval=RetrievalSettings())
    assert _ids(llm.run("battery backup", 5)) == _ids(plain.run("battery backup", 5))


def test_doc_first_needs_summaries_then_searches_documents(engine: Engine, tmp_path: Path) -> None:
    from ragline.errors import ConfigError

    assert engine.summaries_store("notes") is None
    with pytest.raises(ConfigError, match="ragline summarize"):
        engine.retriever(collection="notes", retrieval=RetrievalSettings(doc_first=True, doc_candidates=2))
    assert engine.summarize("notes", llm=False) == len(NOTES)
    r = engine.retriever(collection="notes", retrieval=RetrievalSettings(doc_first=True, doc_candidates=2))
    hits = r.run("gas boiler replacement", 5)
    assert hits and len(set(_ids(hits))) <= 2 and "n3" in _ids(hits)
    # Summaries carry the documents' ACL: the hidden document is not reachable through them.
    hidden = r.run("confidential Helios bid", 5, Visible(Principal(groups=("staff",))))
    assert "n6" not in _ids(hidden)


@pytest.mark.integration
def test_default_late_interaction_mixes_maxsim_into_the_first_30_hits(real_engine: Engine) -> None:
    engine = real_engine
    query = "who cleans the solar panels"
    default = RetrievalSettings()
    assert default.rerank.stages == ["late-interaction", "identifiers"] and default.rerank.candidates == 30
    retriever = engine.retriever(collection="notes", retrieval=default)
    hits = retriever.run(query, 5)
    unranked = default.overridden(RetrievalSettings(rerank={"stages": []}))
    first = engine.retriever(collection="notes", retrieval=unranked)
    head = first.run(query, 30)[:30]
    reranker = retriever.rerankers[0]  # type: ignore[attr-defined]
    assert reranker.states is engine.store("notes")  # reads the token states ingest kept
    late = reranker.scores(query, head)
    mixed = 0.6 * standardize([h.score for h in head]) + 0.4 * standardize(late)
    want = [head[i].chunk.id for i in np.argsort(-mixed, kind="stable")[:5]]
    assert [h.chunk.id for h in hits] == want
    assert [h.score for h in hits] == pytest.approx(sorted(mixed, reverse=True)[:5])


_TOPICS = ["solar panels", "heat pumps", "wind turbines", "battery storage", "gas boilers",
           "roof insulation", "electric cars", "rainwater tanks", "LED lighting", "smart meters"]  # fmt: skip
_ASPECTS = ["cost", "maintenance", "noise", "installation", "efficiency", "subsidies"]


@pytest.fixture(scope="module")
def home_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """60 short documents (10 topics x 6 aspects) in LanceDB, embedded by the packaged model, with
    the default sentence vectors and token states: more chunks than the rerank head."""
    eng = ragline.open(tmp_path_factory.mktemp("pipe-home"))
    docs = [
        Document(
            id=f"h{i}",
            source="home",
            title=f"{topic} {aspect}",
            text=f"The {aspect} of {topic} was reviewed in year {2010 + i % 12}. "
            f"Owners said the {topic} {['paid off', 'disappointed', 'were loud', 'lasted'][i % 4]}. "
            f"A second look at {_ASPECTS[(i + 1) % 6]} is planned for {_TOPICS[(i + 3) % 10]}.",
        )
        for i, (topic, aspect) in enumerate((t, a) for t in _TOPICS for a in _ASPECTS)
    ]
    eng.upsert_documents(docs, collection="home")
    return eng


def _cosine_among(store: LanceStore, vector: np.ndarray, candidates: list[Candidate]) -> list[Candidate]:
    """``candidates`` (once per chunk id) scored by their stored vector's cosine with ``vector``,
    best first."""
    unique = list({c.chunk_id: c for c in candidates}.values())
    vectors = store.fetch_vectors(unique)
    cos = unit_rows(vectors) @ vector
    return sorted(
        (c._replace(score=float(x)) for c, x in zip(unique, cos, strict=True)), key=lambda c: -c.score
    )


def _full_default_by_hand(
    engine: Engine,
    query: str,
    top_k: int,
    s: RetrievalSettings | None = None,
    store: LanceStore | None = None,
    among: bool | None = None,
    prf_among: bool = False,
) -> list[Hit]:
    """The default pipeline's result (or ``s``'s) computed one stage after another from the
    store's own searches, with no pool and no read-ahead: what the concurrent pipeline must
    reproduce. ``among``: the sentence list scores the dense and keyword candidates (by default
    when ``s.sentence_search`` is "candidates"); ``prf_among``: so does Rocchio's list (their
    stored vectors' cosine with the moved vector)."""
    s = s or RetrievalSettings()
    among = s.sentence_search == "candidates" if among is None else among
    fb, f = s.feedback, s.fusion
    emb = engine.embedder_for("home")
    store = store or engine.store("home")  # type: ignore[assignment]
    assert isinstance(store, LanceStore)
    n = s.rerank.candidates * s.candidate_multiplier
    q = emb.embed_query(query)
    dense, keyword = store.dense_candidates(q, n), store.keyword_candidates(query, n)
    sentences = store.sentence_scores(q, [*dense, *keyword])[:n] if among else store.sentence_candidates(q, n)
    dense_side = [("dense", dense), ("dense_sentences", sentences)]
    keyword_side = [("keyword", keyword)]
    terms = len(content_words(query))
    if terms <= fb.dense.max_query_terms:
        first = fuse(dense, keyword, fb.dense.docs, f.method, f.rrf_k, f.alpha)
        moved = rocchio(q, store.fetch_vectors([x.candidate for x in first]), fb.dense.beta)
        prf = (
            _cosine_among(store, moved, [*dense, *keyword])[:n]
            if prf_among
            else store.dense_candidates(moved, n)
        )
        dense_side.append(("dense_prf", prf))
    if terms <= fb.keyword.max_query_terms:
        top = keyword[: fb.keyword.docs]
        rm3 = PRFKeywordExpander(
            None, fb_docs=fb.keyword.docs, fb_terms=fb.keyword.terms, original_weight=0.5
        )
        expanded = rm3.expand_texts(query, store.fetch_texts(top), [c.score for c in top])
        keyword_side.append(("keyword_prf", store.keyword_candidates(expanded, n)))
    sides = [(name, found, f.alpha / len(dense_side)) for name, found in dense_side]
    sides += [(name, found, (1 - f.alpha) / len(keyword_side)) for name, found in keyword_side]
    fused = fuse_lists(sides, n, f.method, f.rrf_k)[: 3 * s.smoothing.docs]
    chunks = {c.id: c for c in store.fetch_chunks([x.candidate for x in fused])}
    hits = [Hit(chunks[x.candidate.chunk_id], x.score, dict(x.retrievers)) for x in fused]
    firsts = best_per_document(hits, s.smoothing.docs)
    vectors = store.fetch_vectors([fused[i].candidate for i in firsts])
    sm = s.smoothing
    head = smooth_hits(hits, firsts, vectors, sm.neighbours, sm.weight)[: s.rerank.candidates]
    late = engine.retrievers.rerankers(s)[0].with_states(store)  # type: ignore[attr-defined]
    reranked = late.run(query, head, len(head))
    # Exact names next (none of these queries names one, so the order stands).
    return IdentifierReranker().run(query, reranked, len(reranked))[:top_k]


@pytest.mark.integration
def test_full_default_equals_its_stages_run_one_after_another(home_engine: Engine) -> None:
    # The pipeline runs searches concurrently and reads token states ahead of the rerank; the
    # ranking and every score must be what the stages give run in order.
    s = RetrievalSettings()
    assert (s.sentences, s.feedback.fusion, s.feedback.keyword.weight) == (True, "add", 0.5)
    assert s.rerank.stages == ["late-interaction", "identifiers"] and s.smoothing.enabled
    retriever = home_engine.retriever(collection="home")
    queries = ["noisy heat pumps", "cost", "solar panels subsidies", "which battery storage lasted",
               "what did owners say about the maintenance of rainwater tanks and smart meters"]  # fmt: skip
    for query in queries:
        got = retriever.run(query, 10)
        want = _full_default_by_hand(home_engine, query, 10)
        assert [h.chunk.id for h in got] == [h.chunk.id for h in want], query
        assert [h.score for h in got] == [h.score for h in want], query
        assert [h.retrievers for h in got] == [h.retrievers for h in want], query
    names = {n for h in retriever.run(queries[0], 10) for n in h.retrievers}
    assert names == {"dense", "dense_sentences", "dense_prf", "keyword", "keyword_prf"}


def test_the_sentence_list_scores_the_other_searches_candidates_at_every_size(
    home_engine: Engine,
) -> None:
    """Below ``store.ann_threshold`` (held in memory) and past it (searched on disk) the default
    sentence list is the exact MaxSim of the dense and keyword candidates' sentences;
    ``sentence_search = "index"`` asks the sentence search (the exact scan below the threshold)."""
    below = home_engine.store("home")
    assert isinstance(below, LanceStore)
    above = LanceStore(below.root, dimension=below.dimension, model_id=below.model_id, ann_threshold=5)
    assert searches_in_memory(below) and not searches_in_memory(above)
    emb = home_engine.embedder_for("home")
    # Fewer candidates than the collection's chunks, so the candidates are a strict subset.
    small = {"candidate_multiplier": 2, "rerank": {"candidates": 10}}
    queries = ["noisy heat pumps", "cost", "solar panels subsidies", "which battery storage lasted"]
    differ = 0
    for query in queries:
        q = emb.embed_query(query)
        dense, keyword = above.dense_candidates(q, 20), above.keyword_candidates(query, 20)
        among = [c.chunk_id for c in above.sentence_scores(q, [*dense, *keyword])[:20]]
        differ += among != [c.chunk_id for c in above.sentence_candidates(q, 20)]
    assert differ  # the two settings are told apart by the comparison below
    for mode in ("candidates", "index"):
        s = RetrievalSettings(sentence_search=mode, **small)
        late = home_engine.retrievers.rerankers(s)[0]  # type: ignore[attr-defined]
        for store in (below, above):
            retriever = PipelineRetriever(store, emb, s, rerankers=[late.with_states(store)])
            for query in queries:
                got = retriever.run(query, 10)
                by_hand = _full_default_by_hand(
                    home_engine,
                    query,
                    10,
                    s,
                    store,
                    among=mode == "candidates",
                    prf_among=store is above,
                )
                assert [h.chunk.id for h in got] == [h.chunk.id for h in by_hand], (mode, query)
                assert [h.score for h in got] == [h.score for h in by_hand], (mode, query)
                assert [h.retrievers for h in got] == [h.retrievers for h in by_hand], (mode, query)


def test_above_the_ann_threshold_rocchio_scores_the_first_candidates_vectors(home_engine: Engine) -> None:
    """Past ``store.ann_threshold`` Rocchio's list is, by default, the first dense and keyword
    candidates scored exactly against the moved vector (no second ANN search);
    ``feedback.dense.search = "index"`` searches again; below the threshold both settings give
    the same answer (the exact scan)."""
    below = home_engine.store("home")
    assert isinstance(below, LanceStore)
    above = LanceStore(below.root, dimension=below.dimension, model_id=below.model_id, ann_threshold=5)
    emb = home_engine.embedder_for("home")
    small = {"candidate_multiplier": 2, "rerank": {"candidates": 10}, "sentence_search": "index"}
    queries = ["noisy heat pumps", "cost", "solar panels subsidies", "which battery storage lasted"]
    by_mode = {
        mode: RetrievalSettings(feedback={"dense": {"search": mode}}, **small)
        for mode in ("candidates", "index")
    }
    assert RetrievalSettings().feedback.dense.search == "candidates"
    late = home_engine.retrievers.rerankers(by_mode["index"])[0]  # type: ignore[attr-defined]
    differ = 0
    for query in queries:
        runs = {
            (mode, where): PipelineRetriever(store, emb, s, rerankers=[late.with_states(store)]).run(
                query, 10
            )
            for mode, s in by_mode.items()
            for where, store in (("below", below), ("above", above))
        }
        for where, store in (("below", below), ("above", above)):
            for mode, s in by_mode.items():
                among = mode == "candidates" and where == "above"
                want = _full_default_by_hand(home_engine, query, 10, s, store, prf_among=among)
                got = runs[mode, where]
                assert [h.chunk.id for h in got] == [h.chunk.id for h in want], (mode, where, query)
                assert [h.score for h in got] == [h.score for h in want], (mode, where, query)
                assert [h.retrievers for h in got] == [h.retrievers for h in want], (mode, where, query)
        same = runs["candidates", "below"]
        assert [(h.chunk.id, h.score) for h in same] == [
            (h.chunk.id, h.score) for h in runs["index", "below"]
        ]
        # Each dense_prf score above the threshold is that chunk's stored vector's cosine with the
        # moved vector, and every chunk so scored was a first-pass candidate.
        s = by_mode["candidates"]
        n = s.rerank.candidates * s.candidate_multiplier
        q = emb.embed_query(query)
        dense, keyword = above.dense_candidates(q, n), above.keyword_candidates(query, n)
        first = fuse(dense, keyword, s.feedback.dense.docs, s.fusion.method, s.fusion.rrf_k, s.fusion.alpha)
        moved = rocchio(q, above.fetch_vectors([x.candidate for x in first]), s.feedback.dense.beta)
        pool = {c.chunk_id: c for c in [*dense, *keyword]}
        prf = [h for h in runs["candidates", "above"] if "dense_prf" in h.retrievers]
        assert prf, query
        for h in prf:
            assert h.chunk.id in pool, query
            v = above.fetch_vectors([pool[h.chunk.id]])[0]
            cos = float(v @ moved / np.linalg.norm(v))
            assert h.retrievers["dense_prf"].score == pytest.approx(cos, abs=1e-6), (query, h.chunk.id)
        differ += [h.retrievers for h in runs["candidates", "above"]] != [
            h.retrievers for h in runs["index", "above"]
        ]
    assert differ  # the two settings are told apart above the threshold


def test_on_disk_the_token_states_read_ahead_are_exactly_the_smoothed_head(home_engine: Engine) -> None:
    """Smoothing on document ids runs before the read-ahead, so the one token-state read is the
    reranked head's: no extra states decoded, no miss read at rerank time."""
    below = home_engine.store("home")
    assert isinstance(below, LanceStore)
    above = LanceStore(below.root, dimension=below.dimension, model_id=below.model_id, ann_threshold=5)
    reads: list[list[str]] = []

    class Recorded:
        """``above``'s token states, each read recorded."""

        def searches_in_memory(self) -> bool:
            return False

        def fetch_token_states(self, chunk_ids: list[str]) -> list[np.ndarray | None]:
            reads.append(list(chunk_ids))
            return above.fetch_token_states(chunk_ids)

    s = RetrievalSettings(candidate_multiplier=2, rerank={"candidates": 10})
    assert s.smoothing.enabled
    late = home_engine.retrievers.rerankers(s)[0]  # type: ignore[attr-defined]
    retriever = PipelineRetriever(
        above, home_engine.embedder_for("home"), s, rerankers=[late.with_states(Recorded())]
    )
    for query in ["noisy heat pumps", "cost", "solar panels subsidies", "which battery storage lasted"]:
        reads.clear()
        hits = retriever.run(query, 10)  # top_k = rerank.candidates: the hits are the head, reranked
        assert len(reads) == 1 and sorted(reads[0]) == sorted(h.chunk.id for h in hits), query
    # The store itself as the states: the head's are read by row reference, with no map of every
    # chunk id to its row (a scan of the id column per table version above the threshold).
    fresh = LanceStore(below.root, dimension=below.dimension, model_id=below.model_id, ann_threshold=5)
    retriever = PipelineRetriever(
        fresh, home_engine.embedder_for("home"), s, rerankers=[late.with_states(fresh)]
    )
    for query in ["noisy heat pumps", "cost"]:
        assert [h.chunk.id for h in retriever.run(query, 10)] == [
            h.chunk.id
            for h in PipelineRetriever(
                above, home_engine.embedder_for("home"), s, rerankers=[late.with_states(above)]
            ).run(query, 10)
        ]
    view = fresh._view()
    assert view is not None and view.rows is None
