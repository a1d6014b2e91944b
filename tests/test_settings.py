"""Settings: sources, validation, and the README's documented configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ragline.errors import ConfigError
from ragline.settings import load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_toml_example_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    cfg = tmp_path / "ragline.toml"
    cfg.write_text(block.group(1))
    monkeypatch.setenv("RAGLINE_CONFIG", str(cfg))
    s = load_settings()
    assert s.retrieval.fusion.rrf_k == 60 and s.chunking.strategy == "structure"
    assert s.store.ann_threshold == 20000


def test_priority_is_arguments_then_environment_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "ragline.toml"
    cfg.write_text('collection = "from-file"\n[retrieval]\ntop_k = 3\nmode = "keyword"\n')
    monkeypatch.setenv("RAGLINE_CONFIG", str(cfg))
    monkeypatch.setenv("RAGLINE_RETRIEVAL__TOP_K", "7")
    s = load_settings()
    assert (s.collection, s.retrieval.top_k, s.retrieval.mode) == ("from-file", 7, "keyword")
    assert load_settings(retrieval={"top_k": 9}).retrieval.top_k == 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retrieval": {"mdoe": "dense"}}, "retrieval.mdoe"),
        ({"chunking": {"chunk_size": 100, "chunk_overlap": 100}}, "chunk_overlap"),
        ({"embedding": {"backend": "openai"}}, "base_url"),
        ({"collection": "../escape"}, "collection"),
        ({"retrieval": {"alpha": 1.5}}, "alpha"),
        ({"store": {"ann_ef": 0}}, "ann_ef"),
        ({"store": {"ann_ef_construction": 8}}, "ann_ef_construction"),
    ],
)
def test_bad_settings_name_the_key(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(**kwargs)


def test_unknown_key_in_file_and_missing_config_file_are_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "ragline.toml"
    cfg.write_text("[embedding]\nbatchsize = 8\n")
    monkeypatch.setenv("RAGLINE_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="batchsize"):
        load_settings()
    monkeypatch.setenv("RAGLINE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


@pytest.mark.parametrize("name", ["RAGLINE_DATADIR", "RAGLINE_BOGUS", "ragline_colection"])
def test_unknown_top_level_environment_variable_is_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "x")
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_server_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_SERVER__MAX_UPLOAD_MB", "5")
    monkeypatch.setenv("RAGLINE_SERVER__AUTH", "false")
    s = load_settings()
    assert s.server.max_upload_mb == 5 and s.server.auth is False
    monkeypatch.setenv("RAGLINE_SERVER__BOGUS", "1")
    with pytest.raises(ConfigError, match="bogus"):
        load_settings()


def test_late_interaction_is_the_default_reranker_only_where_token_states_are_kept() -> None:
    onnx = load_settings()
    assert onnx.retrieval.rerank.stages == ["late-interaction", "identifiers"] and onnx.stores_token_states
    remote = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "dimension": 8}
    # Without token states the reranker would run the model over every candidate: only the one
    # that needs no model.
    plain = load_settings(embedding=remote)
    assert plain.retrieval.rerank.stages == ["identifiers"] and not plain.stores_token_states
    assert load_settings(embedding=remote, retrieval={"top_k": 5}).retrieval.rerank.stages == ["identifiers"]
    chosen = load_settings(embedding=remote, retrieval={"rerank": ["late-interaction"]})
    assert chosen.retrieval.rerank.stages == ["late-interaction"]  # an explicit choice stands
    assert not load_settings(chunking={"token_states": "off"}).stores_token_states
    with pytest.raises(ConfigError, match=r"token_states = 'on' needs token embeddings"):
        load_settings(embedding=remote, chunking={"token_states": "on"})


def test_retrieval_settings_are_grouped_per_stage_and_legacy_flat_keys_map_to_their_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragline.settings import LEGACY_RETRIEVAL_KEYS, RetrievalSettings

    legacy = RetrievalSettings(
        fusion="rrf",
        rrf_k=30,
        prf=False,
        prf_docs=7,
        dense_prf_beta=0.5,
        prf_fusion="replace",
        smoothing=False,
        smooth_weight=0.3,
        router=True,
        doc_first=True,
        doc_candidates=5,
        rerank=["mmr"],
        rerank_candidates=12,
        mmr_lambda=0.5,
    )
    grouped = RetrievalSettings(
        fusion={"method": "rrf", "rrf_k": 30},
        feedback={"keyword": {"enabled": False, "docs": 7}, "dense": {"beta": 0.5}, "fusion": "replace"},
        smoothing={"enabled": False, "weight": 0.3},
        query={"router": True},
        doc_first={"enabled": True, "candidates": 5},
        rerank={"stages": ["mmr"], "candidates": 12, "mmr_lambda": 0.5},
    )
    assert legacy == grouped
    # Every legacy key lands on a real field of the grouped model.
    for key, path in LEGACY_RETRIEVAL_KEYS.items():
        node: object = RetrievalSettings()
        for name in path:
            assert hasattr(node, name), (key, path)
            node = getattr(node, name)
    # The same through a TOML file and the environment (what a user's old config does).
    cfg = tmp_path / "ragline.toml"
    cfg.write_text('[retrieval]\nprf = false\nrerank = ["freshness"]\nfusion = "weighted"\n')
    monkeypatch.setenv("RAGLINE_CONFIG", str(cfg))
    monkeypatch.setenv("RAGLINE_RETRIEVAL__SMOOTHING__ENABLED", "false")
    s = load_settings()
    assert not s.retrieval.feedback.keyword.enabled and s.retrieval.rerank.stages == ["freshness"]
    assert s.retrieval.fusion.method == "weighted" and not s.retrieval.smoothing.enabled
    assert s.retrieval.feedback.dense.enabled  # untouched keys keep their defaults


@pytest.mark.parametrize(
    ("retrieval", "message"),
    [
        ({"prf": False, "feedback": {"keyword": {"enabled": True}}}, "retrieval.prf = False contradicts"),
        ({"fusion": {"methd": "rrf"}}, "retrieval.fusion.methd"),
        ({"rerank": {"stages": ["colbert"]}}, "retrieval.rerank.stages"),
        ({"feedback": {"keyword": {"docs": 0}}}, "retrieval.feedback.keyword.docs"),
    ],
)
def test_bad_grouped_retrieval_settings_name_the_key(retrieval: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(retrieval=retrieval)


def test_collection_overrides_are_typed_and_only_set_keys_override() -> None:
    s = load_settings(
        retrieval={"top_k": 7, "fusion": {"method": "rrf", "rrf_k": 20}},
        collections={
            "news": {"retrieval": {"fusion": {"rrf_k": 5}, "rerank": ["freshness"]}, "answer": {"top_k": 3}}
        },
    )
    news = s.collections["news"]
    r, a = news.resolve(s.retrieval, s.answer)
    # Deep: the collection's rrf_k, the global method and top_k, its rerank stages (legacy key).
    assert (r.fusion.method, r.fusion.rrf_k, r.top_k) == ("rrf", 5, 7)
    assert r.rerank.stages == ["freshness"] and r.rerank.candidates == s.retrieval.rerank.candidates
    assert a.top_k == 3 and a.context_tokens == s.answer.context_tokens
    with pytest.raises(ConfigError, match=r"collections\.news\.retrieval\.fusion\.rrfk"):
        load_settings(collections={"news": {"retrieval": {"fusion": {"rrfk": 5}}}})
    with pytest.raises(ConfigError, match="cannot be set per collection"):
        load_settings(collections={"news": {"answer": {"generator": "llm"}}})


def test_cleaning_overrides_per_collection_merge_nested_keys():
    from ragline.settings import CleaningSettings

    s = load_settings(
        cleaning={"pii": {"enabled": False, "mode": "remove", "kinds": ["email"]}},
        collections={"hr": {"cleaning": {"pii": {"enabled": True}, "near_duplicates": {"threshold": 0.9}}}},
    )
    hr = s.collections["hr"].resolve_cleaning(s.cleaning)
    # Keys the collection does not set keep the global value, nested tables included.
    assert hr.pii.enabled and hr.pii.mode == "remove" and hr.pii.kinds == ("email",)
    assert hr.near_duplicates.threshold == 0.9 and not hr.near_duplicates.enabled
    assert CleaningSettings().pii.enabled is False and CleaningSettings().near_duplicates.enabled is False


def test_cleaning_settings_reject_typos_and_keyless_hashing():
    with pytest.raises(ConfigError, match="enabeld"):
        load_settings(collections={"hr": {"cleaning": {"pii": {"enabeld": True}}}})
    with pytest.raises(ConfigError, match="hash_key"):
        load_settings(cleaning={"pii": {"mode": "hash"}})
    # A collection may set the mode and inherit the key, or set the mode without any key.
    ok = load_settings(
        cleaning={"pii": {"hash_key": "k"}}, collections={"hr": {"cleaning": {"pii": {"mode": "hash"}}}}
    )
    assert ok.collections["hr"].resolve_cleaning(ok.cleaning).pii.mode == "hash"
    with pytest.raises(ConfigError, match=r"collections\.hr\.cleaning\.pii: mode = 'hash' needs hash_key"):
        load_settings(collections={"hr": {"cleaning": {"pii": {"mode": "hash"}}}})
    with pytest.raises(ConfigError, match="threshold"):
        load_settings(cleaning={"near_duplicates": {"threshold": 0}})
