"""Two processes ingesting the same folder into one collection at once: one waits for the other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ragline
from tests.helpers import write_markdown_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = """
import json, sys, ragline
r = ragline.open(sys.argv[1]).ingest([sys.argv[2]])
print(json.dumps({"indexed": r.files_indexed, "unchanged": r.files_unchanged, "embedded": r.chunks_embedded}))
"""


def test_concurrent_ingests_serialise_and_embed_once(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    write_markdown_corpus(corpus, n_files=10, seed=9, paragraphs=5)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(corpus)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # Whichever ran second found everything indexed and embedded nothing.
    assert sorted(o["indexed"] for o in outs) == [0, 10]
    assert sorted(o["unchanged"] for o in outs) == [0, 10]
    assert min(o["embedded"] for o in outs) == 0
    engine = ragline.open(tmp_path / "data")
    chunks = engine.store().all_chunks()
    assert len({c.id for c in chunks}) == len(chunks) == max(o["embedded"] for o in outs)
