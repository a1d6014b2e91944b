"""Distributed ingestion on Ray: the same ingest, its parsing, chunking and embedding spread over a cluster.

What runs where:

- **The driver** (the process running ``ragline ingest --ray``) walks the folders, hashes every
  file and skips unchanged ones before any remote work, deduplicates, and is the single writer of
  the store: it commits whole sources as the in-process ingest does (``Ingestor._flush``), so a
  search never sees half a source, and ``--sync`` deletes vanished files the same way.
- **Ray tasks** load and chunk the changed files (``parse_file``, up to ``4 x`` the cluster's CPUs
  in flight, results taken in file order so deduplication keeps the same first copy). Files must
  be readable at the same path on every node (a shared filesystem; one machine trivially).
  ``chunking.strategy = "semantic"`` needs the model to cut, so its chunks are cut on the driver.
- **Ray actors** (``EmbedWorker``, one per node unless ``ingest.ray_workers``) each hold one copy
  of the model, loaded on the first call. The driver sorts each step's texts by length and deals
  them out in ``embedding.batch_size`` pieces, so every model batch pads little.

The embedding cache is **shared, held by the driver**: the driver looks every text up in the data
directory's cache before anything is sent, only misses go to the actors, and their vectors are
written back by the driver. A re-run embeds nothing that any worker embedded before, and the cache
has one writer. (Per-worker caches would miss whenever a text lands on another worker than last
time, and a worker on another machine cannot open the data directory's SQLite file.)

Failures: a parse task whose process or node dies is retried (``ingest.ray_max_retries``), an
embedding actor is restarted and its calls retried as often; past that the ingest stops with a
:class:`~ragline.errors.DistributedError`. Sources committed before stay whole, the rest untouched,
and a re-run finishes the job (committed sources are skipped as unchanged). A killed driver is an
in-process crash: Ray ends the actors and tasks it owns, and the committed sources stay.

Ray is imported only when a Ray ingest starts: users of the in-process ingest never import it.
A Ray started here runs without its dashboard and usage reporting (``RAY_USAGE_STATS_ENABLED=0``).

Example::

    engine = ragline.open(".ragline")
    report = engine.ingest(["docs/"], ray="auto")    # or ray="10.0.0.5:6379"; setting ingest.ray_address
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import socket
import threading
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ragline.chunking.base import Chunker
from ragline.chunking.factory import make_chunker
from ragline.embedding.base import Embedder, Vectors
from ragline.embedding.cache import CachedEmbedder, EmbeddingCache
from ragline.embedding.factory import make_embedder, make_tokenizer
from ragline.embedding.sentence_vectors import Span, SpanEmbedder, SpanTokenEmbedder, SplitEmbedder
from ragline.embedding.tokens import TokenMatrix, token_states
from ragline.errors import ConfigError, DistributedError, EmbeddingError, LoaderError, RaglineError
from ragline.ingest.pipeline import Ingestor, IngestProgress, IngestReport, Parsed, with_access
from ragline.loaders.registry import load_file
from ragline.settings import ChunkingSettings, CleaningSettings, EmbeddingSettings, LoaderSettings, Settings
from ragline.store.base import Store
from ragline.text.tokenizer import Tokenizer
from ragline.types import Access

log = logging.getLogger(__name__)

# Parse tasks in flight per CPU of the cluster: enough to keep every node busy while the driver
# embeds and commits, few enough that parsed files do not pile up in the object store.
_TASKS_PER_CPU = 4
# Embedding actors are named ragline-embed-<run>-<i> in this Ray namespace.
ACTOR_NAMESPACE = "ragline"
ACTOR_PREFIX = "ragline-embed-"


def _ray() -> Any:
    """The ray module, imported on first use (typed Any: only this module touches its API)."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ConfigError(
            "a Ray ingest (--ray / ingest.ray_address) needs Ray: pip install 'ragline[ray]'"
        ) from None


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse a ``host:port`` cluster address nothing listens on, at once: Ray itself retries an
    unreachable head for minutes. ("auto" and ``ray://`` addresses are left to Ray.)"""
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise DistributedError(
            f"Ray address {address!r} is not 'auto', host:port or ray://host:port (e.g. 10.0.0.5:6379)"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise DistributedError(
            f"no Ray cluster answers at {address!r} ({exc.strerror or exc}); start one with "
            "`ray start --head` (it prints the address) or use 'auto'"
        ) from None


class _Session:
    """The process's Ray connection, shared by concurrent ingests (a service's job threads): the
    first one connects, the last one out shuts down a Ray connected here. Ray's driver breaks
    once the thread that connected it exits, so concurrent ingests need threads that outlive
    them (a thread pool's, as the service's job runner has)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.owned = False

    def enter(self, address: str) -> Any:
        ray = _ray()
        with self.lock:
            if not ray.is_initialized():
                _connect(ray, address)
                self.owned = True
            self.users += 1
        return ray

    def leave(self, ray: Any) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.owned:
                self.owned = False
                ray.shutdown()


_SESSION = _Session()


def _connect(ray: Any, address: str) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    check_reachable(address)
    try:
        with warnings.catch_warnings():
            # Ray starts its processes with fork+exec (subprocess): LanceDB's warning about state
            # shared across a fork does not apply to a child that execs at once.
            warnings.filterwarnings("ignore", "lancedb fork support", RuntimeWarning)
            ray.init(
                address=None if address == "auto" else address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise DistributedError(
            f"cannot start or reach Ray at {address!r}: {exc}; pass 'auto', or the address of a running "
            "cluster (`ray start --head` prints it, e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001)"
        ) from exc


@contextmanager
def ray_session(address: str) -> Iterator[Any]:
    """Ray connected to ``address`` ("auto": the cluster this machine belongs to, else a local one
    started for the ingest) for the ``with`` block. A Ray already initialised in this process (by
    the caller, or by a concurrent ingest) is used as it is, whatever ``address`` says; one
    connected here is shut down when its last ingest ends."""
    ray = _SESSION.enter(address)
    try:
        yield ray
    finally:
        _SESSION.leave(ray)


# -- on the workers ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _worker_chunker(chunking_json: str, embedding_json: str) -> Chunker | None:
    """One chunker per worker process and settings (its tokenizer loads once); None for semantic
    chunking, which needs the model and so runs on the driver."""
    chunking = ChunkingSettings.model_validate_json(chunking_json)
    if chunking.strategy == "semantic":
        return None
    return make_chunker(chunking, make_tokenizer(EmbeddingSettings.model_validate_json(embedding_json)))


def parse_file(
    path: str, loaders: LoaderSettings, chunking: str, embedding: str, access: Access | None
) -> Parsed | tuple[str, str]:
    """A Ray task: load one file and chunk its documents; ``(path, reason)`` for a bad file, as the
    in-process ingest records it. ``chunking``/``embedding`` are the settings as JSON (the
    chunker's cache key)."""
    try:
        docs = with_access(load_file(Path(path), loaders), access)
    except LoaderError as exc:
        return exc.path, exc.reason
    chunker = _worker_chunker(chunking, embedding)
    if chunker is None:
        return Parsed(docs)
    return Parsed(docs, [chunker.chunk(d) for d in docs])


class EmbedWorker:
    """What one Ray embedding actor holds: the model, loaded on its first call.

    ``model_id`` is the driver's: a worker whose copy of the model differs refuses to embed
    instead of mixing vectors of two models in one collection.
    """

    def __init__(self, settings: EmbeddingSettings, cache_dir: str, model_id: str) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.model_id = model_id
        self.texts = 0
        self._embedder: Embedder | None = None

    def _model(self) -> Embedder:
        if self._embedder is None:
            embedder = make_embedder(self.settings, Path(self.cache_dir))
            if embedder.model_id != self.model_id:
                raise EmbeddingError(
                    f"the model on this Ray worker is {embedder.model_id}, the collection's is "
                    f"{self.model_id}; install the same model on every node"
                )
            self._embedder = embedder
        return self._embedder

    def pid(self) -> int:
        """The worker's process id (tests kill it)."""
        return os.getpid()

    def embedded(self) -> int:
        """Texts this worker (this incarnation of it) has run through the model."""
        return self.texts

    def embed_documents(self, texts: list[str]) -> Vectors:
        self.texts += len(texts)
        return self._model().embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self._model().embed_query(text)

    def embed_with_tokens(
        self, texts: list[str], *, content_only: bool = False
    ) -> tuple[Vectors, list[TokenMatrix]]:
        self.texts += len(texts)
        return token_states(self._model(), texts, content_only=content_only)

    def embed_spans(
        self, texts: list[str], heads: list[int], spans: list[list[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        model = self._model()
        if not isinstance(model, SpanEmbedder):
            raise EmbeddingError(f"the embedder {model.model_id} cannot pool sentence spans")
        self.texts += len(texts)
        return model.embed_spans(texts, heads, spans)

    def embed_spans_with_tokens(
        self, texts: list[str], heads: list[int], spans: list[list[Span]], *, content_only: bool = False
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix]]:
        model = self._model()
        if not isinstance(model, SpanTokenEmbedder):
            raise EmbeddingError(f"the embedder {model.model_id} cannot pool spans in its token run")
        self.texts += len(texts)
        return model.embed_spans_with_tokens(texts, heads, spans, content_only=content_only)

    def embed_split(
        self,
        texts: list[str],
        heads: list[int],
        spans: list[list[Span]],
        *,
        layers: int,
        with_tokens: bool = False,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix]]:
        model = self._model()
        if not isinstance(model, SplitEmbedder):
            raise EmbeddingError(f"the embedder {model.model_id} cannot run its last layers per sentence")
        self.texts += len(texts)
        vectors, sentences, tokens = model.embed_split(
            texts, heads, spans, layers=layers, with_tokens=with_tokens, content_only=content_only
        )
        return vectors, sentences, tokens if tokens is not None else []


# -- on the driver -------------------------------------------------------------------------------


def _lost(exc: Exception, what: str, retries: int) -> RaglineError:
    """A Ray failure as ragline's error: the worker's own RaglineError when it raised one."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, RaglineError):
        return cause
    return DistributedError(
        f"{what} was lost past {retries} retries ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
        "sources committed so far are whole, the rest untouched: re-run the ingest to finish "
        "(raise ingest.ray_max_retries if nodes come and go)"
    )


class RayEmbedder:
    """An :class:`~ragline.embedding.base.Embedder` whose model runs on Ray actors (one model copy
    each, created on the first call). Each call sorts its texts by length, cuts them into
    ``embedding.batch_size`` pieces and deals the pieces round-robin to the actors, which run in
    parallel; the result is in the caller's order.
    """

    def __init__(
        self,
        ray: Any,
        settings: EmbeddingSettings,
        cache_dir: Path,
        model_id: str,
        dimension: int,
        *,
        workers: int | None = None,
        max_restarts: int = 3,
    ) -> None:
        self.ray = ray
        self.settings = settings
        self.cache_dir = cache_dir
        self._model_id = model_id
        self._dimension = dimension
        self.workers = workers
        self.max_restarts = max_restarts
        self.actors: list[Any] = []

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    def pool(self) -> list[Any]:
        """The embedding actors, started on first use (one per alive node unless ``workers``)."""
        if not self.actors:
            n = self.workers or max(1, sum(1 for node in self.ray.nodes() if node.get("Alive")))
            actor = self.ray.remote(EmbedWorker)
            run = uuid.uuid4().hex[:8]
            for i in range(n):
                self.actors.append(
                    actor.options(
                        # Named, so an operator (or a test) finds them: ray.util.list_named_actors.
                        name=f"{ACTOR_PREFIX}{run}-{i}",
                        namespace=ACTOR_NAMESPACE,
                        max_restarts=self.max_restarts,
                        max_task_retries=self.max_restarts,
                        # One model per node while nodes last: SPREAD places them apart.
                        scheduling_strategy="SPREAD",
                    ).remote(self.settings, str(self.cache_dir), self._model_id)
                )
            log.info("started %d Ray embedding workers", n)
        return self.actors

    def close(self) -> None:
        """End the actors (their models' memory); a later call starts new ones."""
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []

    def _scatter(
        self, method: str, texts: Sequence[str], *per_text: Sequence[Any], **options: Any
    ) -> list[Any]:
        """Call ``method`` on the actors over length-sorted pieces of ``texts`` (and the parallel
        ``per_text`` lists, and the same ``options``); one ``(indices, result)`` per call, indices
        into ``texts``."""
        actors = self.pool()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.settings.batch_size
        pieces = [order[i : i + size] for i in range(0, len(order), size)]
        # Pieces alternate between actors, so each gets short and long texts alike; one call per
        # actor keeps the round trips to one per step.
        shares = [[j for p in pieces[k :: len(actors)] for j in p] for k in range(len(actors))]
        calls = [
            (
                share,
                getattr(a, method).remote(*[[x[j] for j in share] for x in (texts, *per_text)], **options),
            )
            for a, share in zip(actors, shares, strict=True)
            if share
        ]
        try:
            return [(share, self.ray.get(ref)) for share, ref in calls]
        except self.ray.exceptions.RayError as exc:
            raise _lost(exc, "an embedding worker", self.max_restarts) from exc

    def _gather(
        self, method: str, texts: Sequence[str], *per_text: Sequence[Any], ragged: int, **options: Any
    ) -> tuple[Vectors, list[list[Vectors]]]:
        """:meth:`_scatter` for a ``method`` that returns the texts' vectors and then ``ragged``
        lists of one matrix per text (sentence vectors, token states), put back in ``texts``'
        order."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        empty = np.zeros((0, self._dimension), np.float32)
        lists: list[list[Vectors]] = [[empty] * len(texts) for _ in range(ragged)]
        for share, (vectors, *per) in self._scatter(method, texts, *per_text, **options):
            out[share] = vectors
            for k, matrices in enumerate(per):
                for j, m in zip(share, matrices, strict=True):
                    lists[k][j] = m
        return out, lists

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for share, vectors in self._scatter("embed_documents", texts):
            out[share] = vectors
        return out

    def embed_query(self, text: str) -> Vectors:
        try:
            result: Vectors = self.ray.get(self.pool()[0].embed_query.remote(text))
        except self.ray.exceptions.RayError as exc:
            raise _lost(exc, "an embedding worker", self.max_restarts) from exc
        return result


class RayTokenEmbedder(RayEmbedder):
    """A :class:`RayEmbedder` over a model with token states (ONNX): token states and sentence
    spans come from the same run, as in-process."""

    def embed_with_tokens(
        self, texts: Sequence[str], *, content_only: bool = False
    ) -> tuple[Vectors, list[TokenMatrix]]:
        out, (tokens,) = self._gather("embed_with_tokens", texts, ragged=1, content_only=content_only)
        return out, tokens

    def embed_spans(
        self, texts: Sequence[str], heads: Sequence[int], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        out, (sentences,) = self._gather("embed_spans", texts, heads, spans, ragged=1)
        return out, sentences

    def embed_spans_with_tokens(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix]]:
        """Chunk vectors, late sentence vectors and token states from one run on the actors (the
        ``late`` and ``mapped`` forms with token states: one model pass, as in-process)."""
        out, (sentences, tokens) = self._gather(
            "embed_spans_with_tokens", texts, heads, spans, ragged=2, content_only=content_only
        )
        return out, sentences, tokens

    def embed_split(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        layers: int,
        with_tokens: bool = False,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix] | None]:
        """Chunk vectors, ``split`` sentence vectors and (``with_tokens``) token states from one
        run on the actors, as in-process."""
        out, (sentences, tokens) = self._gather(
            "embed_split",
            texts,
            heads,
            spans,
            ragged=2,
            layers=layers,
            with_tokens=with_tokens,
            content_only=content_only,
        )
        return out, sentences, tokens if with_tokens else None


class RayIngestor(Ingestor):
    """The :class:`~ragline.ingest.pipeline.Ingestor` with files parsed and chunked by Ray tasks
    (its embedder is expected to be a :class:`RayEmbedder` behind the driver's cache)."""

    def __init__(
        self,
        ray: Any,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        chunker: Chunker,
        tokenizer: Tokenizer | None = None,
        cleaning: CleaningSettings | None = None,
    ) -> None:
        super().__init__(settings, store, embedder, chunker, tokenizer, cleaning)
        self.ray = ray
        self.tasks = 0  # parse tasks submitted (a re-run over unchanged files submits none)

    def _parse(
        self, files: Iterator[tuple[Path, str]], access: Access | None
    ) -> Iterator[tuple[Path, str, Parsed | LoaderError]]:
        ray = self.ray
        retries = self.settings.ingest.ray_max_retries
        task = ray.remote(parse_file).options(max_retries=retries)
        loaders = ray.put(self.settings.loaders)
        chunking = self.settings.chunking.model_dump_json()
        embedding = self.settings.embedding.model_dump_json()
        window = max(2, int(ray.cluster_resources().get("CPU", 1) * _TASKS_PER_CPU))
        in_flight: deque[tuple[Path, str, Any]] = deque()
        for item in _prefetch(files, window, in_flight.__len__):
            if item is not None:
                path, digest = item
                self.tasks += 1
                ref = task.remote(str(path), loaders, chunking, embedding, access)
                in_flight.append((path, digest, ref))
                continue
            path, digest, ref = in_flight.popleft()
            try:
                got = ray.get(ref)
            except ray.exceptions.RayError as exc:
                raise _lost(exc, f"the worker parsing {path}", retries) from exc
            yield path, digest, got if isinstance(got, Parsed) else LoaderError(*got)


def _prefetch(
    files: Iterator[tuple[Path, str]], window: int, in_flight: Callable[[], int]
) -> Iterator[tuple[Path, str] | None]:
    """Files to submit, and None whenever the oldest submitted one should be taken: the window
    is kept full, then drained in order once ``files`` runs out."""
    for item in files:
        yield item
        if in_flight() >= window:
            yield None
    while in_flight():
        yield None


def ray_ingest(
    address: str,
    settings: Settings,
    store: Store,
    embedder: Embedder,
    model_settings: EmbeddingSettings,
    cache: EmbeddingCache,
    chunker: Chunker,
    tokenizer: Tokenizer | None,
    paths: Sequence[Path],
    *,
    progress: Callable[[IngestProgress], None] | None = None,
    cleaning: CleaningSettings | None = None,
    **run: Any,
) -> IngestReport:
    """One ingest run on Ray (``Engine.ingest(..., ray=address)`` calls it under the collection's
    write lock). ``embedder`` is the collection's (its model id and dimension; it is not run
    here), ``model_settings`` how the workers build that model, ``cache`` the driver's embedding
    cache, ``cleaning`` the collection's PII and near-duplicate settings (applied on this process,
    before embedding). ``run`` takes :meth:`Ingestor.run`'s keyword arguments.
    """
    with ray_session(address) as ray:
        cls = RayTokenEmbedder if model_settings.backend == "onnx" else RayEmbedder
        remote = cls(
            ray,
            model_settings,
            settings.cache_dir,
            embedder.model_id,
            embedder.dimension,
            workers=settings.ingest.ray_workers,
            max_restarts=settings.ingest.ray_max_retries,
        )
        counted = CachedEmbedder(remote, cache)

        def report_progress(p: IngestProgress) -> None:
            p.workers = len(remote.actors)
            if progress is not None:
                progress(p)

        try:
            report = RayIngestor(ray, settings, store, counted, chunker, tokenizer, cleaning).run(
                paths, progress=report_progress, **run
            )
        finally:
            remote.close()
    report.chunks_embedded = counted.embedded
    return report
