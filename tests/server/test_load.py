"""A short load run in the suite (issue 25, part 5; the long one is bench/load/run.py): 10 clients
for 8 s on a real uvicorn server over LanceDB, mixing search, ask, conversation follow-ups and the
OpenAI endpoint with several messages, as three keys of different groups, while an admin uploads
files (ingest jobs writing the collection being read). No 5xx, every response the documented JSON,
and every document a key was shown is one that key may read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from ragline.server.app import create_app
from ragline.testing.load import MIX, Workload, run_load
from ragline.types import Access, Document
from tests.helpers import TOPICS, fast_engine
from tests.server.conftest import make_keys, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_mixed_load_with_uploads_gives_no_5xx_and_only_readable_well_formed_answers(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    # The real store (LanceDB: concurrent readers and a writer) with the model-free embedder; a
    # queue deep enough that nothing is shed, so every request is answered.
    engine = fast_engine(tmp_path, store={"backend": "lance"}, server={"json_logs": False, "max_queue": 1000})
    groups = {"eng": ("eng",), "hr": ("hr",), "all": ()}
    engine.upsert_documents(
        [
            Document(
                id=f"{topic}-{g}",
                source=f"{topic}-{g}",
                title=f"{topic} ({g})",
                text=f"{text} This {topic} note is for {g}.",
                access=Access("acme", gs),
            )
            for topic, text in TOPICS.items()
            for g, gs in groups.items()
        ],
        collection="kb",
    )
    uploads = [
        [
            (f"up-{b}-{i}.md", f"# Upload {b} {i}\n\n{text}\n".encode())
            for i, text in enumerate(TOPICS.values())
        ]
        for b in range(3)
    ]
    readers = [keys.acme_eng, keys.acme_hr, keys.acme_admin]
    with serving(create_app(engine.settings, engine=engine)) as base:
        report = asyncio.run(
            run_load(
                Workload(
                    base=base,
                    collection="kb",
                    keys=readers,
                    admin=keys.acme_admin,
                    queries=[*(f"how do I handle {t}?" for t in TOPICS), *TOPICS.values()],
                    upload_batches=uploads,
                    clients=10,
                    seconds=8,
                    upload_every_s=2,
                )
            )
        )
        summary = report.summary()
        assert report.server_errors() == 0, summary
        assert report.shape_errors == [], summary
        # Every operation ran and was answered, and the uploads were indexed while it did.
        for op in MIX:
            assert report.statuses[op]["200"] > 0, summary
        assert report.jobs["done"] >= 1 and report.jobs["failed"] == 0, summary
        # What each key was shown, it may read; and the group-limited keys were shown something.
        with httpx.Client(base_url=base, timeout=60) as http:
            for k, doc_ids in report.seen.items():
                assert doc_ids, summary
                for doc_id in doc_ids:
                    r = http.get(f"/v1/collections/kb/documents/{doc_id}", headers=readers[k])
                    assert r.status_code == 200, (k, doc_id, r.text)
        assert not any(d.endswith("-hr") for d in report.seen[0]), report.seen[0]
        assert not any(d.endswith("-eng") for d in report.seen[1]), report.seen[1]
