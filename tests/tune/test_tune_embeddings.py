"""Label-free fine-tuning: pairs from the corpus, a new model version, the collection re-embedded
and searched with it, nothing else about the collection changed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ragline
from ragline.cli.main import app
from ragline.errors import ConfigError
from ragline.tune.embeddings import build_pairs
from ragline.types import Chunk, Document

TOPICS = ["glaciers", "volcanoes", "coral reefs", "deserts", "rainforests", "tundra", "rivers", "caves"]


def _docs(n: int) -> list[Document]:
    rng = random.Random(1)
    docs = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        sentences = [
            f"Field note {i} describes {topic} observed during survey season {rng.randint(1, 9)}.",
            f"The team measured how {topic} changed over {rng.randint(2, 30)} years of records.",
            f"Local guides explained why {topic} matter for the region's water and wildlife.",
            f"Samples from the {topic} were stored at the institute under code {rng.randint(100, 999)}.",
        ]
        docs.append(
            Document(
                id=f"d{i}",
                source=f"notes/{i}.txt",
                title=f"Survey of {topic} #{i}",
                text=" ".join(sentences),
                metadata={"n": i},
            )
        )
    return docs


def test_pairs_come_from_titles_and_inverse_cloze() -> None:
    chunks = [
        Chunk(
            id="c0",
            doc_id="a",
            text="First sentence about lakes is here. Second sentence on fish stocks. "
            "Third sentence about water quality.",
            position=0,
            start=0,
            end=100,
            title="Lakes",
        ),
    ]
    pairs = build_pairs(chunks, max_pairs=10)
    kinds = {p.kind for p in pairs}
    assert kinds == {"title", "cloze"}
    cloze = next(p for p in pairs if p.kind == "cloze")
    assert cloze.query not in cloze.passage and cloze.query in chunks[0].text
    assert next(p for p in pairs if p.kind == "title").query == "Lakes"


@pytest.mark.integration
@pytest.mark.slow
def test_tune_saves_a_version_and_reembeds_the_collection(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data")
    engine.upsert_documents(_docs(80), collection="notes")
    before = {c.id: c for c in engine.store("notes").all_chunks()}
    base_model = engine.embedder_for("notes").model_id
    report = engine.tune_embeddings("notes", max_pairs=32, batch_size=16, max_seq_length=32)
    assert report.model_dir == tmp_path / "data" / "models" / "notes" / "v1"
    assert (report.model_dir / "config.json").is_file() and report.steps > 0
    assert 0.0 <= report.heldout_ndcg_before <= 1.0 and 0.0 <= report.heldout_ndcg_after <= 1.0
    meta = json.loads((tmp_path / "data" / "collections" / "notes" / "collection.json").read_text())
    assert meta["model_path"] == str(report.model_dir) and meta["model_id"] != base_model
    # Same chunks (ids, text, metadata, access), new vectors, searched with the tuned model.
    after = {c.id: c for c in engine.store("notes").all_chunks()}
    assert after == before
    fresh = ragline.open(tmp_path / "data")
    assert fresh.embedder_for("notes").model_id == meta["model_id"]
    hits = fresh.search("coral reefs survey", collection="notes", top_k=3)
    assert hits and "coral reefs" in hits[0].chunk.text
    # New documents go in with the tuned model too; a second run makes v2.
    fresh.upsert_documents(
        [Document(id="new", source="n", text="Notes about moss on glaciers.")], collection="notes"
    )
    assert fresh.search("moss", collection="notes", top_k=1)[0].chunk.doc_id == "new"
    assert (
        fresh.tune_embeddings("notes", max_pairs=32, batch_size=16, max_seq_length=32).model_dir.name == "v2"
    )


def test_too_few_pairs_is_a_clear_error(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data")
    engine.upsert_documents(_docs(3), collection="tiny")
    with pytest.raises(ConfigError, match="training pairs"):
        engine.tune_embeddings("tiny", batch_size=32)
    res = CliRunner().invoke(
        app, ["tune", "embeddings", "--collection", "tiny", "--data-dir", str(tmp_path / "data")]
    )
    assert res.exit_code == 2 and "training pairs" in res.output
