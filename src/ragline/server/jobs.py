"""Ingest jobs: uploads and JSON documents are indexed on worker threads; progress goes to the state
store, so any replica can answer ``GET /v1/jobs/{id}``."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ragline.engine import Engine
from ragline.errors import RaglineError
from ragline.ingest.pipeline import IngestProgress, IngestReport
from ragline.state import JobError, StateStore
from ragline.telemetry import span
from ragline.types import Access, Document, Principal

log = logging.getLogger(__name__)
# Progress is written at most this often: a state-store round trip per embedded batch is waste.
_PROGRESS_EVERY_S = 0.25


class JobRunner:
    """Runs ingest jobs on a small thread pool and records their progress and outcome."""

    def __init__(
        self,
        engine: Engine,
        state: StateStore,
        workers: int,
        on_done: Callable[[str, IngestReport], None] | None = None,
    ) -> None:
        self.engine = engine
        self.state = state
        self.on_done = on_done
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ragline-ingest")
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def submit_files(
        self, job_id: str, tenant: str, key_id: str, collection: str, paths: Sequence[Path], access: Access
    ) -> None:
        def work() -> IngestReport:
            return self.engine.ingest(
                list(paths), collection=collection, access=access, progress=self._progress(job_id)
            )

        detail = json.dumps({"files": [p.name for p in paths], "groups": list(access.groups)})
        self._submit(job_id, tenant, key_id, collection, work, detail, ())

    def submit_documents(
        self,
        job_id: str,
        tenant: str,
        key_id: str,
        collection: str,
        docs: Sequence[Document],
        principal: Principal | None = None,
    ) -> None:
        def work() -> IngestReport:
            self.state.update_job(job_id, done=0, total=len(docs))
            return self.engine.upsert_documents(list(docs), collection=collection, principal=principal)

        self._submit(job_id, tenant, key_id, collection, work, "", tuple(d.id for d in docs))

    def _submit(
        self,
        job_id: str,
        tenant: str,
        key_id: str,
        collection: str,
        work: Callable[[], IngestReport],
        detail: str,
        doc_ids: tuple[str, ...],
    ) -> None:
        def run() -> None:
            self.state.update_job(job_id, status="running")
            try:
                with span("ingest", collection=collection, job=job_id):
                    report = work()
            except RaglineError as exc:
                self.state.update_job(job_id, status="failed", message=str(exc))
                log.warning("ingest job %s failed: %s", job_id, exc)
                return
            except Exception as exc:  # a worker must record the failure, not die silently
                log.exception("ingest job %s crashed", job_id)
                self.state.update_job(job_id, status="failed", message=f"internal error: {exc!r}")
                return
            errors = [JobError(file=Path(p).name, error=why) for p, why in [*report.errors, *report.skipped]]
            total = report.files_seen or report.documents_indexed
            self.state.update_job(
                job_id,
                status="done",
                total=total,
                done=total,
                chunks=report.chunks_indexed,
                add_errors=errors,
                message=(
                    f"{report.documents_indexed} documents, {report.chunks_indexed} chunks indexed"
                    + (f", {len(errors)} file(s) failed" if errors else "")
                ),
            )
            self.state.append_audit(
                tenant=tenant,
                key_id=key_id,
                action="ingest",
                collection=collection,
                doc_ids=doc_ids,
                detail=detail or json.dumps({"documents": report.documents_indexed}),
            )
            if self.on_done is not None:
                self.on_done(job_id, report)

        with self._lock:
            self._futures[job_id] = self._pool.submit(run)

    def _progress(self, job_id: str) -> Callable[[IngestProgress], None]:
        last = 0.0

        def report(p: IngestProgress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < _PROGRESS_EVERY_S and p.files_done < p.files_total:
                return
            last = now
            self.state.update_job(job_id, total=p.files_total, done=p.files_done, chunks=p.chunks_embedded)

        return report

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until a job submitted here finishes (tests and the CLI use this)."""
        with self._lock:
            fut = self._futures.get(job_id)
        if fut is not None:
            fut.result(timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
