"""The ragline error hierarchy.

Every failure ragline raises on purpose is a :class:`RaglineError`. Messages name the bad value and
say what to do about it. "No hits" is never an error: searches return an empty list.
"""

from __future__ import annotations


class RaglineError(Exception):
    """Base class of every error ragline raises on purpose."""


class ConfigError(RaglineError):
    """A setting or argument is invalid (unknown key, bad value, conflicting options)."""


class LoaderError(RaglineError):
    """A file could not be read or parsed. Carries the path and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedFileType(LoaderError):
    """No loader handles this file's extension."""


class FilterError(RaglineError):
    """A metadata filter is malformed or names a field or operator that cannot be used."""


class EmbeddingError(RaglineError):
    """The embedding model could not be loaded or failed on input."""


class DistributedError(RaglineError):
    """A distributed ingest lost a worker or node past its retries (or could not reach its cluster).
    Sources committed before it stay; the rest are untouched: re-run the ingest."""


class StoreError(RaglineError):
    """The vector/keyword store failed or holds data incompatible with the current settings."""


class CollectionNotFound(StoreError):
    """The named collection does not exist."""


class DatasetError(RaglineError):
    """An evaluation dataset is missing files or is malformed."""


class GenerationError(RaglineError):
    """The LLM could not produce an answer (after retries and every fallback model)."""


class AccessDenied(RaglineError):
    """The caller may not change or grant what it asked for (another group's document, a clearance
    or group above its own). Never raised for reads: what a caller may not read simply is not there."""


class CacheUnavailable(RaglineError):
    """The cache backend (Redis) did not answer: the cache layer counts it and goes on uncached."""
