"""Ingest jobs: uploads and JSON documents are indexed on worker threads; progress goes to the state
store, so any replica can answer ``GET /v1/jobs/{id}``.

Each replica claims the jobs it runs with a lease in the state store and renews the leases while
they are queued or running. A job whose lease lapsed lost its worker (the replica died, or was cut
off from the state store for a whole lease): any replica's sweep marks it failed, asking for the
files again. Jobs are not re-run: the documents of a JSON job live only in the dead replica's
memory, and a re-upload replaces what a half-done job indexed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ragline.engine import Engine
from ragline.errors import RaglineError
from ragline.ingest.pipeline import IngestProgress, IngestReport
from ragline.service_state import JobError, StateError, StateStore, StateUnavailable
from ragline.telemetry import span
from ragline.types import Access, Document, Principal

log = logging.getLogger(__name__)
T = TypeVar("T")
# Progress is written at most this often: a state-store round trip per embedded batch is waste.
_PROGRESS_EVERY_S = 0.25
# Leases are renewed (and lapsed ones swept) this many times a lease: a replica may miss all but
# one renewal to a state-store blip before its jobs count as abandoned.
_BEATS_PER_LEASE = 4
# A job's status and audit writes are retried this long across state-store blips (first wait
# 0.1 s, doubling up to 5 s): an ingest that indexed its files must not end up "running" forever.
_RETRY_FOR_S = 300.0
_MAX_BACKOFF_S = 5.0
LAPSED_MESSAGE = (
    "the server running this job stopped renewing its lease before the job finished (it stopped, "
    "crashed or lost the state store); upload the files again (an upload replaces the earlier "
    "version of a file, re-sent documents replace those with the same id)"
)


def replica_id() -> str:
    """This process's name as a job owner: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    """Runs ingest jobs on a small thread pool, records their progress and outcome, and keeps their
    leases; a background thread renews them and fails other replicas' lapsed jobs."""

    def __init__(
        self,
        engine: Engine,
        state: StateStore,
        workers: int,
        on_done: Callable[[str, IngestReport], None] | None = None,
        *,
        lease_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.state = state
        self.on_done = on_done
        self.lease_s = lease_s
        self.owner = replica_id()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ragline-ingest")
        self._futures: dict[str, Future[None]] = {}
        # Jobs this replica has claimed and not finished: their leases are renewed.
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keep_leases, name="ragline-job-leases", daemon=True)
        self._keeper.start()

    def submit_files(
        self, job_id: str, tenant: str, key_id: str, collection: str, paths: Sequence[Path], access: Access
    ) -> None:
        def work() -> IngestReport:
            try:
                return self.engine.ingest(
                    list(paths), collection=collection, access=access, progress=self._progress(job_id)
                )
            finally:
                # With PII redaction on, the uploaded copy is the one place the raw values would
                # stay in the data directory: it goes once read (a re-upload replaces documents
                # by source as before).
                if self.engine.collection(collection, tenant=access.tenant).cleaning.pii.enabled:
                    for p in paths:
                        p.unlink(missing_ok=True)

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
            self._best_effort(job_id, total=len(docs))
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
            try:
                self._retrying(
                    job_id, "mark it running", lambda: self.state.update_job(job_id, status="running")
                )
                report = self._work(job_id, collection, work)
                if report is None:
                    return
                errors = [
                    JobError(file=Path(p).name, error=why) for p, why in [*report.errors, *report.skipped]
                ]
                total = report.files_seen or report.documents_indexed
                message = f"{report.documents_indexed} documents, {report.chunks_indexed} chunks indexed" + (
                    f", {len(errors)} file(s) failed" if errors else ""
                )
                if report.near_duplicates:
                    message += f", {len(report.near_duplicates)} near-duplicate(s) not indexed"
                self._retrying(
                    job_id,
                    "record its outcome",
                    lambda: self.state.update_job(
                        job_id,
                        status="done",
                        total=total,
                        done=total,
                        chunks=report.chunks_indexed,
                        add_errors=errors,
                        message=message,
                    ),
                )
                self._retrying(
                    job_id,
                    "append its audit event",
                    lambda: self.state.append_audit(
                        tenant=tenant,
                        key_id=key_id,
                        action="ingest",
                        collection=collection,
                        doc_ids=doc_ids,
                        detail=detail or json.dumps({"documents": report.documents_indexed}),
                    ),
                )
                if self.on_done is not None:
                    self.on_done(job_id, report)
            except StateError:
                # Retries ran out: the lease lapses and a sweep marks the job failed.
                log.exception("ingest job %s: could not record its state, giving up", job_id)
            finally:
                with self._lock:
                    self._held.discard(job_id)

        # Claimed before it is queued: a job waiting for a worker is held (and renewed) too.
        if self.state.claim_job(job_id, owner=self.owner, lease_s=self.lease_s) is None:
            raise StateError(f"ingest job {job_id!r} is held by another server; it was not started here")
        with self._lock:
            self._held.add(job_id)
            self._futures[job_id] = self._pool.submit(run)

    def _work(self, job_id: str, collection: str, work: Callable[[], IngestReport]) -> IngestReport | None:
        """Run the ingest; on failure record it and return None."""
        try:
            with span("ingest", collection=collection, job=job_id):
                return work()
        except RaglineError as exc:
            message = str(exc)
            log.warning("ingest job %s failed: %s", job_id, exc)
        except Exception as exc:  # a worker must record the failure, not die silently
            log.exception("ingest job %s crashed", job_id)
            message = f"internal error: {exc!r}"
        self._retrying(
            job_id,
            "record its failure",
            lambda: self.state.update_job(job_id, status="failed", message=message),
        )
        return None

    def _retrying(self, job_id: str, what: str, call: Callable[[], T]) -> T:
        """``call()``, retried with backoff while the state store is unavailable, for up to
        :data:`_RETRY_FOR_S`."""
        deadline = time.monotonic() + _RETRY_FOR_S
        delay = 0.1
        while True:
            try:
                return call()
            except StateUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("ingest job %s: could not %s (%s); retrying in %.1f s", job_id, what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF_S)

    def _best_effort(self, job_id: str, *, total: int, done: int = 0, chunks: int | None = None) -> bool:
        """A progress write: skipped, not retried, while the state store is unavailable (the next
        one or the outcome catches up), so a blip does not fail the ingest. False when skipped."""
        try:
            self.state.update_job(job_id, total=total, done=done, chunks=chunks)
        except StateUnavailable as exc:
            log.info("ingest job %s: progress not recorded: %s", job_id, exc)
            return False
        return True

    # -- leases ----------------------------------------------------------------------------------

    def _keep_leases(self) -> None:
        while not self._stop.wait(self.lease_s / _BEATS_PER_LEASE):
            try:
                # Never sweep after a failed renewal: this replica's own leases may be the lapsed ones.
                if self.renew_leases():
                    self.recover_lapsed()
            except Exception:  # the keeper must outlive any one failure
                log.exception("job lease keeper failed; trying again next beat")

    def renew_leases(self) -> bool:
        """Renew the leases of the jobs this replica holds; False when the state store refused."""
        with self._lock:
            held = sorted(self._held)
        if not held:
            return True
        try:
            kept = set(self.state.renew_job_leases(self.owner, held, lease_s=self.lease_s))
        except StateError as exc:
            log.warning("could not renew the leases of %d ingest job(s): %s", len(held), exc)
            return False
        lost = [j for j in held if j not in kept]
        with self._lock:
            lost = [j for j in lost if j in self._held]  # finished meanwhile: not lost
            self._held.difference_update(lost)
        for job_id in lost:
            log.warning(
                "ingest job %s: this server lost its lease (it lapsed during a state-store outage); the "
                "job was marked failed or taken over, and its outcome is recorded if it still finishes",
                job_id,
            )
        return True

    def recover_lapsed(self) -> list[str]:
        """Mark failed every job whose lease lapsed (its worker died); at start-up and every beat."""
        try:
            failed = self.state.fail_expired_jobs(LAPSED_MESSAGE)
        except StateError as exc:
            log.warning("could not look for abandoned ingest jobs (will retry): %s", exc)
            return []
        if failed:
            log.warning("marked %d abandoned ingest job(s) failed: %s", len(failed), ", ".join(failed))
        return failed

    def _progress(self, job_id: str) -> Callable[[IngestProgress], None]:
        last = 0.0

        def report(p: IngestProgress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < _PROGRESS_EVERY_S and p.files_done < p.files_total:
                return
            last = now
            if not self._best_effort(
                job_id, total=p.files_total, done=p.files_done, chunks=p.chunks_embedded
            ):
                # Each write waits out the state timeout while the store is down: pause them.
                last = time.monotonic() + _MAX_BACKOFF_S

        return report

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until a job submitted here finishes (tests and the CLI use this)."""
        with self._lock:
            fut = self._futures.get(job_id)
        if fut is not None:
            fut.result(timeout)

    def shutdown(self) -> None:
        # Leases are kept until the last job has finished, so no other replica takes it meanwhile.
        self._pool.shutdown(wait=True, cancel_futures=False)
        self._stop.set()
        self._keeper.join()
