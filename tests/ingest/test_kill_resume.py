"""An ingest killed with SIGKILL at random points leaves the collection consistent and resumes.

The child reports progress after each file; the parent kills it after a random number of files
plus a random delay, so kills land before, between and inside store commits. After every kill,
each source in the index holds exactly the chunks a clean ingest gives it (no half-written
document is visible); the final re-run makes the collection equal to a clean ingest.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ragline
from tests.helpers import write_markdown_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_FILES = 30
# Small chunks and commits make many store commits, so kills land between them.
SETTINGS = {
    "store": {"commit_chunks": 6},
    "embedding": {"batch_size": 4},
    "chunking": {"chunk_size": 48, "chunk_overlap": 8},
}
SCRIPT = f"""
import sys, ragline

def progress(p):
    print("files", p.files_done, flush=True)

ragline.open(sys.argv[1], **{SETTINGS!r}).ingest([sys.argv[2]], progress=progress)
"""


def snapshot(data_dir: Path) -> dict[str, dict[str, str]]:
    store = ragline.open(data_dir, **SETTINGS).store()
    out: dict[str, dict[str, str]] = {}
    for c in store.all_chunks():
        out.setdefault(c.source, {})[c.id] = c.text
    return out


def run_ingest(data_dir: Path, corpus: Path, kill_after_files: int | None = None, delay: float = 0.0) -> int:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(data_dir), str(corpus)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if (
            kill_after_files is not None
            and line.startswith("files")
            and int(line.split()[1]) >= kill_after_files
        ):
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            break
    proc.stdout.close()
    return proc.wait(timeout=300)


def test_sigkill_at_random_points_then_rerun_equals_clean_ingest(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_markdown_corpus(corpus, n_files=N_FILES, seed=3, paragraphs=6)
    clean_dir = tmp_path / "clean"
    assert run_ingest(clean_dir, corpus) == 0
    clean = snapshot(clean_dir)
    assert len(clean) == N_FILES

    rng = random.Random(1234)
    victim = tmp_path / "victim"
    midway = 0
    done = 0
    for _ in range(8):
        # Later runs skip what earlier ones committed, so aim inside the files still to do.
        code = run_ingest(victim, corpus, rng.randint(done + 1, N_FILES - 1), rng.uniform(0.0, 0.3))
        partial = snapshot(victim) if (victim / "collections" / "default" / "chunks.lance").exists() else {}
        for source, chunks in partial.items():
            assert chunks == clean[source], f"half-written source visible after kill: {source}"
        midway += code == -signal.SIGKILL and 0 < len(partial) < len(clean)
        done = len(partial)
        if done >= N_FILES - 1:
            break
    assert midway >= 1, "no kill landed between commits; the test would not catch a torn write"
    assert run_ingest(victim, corpus) == 0
    assert snapshot(victim) == clean
    # Vectors equal too: the same nearest neighbours for a fixed probe.
    probe = np.ones(384, dtype=np.float32) / np.sqrt(384)
    clean_store = ragline.open(clean_dir, **SETTINGS).store()
    victim_store = ragline.open(victim, **SETTINGS).store()
    assert [c.chunk_id for c in victim_store.dense_candidates(probe, 5)] == [
        c.chunk_id for c in clean_store.dense_candidates(probe, 5)
    ]


def test_sigkill_while_reindexing_changed_files_shows_old_or_new_never_a_mix(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    files = write_markdown_corpus(corpus, n_files=N_FILES, seed=4, paragraphs=6)
    old_dir, victim = tmp_path / "old", tmp_path / "victim"
    assert run_ingest(old_dir, corpus) == 0
    assert run_ingest(victim, corpus) == 0
    old = snapshot(old_dir)
    for i, path in enumerate(files):
        # Changed text in the middle of each file: its chunks change, so re-indexing goes through
        # the replace-by-source merge rather than a plain append.
        lines = path.read_text().splitlines()
        lines.insert(len(lines) // 2, f"Revision {i}: the maintenance window moved to Sunday.")
        path.write_text("\n".join(lines) + "\n")
    new_dir = tmp_path / "new"
    assert run_ingest(new_dir, corpus) == 0
    new = snapshot(new_dir)
    assert all(new[s] != old[s] for s in new)

    rng = random.Random(99)
    mixed_states = 0
    done = 0
    for _ in range(6):
        code = run_ingest(victim, corpus, rng.randint(done + 1, N_FILES - 1), rng.uniform(0.0, 0.3))
        state = snapshot(victim)
        assert set(state) == set(old), "a source disappeared during re-indexing"
        for source, chunks in state.items():
            assert chunks in (old[source], new[source]), f"old and new chunks mixed in {source}"
        done = sum(state[s] == new[s] for s in state)
        mixed_states += code == -signal.SIGKILL and 0 < done < N_FILES
        if done >= N_FILES - 1:
            break
    assert mixed_states >= 1, "no kill landed between re-index commits"
    assert run_ingest(victim, corpus) == 0
    assert snapshot(victim) == new
