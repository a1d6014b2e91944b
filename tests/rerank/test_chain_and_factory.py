"""The shared helpers, ChainReranker, RerankConfig and make_reranker; top_k and empty input for every
reranker that runs without a model."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ragline.embedding.onnx import OnnxEmbedder
from ragline.errors import ConfigError
from ragline.generation.base import ChatModel, Completion
from ragline.rerank import (
    ChainReranker,
    CrossEncoderReranker,
    FreshnessReranker,
    LateInteractionReranker,
    LLMReranker,
    MMRReranker,
    RerankConfig,
    Reranker,
    make_reranker,
    reorder,
    rescore,
)
from ragline.settings import RetrievalSettings

from . import make_hit, make_hits, texts
from .test_mmr import TableEmbedder

NOW = datetime(2025, 1, 1, tzinfo=UTC)


class ScriptedChat:
    """A ChatModel that always answers ``reply`` (no network), recording the prompts it got."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def complete(self, messages):
        self.prompts.append(messages[-1].content)
        return Completion(text=self.reply, model="scripted", prompt_tokens=0, completion_tokens=0)

    def stream(self, messages):
        raise NotImplementedError


class Recording:
    """A reranker that keeps the order, scores hits 10, 9, 8, ... and records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def run(self, query, hits, top_k):
        self.calls.append((len(hits), top_k))
        return rescore(hits, [10.0 - i for i in range(len(hits))], top_k)


def test_rescore_sorts_keeps_ties_in_order_and_cuts():
    hits = make_hits("a", "b", "c", "d")
    out = rescore(hits, [0.5, 0.9, 0.5, math.nan], top_k=3)
    assert texts(out) == ["b", "a", "c"]  # a before c: equal scores keep the first-stage order
    assert [h.score for h in out] == [0.9, 0.5, 0.5]
    assert texts(rescore(hits, [0.5, 0.9, 0.5, math.nan], top_k=10))[-1] == "d"  # NaN last
    assert all(h.retrievers == hits[0].retrievers for h in out[1:2])
    with pytest.raises(ValueError, match="3 scores for 4 hits"):
        rescore(hits, [1.0, 2.0, 3.0], top_k=2)


def test_reorder_scores_reciprocal_ranks():
    hits = make_hits("a", "b", "c")
    out = reorder(hits, [2, 0, 1], top_k=2)
    assert texts(out) == ["c", "a"]
    assert [h.score for h in out] == [1.0, 0.5]
    assert out[0].retrievers == hits[2].retrievers


def test_chain_runs_stages_in_order_and_cuts_only_at_the_end():
    first, second = Recording(), Recording()
    hits = make_hits("a", "b", "c", "d")
    out = ChainReranker([first, second]).run("q", hits, top_k=2)
    assert first.calls == [(4, 4)] and second.calls == [(4, 2)]
    assert texts(out) == ["a", "b"] and [h.score for h in out] == [10.0, 9.0]


def test_chain_of_real_rerankers():
    # MMR (lambda 1: relevance) puts A first; freshness then demotes it for being old.
    hits = [
        make_hit("A", date="2010-01-01"),
        make_hit("A2", date="2024-12-01"),
        make_hit("B", date="2024-12-01"),
        make_hit("C", date="2024-12-01"),
    ]
    chain = ChainReranker(
        [MMRReranker(TableEmbedder(), lambda_=1.0), FreshnessReranker("date", 0.001, now=NOW)]
    )
    assert isinstance(chain, Reranker)
    assert texts(chain.run("q", hits, top_k=4)) == ["A2", "B", "C", "A"]


def test_chain_needs_a_stage_and_a_valid_top_k():
    with pytest.raises(ConfigError, match="at least one"):
        ChainReranker([])
    with pytest.raises(ConfigError, match="top_k"):
        ChainReranker([Recording()]).run("q", make_hits("a"), top_k=0)
    stage = Recording()
    assert ChainReranker([stage]).run("q", [], top_k=3) == []
    assert stage.calls == []


def _cheap_rerankers() -> list[Reranker]:
    return [
        MMRReranker(TableEmbedder()),
        FreshnessReranker("date", 0.001, now=NOW),
        LLMReranker(ScriptedChat("4 > 3 > 2 > 1")),
        LLMReranker(ScriptedChat("garbage")),
        ChainReranker([Recording(), FreshnessReranker("date", 0.001, now=NOW)]),
    ]


@pytest.mark.parametrize("reranker", _cheap_rerankers(), ids=lambda r: type(r).__name__)
def test_every_reranker_honours_top_k_and_empty_input(reranker):
    assert isinstance(reranker, Reranker)
    hits = make_hits("A", "A2", "B", "C")
    for k in (1, 3, 4, 10):
        out = reranker.run("q", hits, top_k=k)
        assert len(out) == min(k, 4)
        assert len({h.chunk.id for h in out}) == len(out)
        assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    assert reranker.run("q", [], top_k=5) == []
    with pytest.raises(ConfigError, match="top_k"):
        reranker.run("q", hits, top_k=0)


def test_rerank_config_defaults_and_validation():
    cfg = RerankConfig()
    r = RetrievalSettings()  # one set of defaults: the engine's
    assert (cfg.kind, cfg.candidates, cfg.late_weight) == (
        "none",
        r.rerank.candidates,
        r.rerank.late_interaction_weight,
    )
    assert (cfg.mmr_lambda, cfg.freshness_field, cfg.freshness_rate) == (
        r.rerank.mmr_lambda,
        r.rerank.freshness_field,
        r.rerank.freshness_rate,
    )
    with pytest.raises(ValidationError, match="kindd"):
        RerankConfig(kindd="mmr")  # a misspelt option is an error, not silently ignored
    with pytest.raises(ValidationError, match="kind"):
        RerankConfig(kind="colbert")
    with pytest.raises(ValidationError, match=r"needs rerank\.model_path"):
        RerankConfig(kind="cross-encoder")
    with pytest.raises(ValidationError, match="mmr_lambda"):
        RerankConfig(kind="mmr", mmr_lambda=1.2)
    with pytest.raises(ValidationError, match="candidates"):
        RerankConfig(candidates=0)
    with pytest.raises(ValidationError, match="freshness_rate"):
        RerankConfig(freshness_rate=float("nan"))
    with pytest.raises(ValidationError, match="frozen"):
        cfg.kind = "mmr"


def test_make_reranker_builds_each_kind_without_loading_anything():
    embedder = TableEmbedder()
    assert make_reranker(RerankConfig(), embedder=embedder) is None

    mmr = make_reranker(RerankConfig(kind="mmr", mmr_lambda=0.4), embedder=embedder)
    assert isinstance(mmr, MMRReranker) and mmr.lambda_ == 0.4 and mmr.embedder is embedder

    fresh = make_reranker(
        RerankConfig(kind="freshness", freshness_field="updated", freshness_rate=0.01), embedder=embedder
    )
    assert isinstance(fresh, FreshnessReranker) and (fresh.field, fresh.rate) == ("updated", 0.01)

    chat = ScriptedChat("1")
    llm = make_reranker(RerankConfig(kind="llm"), embedder=embedder, chat=chat)
    assert isinstance(llm, LLMReranker) and llm.chat is chat
    with pytest.raises(ConfigError, match=r"needs an LLM.*llm\.base_url"):
        make_reranker(RerankConfig(kind="llm"), embedder=embedder)


def test_make_reranker_late_interaction_shares_an_onnx_embedder(tmp_path):
    onnx = OnnxEmbedder(cache_dir=tmp_path)
    shared = make_reranker(RerankConfig(kind="late-interaction"), embedder=onnx)
    assert isinstance(shared, LateInteractionReranker) and shared.embedder is onnx
    # Any other embedder: the packaged model runs the token embeddings.
    own = make_reranker(RerankConfig(kind="late-interaction"), embedder=TableEmbedder(), cache_dir=tmp_path)
    assert isinstance(own, LateInteractionReranker) and isinstance(own.embedder, OnnxEmbedder)
    assert own.embedder.cache_dir == tmp_path
    assert "_session" not in own.embedder.__dict__


def test_make_reranker_cross_encoder_checks_the_path(tmp_path):
    with pytest.raises(ConfigError, match="not a directory"):
        make_reranker(
            RerankConfig(kind="cross-encoder", model_path=tmp_path / "missing"), embedder=TableEmbedder()
        )
    (tmp_path / "config.json").write_text(
        '{"architectures": ["BertForSequenceClassification"], "id2label": {"0": "LABEL_0"}}'
    )
    ce = make_reranker(
        RerankConfig(kind="cross-encoder", model_path=tmp_path, batch_size=8), embedder=TableEmbedder()
    )
    assert isinstance(ce, CrossEncoderReranker) and ce.batch_size == 8
    assert "_model" not in ce.__dict__


def test_make_reranker_chains_a_sequence_of_configs():
    embedder = TableEmbedder()
    chain = make_reranker(
        [RerankConfig(kind="mmr"), RerankConfig(), RerankConfig(kind="freshness")], embedder=embedder
    )
    assert isinstance(chain, ChainReranker)
    assert [type(r) for r in chain.rerankers] == [MMRReranker, FreshnessReranker]
    single = make_reranker([RerankConfig(), RerankConfig(kind="mmr")], embedder=embedder)
    assert isinstance(single, MMRReranker)
    assert make_reranker([RerankConfig(), RerankConfig()], embedder=embedder) is None
    assert make_reranker([], embedder=embedder) is None


def test_scripted_chat_is_a_chat_model():
    assert isinstance(ScriptedChat("1"), ChatModel)
