"""The ingest pipeline: discover -> load -> clean/dedup -> chunk -> embed -> atomic upsert.

The unit of change is a source file. A file whose bytes hash like the last indexed version is
skipped without being read further; a changed file is re-chunked, and only chunk texts the
embedding cache has never seen go through the model. Each commit to the store replaces whole
sources atomically, so a search never sees half a document, and a killed ingest resumes: finished
sources are skipped and finished embedding batches come from the cache.

Example::

    report = Ingestor(settings, store, embedder, chunker).run([Path("docs/")], sync=True)
    print(report.chunks_indexed, report.errors)
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ragline.chunking.base import ChunkedDocument, Chunker
from ragline.cleaning.dedup import dedup_documents
from ragline.cleaning.near_dup import INDEX_FILE, NearDupEntry, NearDupIndex, NearDuplicate
from ragline.cleaning.pii import Redactor
from ragline.cleaning.text import clean_text
from ragline.embedding.base import Embedder, Vectors
from ragline.embedding.sentence_vectors import (
    ChunkEmbeddings,
    embed_chunks,
    empty_sentence_vectors,
    sentence_layout,
)
from ragline.embedding.tokens import Codebook, PackedTokens, codebook_for
from ragline.errors import ConfigError, LoaderError, RaglineError, StoreError
from ragline.loaders.discover import discover
from ragline.loaders.registry import load_file, metadata_problem, text_problem
from ragline.settings import ChunkingSettings, CleaningSettings, NearDuplicateSettings, Settings
from ragline.store.base import SourceBatch, Store, token_state_store
from ragline.store.filters import FIELD_RE
from ragline.text.tokenizer import Tokenizer
from ragline.types import Access, Chunk, Document, Section, stable_id

log = logging.getLogger(__name__)

# Chunks embedded per model call between progress updates and cache commits.
_EMBED_STEP = 256
# Bump when loading, cleaning or chunking code changes what a file turns into: every file is
# then re-chunked on its next ingest (embeddings of unchanged chunk texts still come from cache).
PIPELINE_VERSION = "9"  # 2: sentence vectors; 3: Markdown tables, OCR, table- and code-aware chunks;
# 4: prose wrapped in HTML <pre> read as paragraphs; 5: a reference entry's sections under its name;
# 6: lines of a <pre> block that each name a thing and describe it read as a table's rows;
# 7: a <pre> list of options, each over its indented description, read as a table's rows;
# 8: a page's own table of contents and the in-page links it hides from screen readers dropped
# 9: a page's own contents whose links spell the page's file name ("page.html#sec") dropped too, and
# definition-list contents (DocBook's in-page tables of contents); words in inline elements whose
# class looks like navigation ("guimenu") kept


@dataclass(slots=True)
class IngestProgress:
    """A snapshot handed to the progress callback."""

    files_total: int
    files_done: int = 0
    chunks_embedded: int = 0
    chunks_pending: int = 0
    current: str = ""
    # Embedding workers the counts add up over (a Ray ingest's actors); 0: this process alone.
    workers: int = 0


@dataclass(slots=True)
class IngestReport:
    """What an ingest run did. ``errors`` lists (path, reason) of files that could not be indexed."""

    files_seen: int = 0
    files_unchanged: int = 0
    files_indexed: int = 0
    documents_indexed: int = 0
    duplicates_skipped: int = 0
    chunks_indexed: int = 0
    chunks_embedded: int = 0
    sources_deleted: int = 0
    # Documents not indexed because they nearly duplicate one in the collection
    # (cleaning.near_duplicates), each linked to its original by ``duplicate_of``.
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    # Values replaced per PII kind (cleaning.pii); counts only, never the values.
    pii_redacted: dict[str, int] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds_total: float = 0.0
    seconds_embedding: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_indexed / self.seconds_total if self.seconds_total > 0 else 0.0


def near_dup_index(store: Store, settings: NearDuplicateSettings) -> NearDupIndex:
    """The near-duplicate index kept beside ``store``'s collection (one per tenant's collection)."""
    return NearDupIndex(
        store.root / INDEX_FILE,
        threshold=settings.threshold,
        num_perm=settings.num_perm,
        shingle_words=settings.shingle_words,
        min_words=settings.min_words,
    )


def copy_beside_store(src: Path, dst: Path) -> None:
    """Copy what ingest keeps beside a collection's store (the near-duplicate index) from the
    collection directory ``src`` to ``dst`` (a re-embedded copy that will replace it)."""
    if (src / INDEX_FILE).is_file():
        NearDupIndex(src / INDEX_FILE).copy_to(dst / INDEX_FILE)


def cleaning_for(
    cleaning: CleaningSettings, pii: bool | None = None, near_duplicates: bool | None = None
) -> CleaningSettings:
    """``cleaning`` with PII redaction and near-duplicate removal turned on or off for one call
    (None keeps the setting): how an ingest call or a source overrides its collection."""
    if pii is not None and pii != cleaning.pii.enabled:
        cleaning = cleaning.model_copy(update={"pii": cleaning.pii.model_copy(update={"enabled": pii})})
    if near_duplicates is not None and near_duplicates != cleaning.near_duplicates.enabled:
        near = cleaning.near_duplicates.model_copy(update={"enabled": near_duplicates})
        cleaning = cleaning.model_copy(update={"near_duplicates": near})
    return cleaning


def _access_key(access: Access) -> str:
    return stable_id(access.tenant, *sorted(access.groups), str(access.clearance))


def file_hash(path: Path) -> str:
    """SHA-256 of a regular file's bytes, read in blocks; :class:`OSError` for any other file."""
    h = hashlib.sha256()
    # Non-blocking open: a FIFO put in a file's place after discovery fails here instead of
    # hanging the ingest (the flag changes nothing for regular files).
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_NO_TOKENS = PackedTokens(b"", 0)
_NO_CODEBOOK_LOGGED: set[str] = set()
# Loader settings left out of the config fingerprint: added after max_file_mb, they would otherwise
# re-index every file of every collection once.
_LIMIT_SETTINGS = {
    "max_document_chars",
    "max_metadata_fields",
    "max_metadata_key_chars",
    "max_metadata_value_chars",
}


# How token states are stored, not what a file turns into: either form reads back, so changing it
# (or upgrading to a release where it exists) re-indexes nothing; a source's states take the
# configured form when it is next re-indexed.
# How vectors are stored or approximated, not what the chunks are: changing them re-indexes nothing.
_FORM_SETTINGS = {"token_state_format", "token_state_tokens", "split_layers"}


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One item of a source that is not a local file (a web page, a table row, an object in a
    bucket, a file at a git commit).

    ``source`` is its key in the store (the unit replaced atomically), ``version`` what its
    upstream says about its content (an HTTP body hash, a row version, an ETag, a blob id), and
    ``load`` fetches it: called only when the collection does not hold that version yet. ``load``
    raises :class:`~ragline.errors.LoaderError` for an item that cannot be read (it is reported,
    and its indexed version stays).
    """

    source: str
    version: str
    load: Callable[[], list[Document]]


@dataclass(slots=True)
class _Pending:
    source: str
    source_hash: str
    chunks: list[Chunk]
    sections: list[Section]
    documents: tuple[str, ...] | None = None


@dataclass(slots=True)
class Parsed:
    """One file's documents (tenant and ACL set), and, when a worker chunked them already, each
    document's chunks in the same order (None: the ingest's chunker cuts them)."""

    documents: list[Document]
    chunked: list[ChunkedDocument] | None = None

    def chunks_of(self, kept: Sequence[Document]) -> tuple[list[Chunk], list[Section]]:
        """The chunks and sections of the documents deduplication ``kept`` (a subset, in order)."""
        assert self.chunked is not None
        keep = {id(d) for d in kept}
        chunks: list[Chunk] = []
        sections: list[Section] = []
        for doc, out in zip(self.documents, self.chunked, strict=True):
            if id(doc) in keep:
                chunks.extend(out.chunks)
                sections.extend(out.sections)
        return chunks, sections


def with_access(docs: list[Document], access: Access | None) -> list[Document]:
    """``docs`` with every document's tenant and ACL set to ``access`` (unchanged for None)."""
    return docs if access is None else [replace(d, access=access) for d in docs]


class Ingestor:
    """Runs the ingest pipeline into one store. ``cleaning`` (default: ``settings.cleaning``) is
    the collection's PII redaction and near-duplicate settings."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        chunker: Chunker,
        tokenizer: Tokenizer | None = None,
        cleaning: CleaningSettings | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.tokenizer = tokenizer
        self.cleaning = cleaning if cleaning is not None else settings.cleaning
        pii = self.cleaning.pii
        self._redactor = (
            Redactor(
                pii.kinds,
                pii.mode,
                hash_key=pii.hash_key.get_secret_value().encode() if pii.hash_key else b"",
                region=pii.phone_region,
            )
            if pii.enabled
            else None
        )
        # Kept in step with the store even while near-duplicate search is off (a file from an
        # earlier setting must not name deleted documents as originals).
        self._near = near_dup_index(store, self.cleaning.near_duplicates)
        self._near_on = self.cleaning.near_duplicates.enabled

    def run(
        self,
        paths: Sequence[Path],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        sync: bool = False,
        dedup: bool = True,
        progress: Callable[[IngestProgress], None] | None = None,
        access: Access | None = None,
    ) -> IngestReport:
        """Ingest files and folders.

        ``dedup=False`` keeps documents whose content duplicates another's (evaluation corpora
        judge duplicates under their own ids). ``access`` sets every document's tenant and ACL.
        """
        started = time.perf_counter()
        report = IngestReport()
        found = discover([Path(p) for p in paths], include, exclude)
        report.skipped = [(str(p), why) for p, why in found.skipped]
        report.files_seen = len(found.files)
        state = IngestProgress(files_total=len(found.files))
        indexed = self.store.source_hashes()
        config_fp = self._access_fingerprint(self._config_fingerprint(dedup), access)
        seen_hashes: dict[str, str] = {}
        pending: list[_Pending] = []
        pending_chunks = 0
        # What each source read left out as near-duplicates (source -> (hash, copies)).
        near_read: dict[str, tuple[str, list[NearDuplicate]]] = {}
        copies = self._near_start(indexed)

        def notify() -> None:
            if progress is not None:
                progress(state)

        def changed() -> Iterator[tuple[Path, str]]:
            """The files to index, with their digests; unchanged and unreadable ones are counted here."""
            for path in found.files:
                source = str(path)
                state.current = path.name
                try:
                    # Changed chunking or loader settings re-index a file even if its bytes did not change.
                    digest = f"{file_hash(path)}:{config_fp}"
                except OSError as exc:
                    report.errors.append((source, f"cannot read: {exc.strerror or exc}"))
                    state.files_done += 1
                    notify()
                    continue
                # A file left out whole as a near-copy is unchanged too until its bytes change.
                if indexed.get(source) == digest or copies.get(source) == digest:
                    report.files_unchanged += 1
                    state.files_done += 1
                    notify()
                    continue
                yield path, digest

        notify()
        for path, digest, parsed in self._parse(changed(), access):
            source = str(path)
            state.current = path.name
            if isinstance(parsed, LoaderError):
                log.warning("skipping %s: %s", parsed.path, parsed.reason)
                report.errors.append((parsed.path, parsed.reason))
                state.files_done += 1
                notify()
                continue
            # Access is set on the parsed documents already (on the workers, for a Ray ingest).
            seen = seen_hashes if dedup else None
            pending.append(self._prepare(parsed, source, digest, None, seen, report, near_read))
            pending_chunks += len(pending[-1].chunks)
            state.chunks_pending += len(pending[-1].chunks)
            if pending_chunks >= self.settings.store.commit_chunks:
                self._flush(pending, report, state, notify)
                pending, pending_chunks = [], 0
            state.files_done += 1
            notify()
        self._flush(pending, report, state, notify)
        if self._near_on:
            self._near.record_duplicates(near_read)
        if sync:
            report.sources_deleted = self._sync(paths, found.files, report)
        self.store.finalize()
        report.seconds_total = time.perf_counter() - started
        return report

    def _parse(
        self, files: Iterator[tuple[Path, str]], access: Access | None
    ) -> Iterator[tuple[Path, str, Parsed | LoaderError]]:
        """Each file to index, its digest and what loading made of it, in ``files``' order. Here
        in-process and lazily, the ingest's chunker cutting the documents later; the Ray ingest
        (``ragline.ingest.ray``) parses and chunks on its workers instead."""
        for path, digest in files:
            try:
                docs = load_file(path, self.settings.loaders)
            except LoaderError as exc:
                yield path, digest, exc
                continue
            yield path, digest, Parsed(with_access(docs, access))

    def run_items(
        self,
        items: Iterable[SourceItem],
        *,
        access: Access | None = None,
        dedup: bool = True,
        sweep: Callable[[set[str]], Iterable[str]] | None = None,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Ingest items of a source (see :class:`SourceItem`) as files are ingested: an item whose
        version the collection holds (with the same settings and access) is skipped unfetched,
        the others are loaded, chunked and embedded, and written one whole item at a time.

        ``items`` may be lazy (a crawl finds pages as it goes). After them, ``sweep`` gets the
        keys seen and returns the keys that are gone upstream; those still indexed are deleted
        (never one whose load failed this run).

        Example::

            item = SourceItem("s3://b/a.md", etag, lambda: load_bytes(...))
            report = ingestor.run_items([item], access=Access("acme"))
        """
        started = time.perf_counter()
        report = IngestReport()
        state = IngestProgress(files_total=0)
        indexed = self.store.source_hashes()
        config_fp = self._access_fingerprint(self._config_fingerprint(dedup), access)
        seen_hashes: dict[str, str] = {}
        seen: set[str] = set()
        pending: list[_Pending] = []
        pending_chunks = 0
        near_read: dict[str, tuple[str, list[NearDuplicate]]] = {}
        copies = self._near_start(indexed)

        def notify() -> None:
            if progress is not None:
                progress(state)

        for item in items:
            seen.add(item.source)
            report.files_seen += 1
            state.files_total = max(state.files_total, report.files_seen)
            state.current = item.source
            digest = f"{item.version}:{config_fp}"
            if indexed.get(item.source) == digest or copies.get(item.source) == digest:
                report.files_unchanged += 1
                state.files_done += 1
                notify()
                continue
            try:
                docs = item.load()
            except LoaderError as exc:
                log.warning("skipping %s: %s", exc.path, exc.reason)
                report.errors.append((item.source, exc.reason))
                state.files_done += 1
                notify()
                continue
            pending.append(
                self._prepare(
                    docs, item.source, digest, access, seen_hashes if dedup else None, report, near_read
                )
            )
            pending_chunks += len(pending[-1].chunks)
            state.chunks_pending += len(pending[-1].chunks)
            if pending_chunks >= self.settings.store.commit_chunks:
                self._flush(pending, report, state, notify)
                pending, pending_chunks = [], 0
            state.files_done += 1
            notify()
        self._flush(pending, report, state, notify)
        if self._near_on:
            self._near.record_duplicates(near_read)
        if sweep is not None:
            failed = {source for source, _ in report.errors}
            current = self.store.source_hashes()
            gone = sorted({s for s in sweep(seen) if s in current and s not in failed})
            if gone:
                self.store.delete_sources(gone)
                self._near.remove_sources(gone)
            report.sources_deleted = len(gone)
        self.store.finalize()
        report.seconds_total = time.perf_counter() - started
        return report

    def upsert_documents(self, docs: Sequence[Document]) -> IngestReport:
        """Index documents given directly (not read from files), replacing any with the same ids.

        Texts and titles are cleaned like loaded files; each document keeps its ``source``. The
        whole call is one atomic commit.
        """
        started = time.perf_counter()
        report = IngestReport()
        seen: set[str] = set()
        for d in docs:
            if d.id in seen:
                raise ConfigError(f"document id {d.id!r} appears twice in one upsert; ids must be unique")
            seen.add(d.id)
            bad = [k for k in d.metadata if not FIELD_RE.match(k)]
            if bad:
                raise ConfigError(
                    f"document {d.id!r} has metadata keys {bad}; use letters, digits and underscores"
                )
            problem = metadata_problem(d, self.settings.loaders) or text_problem(d, self.settings.loaders)
            if problem is not None:
                raise ConfigError(problem)
        cleaned = self._redact(
            [
                replace(d, text=clean_text(d.text), title=clean_text(d.title), source=d.source or "api")
                for d in docs
            ],
            report,
        )
        if self._near_on:
            # An upsert replaces documents of the same ids: they are not their own originals.
            cleaned, _ = self._near_dups(cleaned, report, exclude_docs=seen)
        state = IngestProgress(files_total=0)
        by_source: dict[str, list[Document]] = {}
        for d in cleaned:
            by_source.setdefault(d.source, []).append(d)
        pending = []
        for source, group in by_source.items():
            chunks, sections = self._chunk(group)
            pending.append(_Pending(source, "", chunks, sections, tuple(d.id for d in group)))
        report.documents_indexed = len(cleaned)
        self._flush(pending, report, state, lambda: None)
        if self._near_on and report.near_duplicates:
            # A copy upserted under its own id must not keep an older version of itself indexed.
            self.store.delete_documents([d.doc_id for d in report.near_duplicates])
            self._near.remove_documents([d.doc_id for d in report.near_duplicates])
        self.store.finalize()
        report.seconds_total = time.perf_counter() - started
        return report

    def reindex(
        self,
        chunks: Sequence[Chunk],
        sections: Sequence[Section],
        source_hashes: Mapping[str, str],
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Embed chunks already cut (another store's, e.g. to switch a collection to a tuned
        model) and write them to this store, one source per batch, as ingest would."""
        report = IngestReport()
        state = IngestProgress(files_total=0, chunks_pending=len(chunks))

        def notify() -> None:
            if progress is not None:
                progress(state)

        by_source: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_source.setdefault(c.source, []).append(c)
        state.files_total = len(by_source)
        for source, group in by_source.items():
            docs = {c.doc_id for c in group}
            own = [s for s in sections if s.doc_id in docs]
            self._flush([_Pending(source, source_hashes.get(source, ""), group, own)], report, state, notify)
            state.files_done += 1
            notify()
        if report.errors:
            raise StoreError(f"re-indexing failed for {report.errors[0][0]}: {report.errors[0][1]}")
        return report

    @staticmethod
    def _access_fingerprint(config_fp: str, access: Access | None) -> str:
        if access is None or access == Access():
            return config_fp
        # A changed ACL re-indexes the file even though its bytes did not change.
        return config_fp + ":" + stable_id(access.tenant, *access.groups, str(access.clearance))[:12]

    def _chunking_for_fingerprint(self) -> ChunkingSettings:
        # "mapped" and "split" sentence vectors stand in for "separate" ones (a linear map towards
        # them; the last layers run per sentence), so moving between them, or upgrading to a
        # release with another of them the default, re-embeds nothing; a source takes the
        # configured form when it is next re-indexed.
        chunking = self.settings.chunking
        if chunking.sentence_vectors in ("mapped", "split"):
            return chunking.model_copy(update={"sentence_vectors": "separate"})
        return chunking

    def _config_fingerprint(self, dedup: bool = True) -> str:
        cfg = (
            PIPELINE_VERSION
            + ("" if dedup else "no-dedup")
            + self._chunking_for_fingerprint().model_dump_json(exclude=_FORM_SETTINGS)
            # The limits decide whether a file is taken, not what it turns into.
            + self.settings.loaders.model_dump_json(exclude=_LIMIT_SETTINGS)
        )
        # Only when on, so collections indexed before these settings existed are not re-indexed.
        # Turning redaction on re-indexes every file: none keeps its unredacted text.
        pii = self.cleaning.pii
        if pii.enabled:
            key = pii.hash_key.get_secret_value() if pii.hash_key else ""
            cfg += (
                "pii" + pii.model_dump_json(exclude={"hash_key"}) + hashlib.sha256(key.encode()).hexdigest()
            )
        if self._near_on:
            cfg += "near" + self.cleaning.near_duplicates.model_dump_json()
        return hashlib.sha256(cfg.encode()).hexdigest()[:12]

    def _prepare(
        self,
        docs: list[Document] | Parsed,
        source: str,
        digest: str,
        access: Access | None,
        seen_hashes: dict[str, str] | None,
        report: IngestReport,
        near_read: dict[str, tuple[str, list[NearDuplicate]]],
    ) -> _Pending:
        """One loaded source's documents, given their access, PII redacted (when on),
        deduplicated (unless ``seen_hashes`` is None), near-duplicates left out (when on, noted
        in ``near_read``) and chunked, waiting for their commit. A :class:`Parsed` file has its
        access set already and may come chunked (by a Ray worker)."""
        parsed = docs if isinstance(docs, Parsed) else Parsed(with_access(docs, access))
        redacted = self._redact(parsed.documents, report)
        # A worker chunked the text as loaded: a file whose text redaction changed is chunked again.
        prechunked = parsed.chunked is not None and all(
            a is b for a, b in zip(redacted, parsed.documents, strict=True)
        )
        kept = self._dedup(redacted, seen_hashes, report) if seen_hashes is not None else redacted
        if self._near_on:
            kept, dups = self._near_dups(kept, report, exclude_sources=(source,))
            near_read[source] = (digest, dups)
        chunks, sections = parsed.chunks_of(kept) if prechunked else self._chunk(kept)
        report.documents_indexed += len(kept)
        return _Pending(source, digest, chunks, sections)

    def _near_start(self, indexed: Mapping[str, str]) -> dict[str, str]:
        """Before a run: the index drops documents whose source the store no longer holds
        (deleted by any path); returns the sources left out whole as copies (source -> hash)."""
        if not self._near_on:
            return {}
        self._near.retain_sources(indexed)
        return self._near.duplicate_sources()

    def _redact(self, docs: list[Document], report: IngestReport) -> list[Document]:
        """Documents with PII replaced in their text, title and string metadata (when on)."""
        redactor = self._redactor
        if redactor is None:
            return docs
        out: list[Document] = []
        for d in docs:
            text, title = redactor.redact(d.text), redactor.redact(d.title)
            counts = text.counts + title.counts
            metadata = dict(d.metadata)
            for key, value in d.metadata.items():
                if isinstance(value, str):
                    got = redactor.redact(value)
                    metadata[key] = got.text
                    counts += got.counts
            for kind, n in counts.items():
                report.pii_redacted[kind] = report.pii_redacted.get(kind, 0) + n
            out.append(replace(d, text=text.text, title=title.text, metadata=metadata) if counts else d)
        return out

    def _near_dups(
        self,
        docs: list[Document],
        report: IngestReport,
        *,
        exclude_sources: Sequence[str] = (),
        exclude_docs: Collection[str] = (),
    ) -> tuple[list[Document], list[NearDuplicate]]:
        """Documents that are no near-duplicate of one in the collection (or met earlier in this
        run), staged in the index; and the near-duplicates left out."""
        kept: list[Document] = []
        dups: list[NearDuplicate] = []
        for d in docs:
            sig = self._near.signature(f"{d.title}\n{d.text}" if d.title else d.text)
            if sig is None:  # too short to judge
                kept.append(d)
                continue
            key = _access_key(d.access)
            match = self._near.find(sig, key, exclude_sources, exclude_docs)
            if match is None:
                kept.append(d)
                self._near.add([NearDupEntry(d.id, d.source, key, sig)])
            else:
                dups.append(NearDuplicate(d.id, d.source, match[0], round(match[1], 4)))
        report.near_duplicates.extend(dups)
        return kept, dups

    def _dedup(self, docs: list[Document], seen: dict[str, str], report: IngestReport) -> list[Document]:
        result = dedup_documents(docs, seen)
        report.duplicates_skipped += len(result.duplicates)
        return result.kept

    def _chunk(self, docs: list[Document]) -> tuple[list[Chunk], list[Section]]:
        chunks: list[Chunk] = []
        sections: list[Section] = []
        for d in docs:
            out = self.chunker.chunk(d)
            chunks.extend(out.chunks)
            sections.extend(out.sections)
        return chunks, sections

    def _codebook(self) -> Codebook | None:
        """The codebook token states are packed with (``chunking.token_state_format``), or None for int8."""
        if self.settings.chunking.token_state_format != "pq":
            return None
        book = codebook_for(self.embedder.model_id)
        if book is None and self.embedder.model_id not in _NO_CODEBOOK_LOGGED:
            _NO_CODEBOOK_LOGGED.add(self.embedder.model_id)
            log.info(
                "no token-state codebook ships for %s: storing token states as int8", self.embedder.model_id
            )
        return book

    def _embed(
        self, chunks: list[Chunk], report: IngestReport, state: IngestProgress, notify: Callable[[], None]
    ) -> ChunkEmbeddings:
        """Chunk vectors; per chunk its sentences' vectors unless ``chunking.sentence_vectors`` is
        off; and its token states when ``chunking.token_states`` is on."""
        texts, heads, spans = sentence_layout(chunks)
        cfg = self.settings.chunking
        dim = self.embedder.dimension
        out = np.zeros((len(texts), dim), dtype=np.float32)
        sentence_vecs = empty_sentence_vectors(len(texts), dim) if cfg.sentence_vectors != "off" else None
        tokens_on = self.settings.stores_token_states
        # Packed as soon as computed: a large source's states wait in memory until its commit.
        tokens: list[PackedTokens] | None = [_NO_TOKENS] * len(texts) if tokens_on else None
        # A chunk already stored with the same embedded text keeps its token states, so an edited
        # file sends only its changed chunks through the model.
        states = (
            token_state_store(self.store, log, "chunking.token_states: the states are not kept")
            if tokens_on
            else None
        )
        book = self._codebook() if tokens_on else None
        kept: list[Vectors | None] = []
        if states is not None:
            kept = states.fetch_token_states([c.id for c in chunks], texts)
        elif tokens_on:
            kept = [None] * len(chunks)  # a store without token states keeps none to reuse
        # Steps of similar-length texts pad less inside each model batch: ~10 % faster than
        # document order, and sorting by tokens rather than characters gains another ~3 %.
        lengths = self.tokenizer.count_batch(texts) if self.tokenizer else [len(t) for t in texts]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        for i in range(0, len(order), _EMBED_STEP):
            t0 = time.perf_counter()
            step = order[i : i + _EMBED_STEP]
            fresh = [j for j in step if not kept or kept[j] is None]
            for idx, run_model in (
                (fresh, tokens_on),
                ([j for j in step if kept and kept[j] is not None], False),
            ):
                if not idx:
                    continue
                got = embed_chunks(
                    self.embedder,
                    [texts[j] for j in idx],
                    [heads[j] for j in idx],
                    [spans[j] for j in idx],
                    sentence_vectors=cfg.sentence_vectors,
                    token_states=run_model,
                    content_tokens=cfg.token_state_tokens == "content",
                    split_layers=cfg.split_layers,
                )
                out[idx] = got.vectors
                if got.sentence_vectors is not None and sentence_vecs is not None:
                    for j, v in zip(idx, got.sentence_vectors, strict=True):
                        sentence_vecs[j] = v
                if got.tokens is not None and tokens is not None:
                    for j, t in zip(idx, got.tokens, strict=True):
                        tokens[j] = t if isinstance(t, PackedTokens) else PackedTokens.of(t, book)
            if tokens is not None:
                for j in step:
                    old = kept[j]
                    if old is not None:
                        tokens[j] = PackedTokens.of(old, book)
            report.seconds_embedding += time.perf_counter() - t0
            state.chunks_embedded += len(step)
            state.chunks_pending -= len(step)
            notify()
        return ChunkEmbeddings(out, sentence_vecs, tokens)

    def _flush(
        self,
        pending: list[_Pending],
        report: IngestReport,
        state: IngestProgress,
        notify: Callable[[], None],
    ) -> None:
        if not pending:
            return
        chunks = [c for p in pending for c in p.chunks]
        embedded = self._embed(chunks, report, state, notify)
        vectors, sentence_vecs, tokens = embedded.vectors, embedded.sentence_vectors, embedded.tokens
        batches: list[SourceBatch] = []
        offset = 0
        for p in pending:
            n = len(p.chunks)
            batches.append(
                SourceBatch(
                    p.source,
                    p.source_hash,
                    p.chunks,
                    vectors[offset : offset + n],
                    p.sections,
                    p.documents,
                    sentence_vectors=sentence_vecs[offset : offset + n]
                    if sentence_vecs is not None
                    else None,
                    token_states=tokens[offset : offset + n] if tokens is not None else None,
                )
            )
            offset += n
        try:
            self.store.upsert(batches)
        except RaglineError as exc:
            # A bad source (e.g. a metadata type clash) must not sink the rest: retry one by one.
            if len(batches) == 1:
                report.errors.append((batches[0].source, str(exc)))
                self._near.discard([batches[0].source])
                return
            for b in batches:
                try:
                    self.store.upsert([b])
                except RaglineError as one:
                    report.errors.append((b.source, str(one)))
                    self._near.discard([b.source])
                else:
                    report.files_indexed += 1
                    report.chunks_indexed += len(b.chunks)
                    self._near_committed([b])
            return
        report.files_indexed += len(batches)
        report.chunks_indexed += len(chunks)
        self._near_committed(batches)

    def _near_committed(self, batches: Sequence[SourceBatch]) -> None:
        """The store replaced these batches' sources (or documents): so does the index (also
        while near-duplicate search is off, so no stale signature waits for it to come back on;
        nothing happens without an index file)."""
        whole = [b.source for b in batches if b.documents is None]
        docs = [d for b in batches if b.documents is not None for d in b.documents]
        self._near.remove_sources(whole)
        self._near.remove_documents(docs)
        if self._near_on:
            self._near.commit([b.source for b in batches])

    def _sync(self, roots: Sequence[Path], files: Sequence[Path], report: IngestReport) -> int:
        present = {str(p) for p in files}
        failed = {path for path, _ in report.errors}
        roots_resolved = [str(Path(r).resolve()) for r in roots]
        gone = [
            s
            for s in self.store.source_hashes()
            if s not in present
            and s not in failed
            and any(s == r or s.startswith(r + "/") for r in roots_resolved)
        ]
        if gone:
            self.store.delete_sources(gone)
            self._near.remove_sources(gone)
        return len(gone)
