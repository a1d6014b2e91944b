"""`ragline export`, `import`, `snapshot` and `restore` end to end through typer's runner, on the
real model and LanceDB: token states and the late-interaction reranker travel with the export."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from ragline.embedding.onnx import OnnxEmbedder
from tests.helpers import write_markdown_corpus

pytestmark = pytest.mark.integration
runner = CliRunner()
QUERIES = ["backup snapshots nightly", "install on linux with apt", "rotate API keys", "invoices refunds"]


def _run(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def _search(data: Path, collection: str, mode: str, *extra: str) -> list[tuple[str, float]]:
    out = []
    for q in QUERIES:
        hits = json.loads(
            _run("search", q, "--data-dir", str(data), "-c", collection, "--mode", mode, "--json")
        )
        out += [(h["chunk_id"], h["score"]) for h in hits]
    return out


def test_export_import_into_a_fresh_data_dir_searches_the_same_without_embedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    write_markdown_corpus(docs, n_files=4)
    a, b = tmp_path / "a", tmp_path / "b"
    _run("ingest", str(docs), "--data-dir", str(a), "-c", "kb", "--tenant", "acme", "--groups", "eng")
    # `ragline search` reads the default tenant: its copy is what the searches compare.
    _run("ingest", str(docs), "--data-dir", str(a), "-c", "kb")
    want = {mode: _search(a, "kb", mode) for mode in ("dense", "hybrid")}
    assert all(want.values())

    report = json.loads(_run("export", "kb", str(tmp_path / "out"), "--data-dir", str(a), "--json"))
    assert report["counts"]["token_states"] == report["counts"]["chunks"] > 0
    acme = json.loads(
        _run("export", "kb", str(tmp_path / "acme"), "--tenant", "acme", "--data-dir", str(a), "--json")
    )
    assert acme["tenant"] == "acme" and acme["counts"] == report["counts"]

    def refuse(self: Any, texts: Sequence[str]) -> Any:
        raise AssertionError(f"import embedded {len(texts)} texts")

    with monkeypatch.context() as m:
        m.setattr(OnnxEmbedder, "embed_documents", refuse)
        m.setattr(OnnxEmbedder, "embed_with_tokens", refuse)
        got = json.loads(_run("import", str(tmp_path / "out"), "--data-dir", str(b), "--json"))
        assert got["counts"] == report["counts"] and got["collection"] == "kb" and got["settings_match"]
        acme_in = json.loads(
            _run("import", str(tmp_path / "acme"), "--data-dir", str(b), "-c", "kb2", "--json")
        )
        assert acme_in["tenant"] == "acme"
    assert (b / "tenants" / "acme" / "collections" / "kb2" / "collection.json").is_file()
    for mode, hits in want.items():
        found = _search(b, "kb", mode)
        assert [cid for cid, _ in found] == [cid for cid, _ in hits], mode
        assert [s for _, s in found] == pytest.approx([s for _, s in hits], abs=1e-6), mode

    res = runner.invoke(app, ["import", str(tmp_path / "out"), "--data-dir", str(b)])
    # The error is wrapped to the terminal's width at a place that depends on the path's length.
    assert res.exit_code == 2 and "already holds" in " ".join(res.output.split())
    res = runner.invoke(app, ["import", str(docs), "--data-dir", str(b)])
    assert res.exit_code == 2 and "not a ragline export" in " ".join(res.output.split())


def test_snapshot_and_restore_bring_back_a_replaced_document(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "policy.md"
    page.write_text("# Policy\n\nRefunds are processed within ten business days.\n")
    data = str(tmp_path / "data")
    _run("ingest", str(docs), "--data-dir", data, "-c", "kb")
    out = _run("snapshot", "kb", "--tag", "before-edit", "--data-dir", data)
    assert "tagged version" in out and "before-edit" in out
    page.write_text("# Policy\n\nRefunds are no longer offered.\n")
    _run("ingest", str(docs), "--data-dir", data, "-c", "kb")

    def top() -> str:
        hits = json.loads(_run("search", "refunds", "--data-dir", data, "-c", "kb", "--json", "-k", "1"))
        return str(hits[0]["text"])

    assert "no longer" in top()
    out = _run("restore", "kb", "--version", "before-edit", "--data-dir", data)
    assert "restored kb to version before-edit" in out
    assert "ten business days" in top()
    versions = json.loads(_run("snapshot", "kb", "--list", "--json", "--data-dir", data))
    assert [v["tags"] for v in versions if v["tags"]] == [["before-edit"]]
    res = runner.invoke(app, ["restore", "kb", "--version", "nope", "--data-dir", data])
    assert res.exit_code == 2 and "no version or snapshot tag 'nope'" in " ".join(res.output.split())
    assert "removed snapshot tag before-edit" in _run(
        "snapshot", "kb", "--delete", "before-edit", "--data-dir", data
    )
    versions = json.loads(_run("snapshot", "kb", "--list", "--json", "--data-dir", data))
    assert not any(v["tags"] for v in versions)
