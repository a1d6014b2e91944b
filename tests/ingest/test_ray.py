"""Distributed ingestion on a real two-node Ray cluster started in this process.

The cluster (``ray.cluster_utils.Cluster``: a head and a second node, one CPU each) binds to
loopback only and reports no usage. The equality test runs the real packaged ONNX model on both
sides: the collection a Ray ingest writes must be the collection a single-process ingest writes.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Loopback only (Ray otherwise binds the machine's outward address; read when ray is imported)
# and no usage reports: set before ray is imported.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
os.environ.update(RAY_ENV)

import lancedb  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import ragline  # noqa: E402
from ragline.embedding.tokens import unpack_tokens  # noqa: E402
from ragline.errors import ConfigError, DistributedError  # noqa: E402
from ragline.ingest.pipeline import IngestProgress  # noqa: E402
from ragline.ingest.ray import ACTOR_NAMESPACE, ACTOR_PREFIX  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Small chunks and batches: several chunks a file, several model calls a step, so both actors work.
SETTINGS: dict[str, Any] = {
    "embedding": {"batch_size": 4, "threads": 1},
    "chunking": {"chunk_size": 48, "chunk_overlap": 8},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    assert ray._private.services.get_node_ip_address() == "127.0.0.1"
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": 100 << 20},
    )
    c.add_node(num_cpus=1, object_store_memory=100 << 20)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def write_corpus(root: Path, version: str = "v1") -> Path:
    """A handful of files of several types: Markdown, text, HTML, JSON, CSV, a duplicate and a bad file."""
    root.mkdir(parents=True, exist_ok=True)
    words = f"Revision {version}."
    (root / "guide.md").write_text(
        f"# Install guide\n\n{words} Install the package with apt on Debian, then enable the service "
        "with systemd. Check the logs with journalctl when the service does not start.\n\n"
        "## Upgrades\n\nUpgrades keep the configuration file; read the release notes first, "
        "because some settings are renamed between major versions.\n",
        encoding="utf-8",
    )
    (root / "notes.txt").write_text(
        f"{words} Snapshots are taken nightly and kept for thirty days in object storage. "
        "A restore takes about an hour for a terabyte. Test restores every quarter.\n",
        encoding="utf-8",
    )
    (root / "copy-of-notes.txt").write_text(
        (root / "notes.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (root / "page.html").write_text(
        f"<html><head><title>Billing</title></head><body><h1>Billing</h1><p>{words} Invoices are "
        "issued monthly; refunds are processed within ten business days.</p><p>Disputes go to the "
        "finance team by email.</p></body></html>",
        encoding="utf-8",
    )
    (root / "faq.json").write_text(
        json.dumps(
            [
                {
                    "_id": "k1",
                    "title": "Keys",
                    "text": f"{words} Rotate API keys every ninety days.",
                    "team": "sec",
                },
                {
                    "_id": "k2",
                    "title": "Ports",
                    "text": "Open port 8443 on the firewall for TLS.",
                    "team": "net",
                },
            ]
        ),
        encoding="utf-8",
    )
    (root / "people.csv").write_text(
        f"name,role,bio\nAda,engineer,{words} Writes the storage layer.\nLin,manager,Plans the releases.\n",
        encoding="utf-8",
    )
    (root / "broken.json").write_text("{not json", encoding="utf-8")
    return root


def table(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Every stored chunk row by id, read straight from the LanceDB table."""
    db = lancedb.connect(str(data_dir / "collections" / "default"))
    rows = db.open_table("chunks").to_arrow().to_pylist()
    return {r["id"]: r for r in rows}


def snapshot(data_dir: Path) -> dict[str, set[str]]:
    """Each source's chunk ids."""
    out: dict[str, set[str]] = {}
    for r in table(data_dir).values():
        out.setdefault(r["source"], set()).add(r["id"])
    return out


def assert_same_collection(a: Path, b: Path) -> None:
    left, right = table(a), table(b)
    assert left.keys() == right.keys()
    vector_columns = {"vector", "unit_vectors", "token_states"}
    for cid, row in left.items():
        other = right[cid]
        assert {k: v for k, v in row.items() if k not in vector_columns} == {
            k: v for k, v in other.items() if k not in vector_columns
        }, cid
        np.testing.assert_allclose(row["vector"], other["vector"], atol=1e-5)
        np.testing.assert_allclose(
            np.asarray(row["unit_vectors"], np.float32),
            np.asarray(other["unit_vectors"], np.float32),
            atol=1e-5,
        )
        # int8 with a scale per token: a float difference far below 1e-5 may still move one step.
        ta, tb = unpack_tokens(row["token_states"], 384), unpack_tokens(other["token_states"], 384)
        assert ta.shape == tb.shape
        np.testing.assert_allclose(ta, tb, atol=0.02)


def embed_actor_pids() -> list[int]:
    """The process ids of the running ragline embedding actors."""
    names = [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == ACTOR_NAMESPACE and a["name"].startswith(ACTOR_PREFIX)
    ]
    return [ray.get(ray.get_actor(n, namespace=ACTOR_NAMESPACE).pid.remote()) for n in names]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder and the collection a single-process ingest makes of it."""
    root = tmp_path_factory.mktemp("ray")
    corpus = write_corpus(root / "corpus")
    report = ragline.open(root / "single", **SETTINGS).ingest([corpus])
    assert report.files_indexed == 6 and [Path(p).name for p, _ in report.errors] == ["broken.json"]
    return corpus, root / "single"


def test_ray_ingest_equals_single_process_ingest(
    cluster: Cluster, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus, single = reference
    seen: list[tuple[int, int, int]] = []

    def record(p: IngestProgress) -> None:
        seen.append((p.workers, p.files_done, p.chunks_embedded))

    engine = ragline.open(tmp_path / "ray", **SETTINGS)
    report = engine.ingest([corpus], ray=cluster.address, progress=record)
    assert report.files_indexed == 6 and report.duplicates_skipped == 1
    assert [Path(p).name for p, _ in report.errors] == ["broken.json"]
    assert report.chunks_embedded > 0
    # Two nodes, one model-holding actor on each; the bar's counts add up over both.
    assert max(w for w, _, _ in seen) == 2
    assert seen[-1][1:] == (7, report.chunks_indexed)
    assert_same_collection(single, tmp_path / "ray")

    # As in-process, a duplicate is known only while its original is parsed in the same run: with
    # notes.txt unchanged, its copy is indexed now. Then nothing is left to do.
    second = engine.ingest([corpus], ray=cluster.address)
    assert (second.files_unchanged, second.files_indexed, second.duplicates_skipped) == (5, 1, 0)
    # A re-run over the unchanged folder does no remote work: no file parsed, no actor, no model call.
    seen.clear()
    again = engine.ingest([corpus], ray=cluster.address, progress=record)
    assert (again.files_unchanged, again.chunks_embedded, again.chunks_indexed) == (6, 0, 0)
    assert max(w for w, _, _ in seen) == 0


def test_sync_deletes_vanished_files_as_in_process(cluster: Cluster, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "copy-of-notes.txt").unlink()  # a duplicate's re-run would index it (see above)
    engine = ragline.open(tmp_path / "data", **SETTINGS)
    engine.ingest([corpus], ray=cluster.address)
    (corpus / "page.html").unlink()
    report = engine.ingest([corpus], ray=cluster.address, sync=True)
    assert report.sources_deleted == 1 and report.chunks_embedded == 0
    assert str(corpus / "page.html") not in snapshot(tmp_path / "data")


def kill_when_busy(pids: list[int], killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first of ``pids`` caught running a model call (Ray titles a busy actor's
    process ``ray::EmbedWorker.<method>``), so the call in flight dies with it."""
    while not stop.is_set() and not killed:
        for pid in pids:
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"EmbedWorker.embed" in title:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.005)


def test_embedding_worker_killed_mid_call_is_restarted_and_the_job_finishes(
    cluster: Cluster, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus, single = reference
    killed: list[int] = []
    stop = threading.Event()
    watcher: list[threading.Thread] = []

    def watch(p: IngestProgress) -> None:
        if p.chunks_embedded and not watcher:  # the actors exist (and are idle) now
            watcher.append(threading.Thread(target=kill_when_busy, args=(embed_actor_pids(), killed, stop)))
            watcher[0].start()

    # One commit per file, so files remain to embed after the watcher starts.
    engine = ragline.open(tmp_path / "ray", **SETTINGS, store={"commit_chunks": 1})
    try:
        report = engine.ingest([corpus], ray=cluster.address, progress=watch)
    finally:
        stop.set()
        for t in watcher:
            t.join()
    assert killed, "no embedding call was caught running"
    assert report.files_indexed == 6
    assert_same_collection(single, tmp_path / "ray")


def test_worker_lost_past_retries_fails_clearly_and_no_source_is_half_replaced(
    cluster: Cluster, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", "v1")
    (corpus / "copy-of-notes.txt").unlink()  # which copy a resumed ingest keeps depends on the cut
    data = tmp_path / "data"
    settings = {**SETTINGS, "store": {"commit_chunks": 1}, "ingest": {"ray_max_retries": 0}}
    ragline.open(data, **settings).ingest([corpus])
    old = snapshot(data)
    write_corpus(corpus, "v2")  # every file but the bad one changes
    (corpus / "copy-of-notes.txt").unlink()
    ragline.open(tmp_path / "v2", **SETTINGS).ingest([corpus])
    new = snapshot(tmp_path / "v2")
    assert all(old[s] != new[s] for s in new)

    killed: list[int] = []

    def kill_all(p: IngestProgress) -> None:
        if p.chunks_embedded and not killed:
            for pid in embed_actor_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    with pytest.raises(
        DistributedError, match=r"embedding worker was lost past 0 retries.*re-run the ingest"
    ):
        ragline.open(data, **settings).ingest([corpus], ray=cluster.address, progress=kill_all)
    assert killed
    after = snapshot(data)
    assert after.keys() == new.keys()
    # Each source holds all its old chunks or all its new ones, never a mix; some were committed.
    assert all(after[s] in (old[s], new[s]) for s in after)
    assert any(after[s] == new[s] for s in after) and any(after[s] == old[s] for s in after)

    report = ragline.open(data, **settings).ingest([corpus], ray=cluster.address)
    assert report.files_indexed + report.files_unchanged == 5
    assert snapshot(data) == new


def test_cli_ingest_on_ray_shows_the_workers_in_its_progress_bar(cluster: Cluster, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ragline.cli.main import app

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Keys\n\nRotate API keys every ninety days.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("Refunds are processed within ten business days.\n", encoding="utf-8")
    env = {"RAGLINE_PROGRESS": "1", "RAGLINE_EMBEDDING__BATCH_SIZE": "1", "RAGLINE_EMBEDDING__THREADS": "1"}
    args = ["ingest", str(corpus), "--ray", cluster.address, "--data-dir", str(tmp_path / "d"), "--json"]
    res = CliRunner().invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["files_indexed"] == 2 and report["chunks_embedded"] >= 2
    assert "on 2 Ray workers" in res.stderr


def test_a_bad_ray_address_setting_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ray_address is empty"):
        ragline.open(tmp_path, ingest={"ray_address": " "}).ingest([tmp_path])


def test_semantic_chunks_are_cut_on_the_driver_and_match_in_process(cluster: Cluster, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# Ops\n\nBackups run nightly. Snapshots stay thirty days. Restores take an hour.\n\n"
        "Invoices go out monthly. Refunds take ten business days.\n",
        encoding="utf-8",
    )
    settings = {**SETTINGS, "chunking": {"strategy": "semantic", "chunk_size": 48, "chunk_overlap": 8}}
    ragline.open(tmp_path / "single", **settings).ingest([corpus])
    report = ragline.open(tmp_path / "ray", **settings).ingest([corpus], ray=cluster.address)
    assert report.files_indexed == 1 and report.chunks_indexed >= 2
    assert_same_collection(tmp_path / "single", tmp_path / "ray")


@pytest.mark.parametrize("form", ["mapped", "split"])
def test_one_run_sentence_vectors_and_token_states_take_one_run_on_the_actors(
    cluster: Cluster, tmp_path: Path, form: str
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# Ops\n\nBackups run nightly. Snapshots stay thirty days. Restores take an hour.\n\n"
        "Invoices go out monthly. Refunds take ten business days. Disputes go to finance.\n\n"
        "## Keys\n\nRotate API keys every ninety days. Open port 8443 on the firewall for TLS. "
        "Ask the security team before sharing a key with a contractor.\n",
        encoding="utf-8",
    )
    settings = {**SETTINGS, "chunking": {**SETTINGS["chunking"], "sentence_vectors": form}}
    single = ragline.open(tmp_path / "single", **settings).ingest([corpus])
    report = ragline.open(tmp_path / "ray", **settings).ingest([corpus], ray=cluster.address)
    # One model run a chunk, as in-process: a token run and then a span run counted every chunk twice.
    assert report.chunks_indexed >= 2
    assert report.chunks_embedded == report.chunks_indexed == single.chunks_embedded
    assert_same_collection(tmp_path / "single", tmp_path / "ray")
