"""Near-duplicate documents across a whole collection: MinHash signatures over word shingles,
found through an LSH index (banding) kept in SQLite beside the collection.

A document's signature estimates the Jaccard similarity of its set of word ``k``-shingles with
any other's (Broder 1997); LSH splits each signature into ``b`` bands of ``r`` values and makes two
documents candidates when any band is equal (Leskovec, Rajaraman & Ullman, "Mining of Massive
Datasets", ch. 3), with ``b``/``r`` chosen by datasketch for the threshold. Candidates are then
checked against the threshold with their full signatures, so the banding only decides recall.

The index is one SQLite file per collection (tenants have their own collections, so it never
spans tenants), and a document is only compared with documents of the same access (tenant, groups,
clearance): a copy readable by other groups is not a duplicate for them.

Example::

    index = NearDupIndex(Path("coll/near-duplicates.sqlite"), threshold=0.5)
    sig = index.signature("the text of a document ...")
    match = index.find(sig, access_key="default")      # None, or (original doc id, similarity)
    index.add([NearDupEntry("doc-1", "a.txt", "default", sig)])
    index.commit()
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ragline.errors import ConfigError

INDEX_FILE = "near-duplicates.sqlite"
_WORD = re.compile(r"\w+")
# Signatures of the same document, made by the same datasketch version, must compare equal:
# datasketch's default permutation seed and scheme, recorded in the file so a change is noticed.
_SEED = 1
_SCHEME = "affine32"


@dataclass(frozen=True, slots=True)
class NearDupEntry:
    """A document in the index: id, source, the access it was indexed with, its signature."""

    doc_id: str
    source: str
    access_key: str
    signature: np.ndarray


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    """A document not indexed because it nearly duplicates ``duplicate_of`` (estimated Jaccard
    similarity of their word shingles: ``similarity``)."""

    doc_id: str
    source: str
    duplicate_of: str
    similarity: float


def shingles(text: str, k: int) -> set[bytes]:
    """The set of lower-cased word ``k``-grams of ``text`` (the whole text when it is shorter)."""
    words = _WORD.findall(text.lower())
    if len(words) <= k:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


class NearDupIndex:
    """The persisted LSH index of one collection; the caller holds the collection's write lock.

    Entries added are visible to :meth:`find` at once (so copies within one ingest are found) and
    reach the file on :meth:`commit`; the ingest commits after the store commit that indexed them.
    """

    def __init__(
        self,
        path: Path,
        *,
        threshold: float = 0.5,
        num_perm: int = 128,
        shingle_words: int = 2,
        min_words: int = 10,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.path = path
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self.min_words = min_words

    @cached_property
    def bands(self) -> tuple[int, int]:
        """(b, r): datasketch's choice for the threshold (equal weights on false positives and
        false negatives of the banding)."""
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        return int(lsh.b), int(lsh.r)

    @cached_property
    def _conn(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS docs (doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, "
            " access TEXT NOT NULL, sig BLOB NOT NULL);"
            "CREATE INDEX IF NOT EXISTS docs_source ON docs (source);"
            "CREATE TABLE IF NOT EXISTS bands (band INTEGER NOT NULL, key INTEGER NOT NULL, "
            " doc_id TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS bands_key ON bands (band, key);"
            "CREATE INDEX IF NOT EXISTS bands_doc ON bands (doc_id);"
            # Documents left out as near-duplicates, with the source hash they were read at, so an
            # unchanged copy is not read again; dropped when their original goes.
            "CREATE TABLE IF NOT EXISTS dups (doc_id TEXT NOT NULL, source TEXT NOT NULL, "
            " source_hash TEXT NOT NULL, duplicate_of TEXT NOT NULL, similarity REAL NOT NULL, "
            " PRIMARY KEY (source, doc_id));"
            "CREATE INDEX IF NOT EXISTS dups_of ON dups (duplicate_of);"
        )
        return conn

    @cached_property
    def _db(self) -> sqlite3.Connection:
        """The connection, once the file's signatures are known to be comparable with ours
        (removals do not need that, so they use :attr:`_conn` and never wipe the file)."""
        conn = self._conn
        params = f"{self.num_perm}:{self.shingle_words}:{_SEED}:{_SCHEME}:{self.bands}"
        row = conn.execute("SELECT value FROM meta WHERE key = 'params'").fetchone()
        if row is None or row[0] != params:
            # Signatures made with other parameters do not compare: start again (changed settings
            # also change the ingest fingerprint, so every file is read and signed again).
            conn.executescript("BEGIN; DELETE FROM docs; DELETE FROM bands; DELETE FROM dups; COMMIT;")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('params', ?)", (params,))
        return conn

    @cached_property
    def _pending(self) -> dict[str, tuple[NearDupEntry, list[int]]]:
        """Staged entries with their band keys, by document id."""
        return {}

    @cached_property
    def _pending_bands(self) -> dict[tuple[int, int], set[str]]:
        """(band, key) -> staged document ids: the in-memory side of the LSH lookup, so a run
        staging thousands of documents does not compare each with all the others."""
        return {}

    def _unstage(self, doc_id: str) -> None:
        staged = self._pending.pop(doc_id, None)
        if staged is not None:
            for band in enumerate(staged[1]):
                ids = self._pending_bands.get(band)
                if ids is not None:
                    ids.discard(doc_id)

    def signature(self, text: str) -> np.ndarray | None:
        """The MinHash signature (``num_perm`` uint64 values) of ``text``'s word shingles; None
        below ``min_words`` words, where a word or two changes the similarity by half and every
        "Thanks!" would be a copy of every other."""
        from datasketch import MinHash

        if len(_WORD.findall(text)) < self.min_words:
            return None
        mh = MinHash(num_perm=self.num_perm, seed=_SEED, scheme=_SCHEME)
        mh.update_batch(shingles(text, self.shingle_words))
        return np.asarray(mh.hashvalues, dtype=np.uint64)

    def _band_keys(self, sig: np.ndarray) -> list[int]:
        b, r = self.bands
        return [
            int.from_bytes(
                hashlib.blake2b(sig[i * r : (i + 1) * r].tobytes(), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for i in range(b)
        ]

    def find(
        self,
        sig: np.ndarray,
        access_key: str,
        exclude_sources: Iterable[str] = (),
        exclude_docs: Iterable[str] = (),
    ) -> tuple[str, float] | None:
        """The most similar indexed document of the same access at or above the threshold, and
        its estimated similarity; documents of ``exclude_sources`` and ``exclude_docs`` (being
        replaced) do not count."""
        keys = self._band_keys(sig)
        excluded = set(exclude_sources)
        excluded_docs = set(exclude_docs)
        found: dict[str, tuple[str, str, np.ndarray]] = {}
        pairs = list(enumerate(keys))
        for i in range(0, len(pairs), 400):
            part = pairs[i : i + 400]
            where = " OR ".join("(b.band = ? AND b.key = ?)" for _ in part)
            args = [v for pair in part for v in pair]
            for doc_id, source, access, blob in self._db.execute(
                "SELECT DISTINCT d.doc_id, d.source, d.access, d.sig FROM bands b "
                f"JOIN docs d ON d.doc_id = b.doc_id WHERE {where}",
                args,
            ):
                found[doc_id] = (source, access, np.frombuffer(blob, dtype=np.uint64))
        for band in enumerate(keys):
            for doc_id in self._pending_bands.get(band, ()):
                e = self._pending[doc_id][0]
                found[doc_id] = (e.source, e.access_key, e.signature)
        best: tuple[str, float] | None = None
        for doc_id, (source, access, other) in found.items():
            if (
                access != access_key
                or source in excluded
                or doc_id in excluded_docs
                or len(other) != len(sig)
            ):
                continue
            similarity = float(np.mean(other == sig))
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (doc_id, similarity)
        return best

    def add(self, entries: Iterable[NearDupEntry]) -> None:
        """Stage entries (replacing any of the same id); written by :meth:`commit`."""
        for e in entries:
            self._unstage(e.doc_id)
            keys = self._band_keys(e.signature)
            self._pending[e.doc_id] = (e, keys)
            for band in enumerate(keys):
                self._pending_bands.setdefault(band, set()).add(e.doc_id)

    def discard(self, sources: Iterable[str]) -> None:
        """Forget staged entries of ``sources`` (their store commit failed)."""
        gone = set(sources)
        for doc_id in [d for d, (e, _) in self._pending.items() if e.source in gone]:
            self._unstage(doc_id)

    def commit(self, sources: Iterable[str] | None = None) -> None:
        """Write the staged entries (of ``sources`` only, when given) to the file."""
        chosen = set(sources) if sources is not None else None
        staged = [(e, k) for e, k in self._pending.values() if chosen is None or e.source in chosen]
        entries = [e for e, _ in staged]
        if not entries:
            return
        conn = self._db
        conn.execute("BEGIN")
        try:
            ids = [(e.doc_id,) for e in entries]
            conn.executemany("DELETE FROM bands WHERE doc_id = ?", ids)
            conn.executemany(
                "INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)",
                [(e.doc_id, e.source, e.access_key, e.signature.tobytes()) for e in entries],
            )
            conn.executemany(
                "INSERT INTO bands VALUES (?, ?, ?)",
                [(band, key, e.doc_id) for e, keys in staged for band, key in enumerate(keys)],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for e in entries:
            self._unstage(e.doc_id)

    # -- keeping it in step with the store ----------------------------------------------------------

    def _delete(self, column: str, values: Sequence[str]) -> None:
        if not values or not self.path.exists():
            return
        conn = self._conn
        conn.execute("BEGIN")
        try:
            for i in range(0, len(values), 500):
                part = list(values[i : i + 500])
                marks = ",".join("?" * len(part))
                doc_ids = [
                    r[0] for r in conn.execute(f"SELECT doc_id FROM docs WHERE {column} IN ({marks})", part)
                ]
                for j in range(0, len(doc_ids), 500):
                    ids = doc_ids[j : j + 500]
                    id_marks = ",".join("?" * len(ids))
                    conn.execute(f"DELETE FROM bands WHERE doc_id IN ({id_marks})", ids)
                    conn.execute(f"DELETE FROM docs WHERE doc_id IN ({id_marks})", ids)
                    # Copies of a document that is gone or changed are read again next time.
                    conn.execute(f"DELETE FROM dups WHERE duplicate_of IN ({id_marks})", ids)
                if column == "source":
                    # Copies read from a source that is gone are no longer anyone's concern.
                    conn.execute(f"DELETE FROM dups WHERE source IN ({marks})", part)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def remove_documents(self, doc_ids: Sequence[str]) -> None:
        """Drop documents deleted from the store (and the records of their copies)."""
        self._delete("doc_id", doc_ids)

    def remove_sources(self, sources: Sequence[str]) -> None:
        """Drop every document of ``sources`` (deleted, or about to be replaced)."""
        self._delete("source", sources)

    def retain_sources(self, present: Iterable[str]) -> None:
        """Drop documents whose source the store no longer holds (deleted by any path)."""
        if not self.path.exists():
            return
        keep = set(present)
        gone = [r[0] for r in self._conn.execute("SELECT DISTINCT source FROM docs") if r[0] not in keep]
        self.remove_sources(gone)

    def record_duplicates(self, read: dict[str, tuple[str, list[NearDuplicate]]]) -> None:
        """Remember what each source read (source -> (hash read at, its near-duplicates)) left
        out; a copy whose original is not in the index (its commit failed) is not remembered, so
        it is read again next time."""
        if not read:
            return
        conn = self._db
        conn.execute("BEGIN")
        try:
            conn.executemany("DELETE FROM dups WHERE source = ?", [(s,) for s in read])
            conn.executemany(
                "INSERT OR REPLACE INTO dups SELECT ?, ?, ?, ?, ? WHERE EXISTS "
                "(SELECT 1 FROM docs WHERE doc_id = ?)",
                [
                    (d.doc_id, source, digest, d.duplicate_of, d.similarity, d.duplicate_of)
                    for source, (digest, dups) in read.items()
                    for d in dups
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def duplicate_sources(self) -> dict[str, str]:
        """Sources whose documents were all left out as near-duplicates: source -> hash read at."""
        if not self.path.exists():
            return {}
        return dict(
            self._conn.execute("SELECT source, MAX(source_hash) FROM dups GROUP BY source").fetchall()
        )

    def duplicates(self) -> list[NearDuplicate]:
        """Every document left out as a near-duplicate of an indexed one."""
        if not self.path.exists():
            return []
        return [
            NearDuplicate(doc_id, source, of, sim)
            for doc_id, source, of, sim in self._conn.execute(
                "SELECT doc_id, source, duplicate_of, similarity FROM dups ORDER BY source, doc_id"
            )
        ]

    def copy_to(self, path: Path) -> None:
        """A consistent copy of the index file at ``path`` (SQLite's backup: committed pages only)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(path)
        try:
            self._conn.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        if "_conn" in self.__dict__:
            self._conn.close()
            self.__dict__.pop("_conn")
            self.__dict__.pop("_db", None)
