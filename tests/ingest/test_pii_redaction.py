"""PII redaction in the ingest: the raw values never reach the data directory (LanceDB files, the
embedding cache, the service's traces and state) nor the logs, by files, Python upserts and the
HTTP API; per-collection and per-call switches; turning it on re-indexes what was stored raw."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.server.app import create_app
from ragline.types import Document
from tests.helpers import fast_engine
from tests.server.conftest import wait_job, wait_ready

# One value of each kind, and the forms a store could keep them in (digits without separators).
RAW = {
    "email": "maria.garcia@example.com",
    "phone": "(415) 555-0132",
    "credit_card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "219-09-9999",
    "ip_address": "203.0.113.77",
}
FORMS = [*RAW.values(), "4111111111111111", "DE89370400440532013000", "219099999", "4155550132"]
# A word that is no PII, stored beside the values: it must be found by the same grep, or the grep
# proves nothing (a compressed or encoded store would hide the values and the marker alike).
MARKER = "zebrafinchmarker"


def pii_text(extra: str = "") -> str:
    return (
        f"The {MARKER} refund {extra}. Write to {RAW['email']} or call {RAW['phone']}. "
        f"Card {RAW['credit_card']} was charged; wire to {RAW['iban']}. "
        f"SSN {RAW['ssn']}. Login came from {RAW['ip_address']}."
    )


def files_holding(root: Path, needle: str) -> list[str]:
    raw = needle.encode()
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and raw in p.read_bytes()]


def test_raw_values_reach_no_file_of_the_data_directory_nor_the_logs(tmp_path, caplog):
    src = tmp_path / "src"
    src.mkdir()
    (src / "refund.md").write_text(f"# Refund for {RAW['email']}\n\n{pii_text('from a file')}\n")
    data = tmp_path / "data"
    engine = fast_engine(
        data,
        store={"backend": "lance"},
        cleaning={"pii": {"enabled": True}},
        server={"auth": False, "json_logs": False},
    )
    caplog.set_level(logging.DEBUG)
    report = engine.ingest([src])
    assert report.documents_indexed == 1
    assert set(report.pii_redacted) == set(RAW)
    assert report.pii_redacted["email"] >= 2  # the title's too
    engine.upsert_documents(
        [Document(id="py-1", source="api", text=pii_text("from python"), metadata={"contact": RAW["email"]})]
    )
    with TestClient(create_app(engine.settings, engine=engine)) as client:
        wait_ready(client)
        body = {"documents": [{"id": "http-1", "text": pii_text("over http"), "title": RAW["email"]}]}
        r = client.post("/v1/collections/default/documents", json=body)
        assert r.status_code == 202, r.text
        assert wait_job(client, r.json(), {})["status"] == "done"
        # An uploaded file is kept under <data_dir>/uploads until it is read: then it goes.
        files = {"files": ("upload.txt", pii_text("uploaded").encode(), "text/plain")}
        r = client.post("/v1/collections/default/files", files=files)
        assert r.status_code == 202, r.text
        assert wait_job(client, r.json(), {})["status"] == "done"
        # Searches and answers are traced in the state store inside the data directory.
        for q in ("refund card charged", "who do I write to about the refund"):
            assert client.post("/v1/collections/default/ask", json={"question": q}).status_code == 200
            assert client.post("/v1/collections/default/search", json={"query": q}).status_code == 200

    stored = engine.document("py-1")
    assert stored is not None and "<EMAIL>" in stored.text and "<CREDIT_CARD>" in stored.text
    assert stored.info.metadata["contact"] == "<EMAIL>"
    assert {d.doc_id for d in engine.documents()} >= {"py-1", "default/http-1"}
    assert any(d.source.endswith("upload.txt") for d in engine.documents())
    names = {p.name for p in data.rglob("*")}
    assert "embedding-cache.sqlite" in names and "state.sqlite" in names
    assert any(p.suffix == ".lance" for p in data.rglob("*"))
    assert files_holding(data, MARKER), "the control word is not found: the grep proves nothing"
    for value in FORMS:
        assert files_holding(data, value) == [], value
        assert not [r for r in caplog.records if value in r.getMessage()], value


def test_off_by_default_and_turned_on_per_collection_and_per_call(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(pii_text())
    engine = fast_engine(tmp_path / "data", collections={"hr": {"cleaning": {"pii": {"enabled": True}}}})
    engine.ingest([src], collection="plain")
    engine.ingest([src], collection="hr")
    engine.ingest([src], collection="once", pii=True)
    plain = engine.search("refund", collection="plain")[0].chunk.text
    assert RAW["email"] in plain
    for name in ("hr", "once"):
        text = engine.search("refund", collection=name)[0].chunk.text
        assert RAW["email"] not in text and "<EMAIL>" in text and "<IP_ADDRESS>" in text
    assert engine.collection("hr").cleaning.pii.enabled
    assert not engine.collection("plain").cleaning.pii.enabled


def test_turning_redaction_on_reindexes_unchanged_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(pii_text())
    engine = fast_engine(tmp_path / "data")
    engine.ingest([src])
    assert RAW["ssn"] in engine.search("refund")[0].chunk.text
    report = engine.ingest([src], pii=True)
    # The file's bytes did not change, but what it turns into did: it is indexed again.
    assert report.files_indexed == 1 and report.files_unchanged == 0
    text = engine.search("refund")[0].chunk.text
    assert RAW["ssn"] not in text and "<SSN>" in text
    assert engine.ingest([src], pii=True).files_unchanged == 1


def test_modes_from_settings(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(pii_text())
    engine = fast_engine(
        tmp_path / "data",
        cleaning={"pii": {"enabled": True, "mode": "hash", "hash_key": "s3cret", "kinds": ["email", "ssn"]}},
    )
    engine.ingest([src])
    text = engine.search("refund")[0].chunk.text
    assert "<EMAIL:" in text and "<SSN:" in text and RAW["email"] not in text
    assert RAW["ip_address"] in text  # not among the kinds asked for


def test_hash_mode_needs_a_key(tmp_path):
    from ragline.errors import ConfigError

    with pytest.raises(ConfigError, match="hash_key"):
        fast_engine(tmp_path / "data", cleaning={"pii": {"enabled": True, "mode": "hash"}})
    with pytest.raises(ConfigError, match=r"kinds.*'email', 'phone'"):
        fast_engine(tmp_path / "data", collections={"x": {"cleaning": {"pii": {"kinds": ["passport"]}}}})
